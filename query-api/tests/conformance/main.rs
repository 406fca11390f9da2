//! Schemathesis against both APIs of the real stack (issue 17): every operation of each
//! served OpenAPI document, with positive and negative data and the documents' links
//! (stateful), must give no 5xx, conform to the document (status, content type, schema,
//! problem+json on errors) and not hang.
//!
//! The number of examples per operation is bounded so CI stays within its time:
//! `ORDERFLOW_SCHEMATHESIS_EXAMPLES` (default 10). A longer run is the same test with a
//! larger number (README, "API documentation").
//!
//! A test binary of its own, like the tracing test: one stack, probed for a while.

// The e2e suite's stack; this binary uses only part of it.
#[allow(dead_code)]
#[path = "../e2e/stack.rs"]
mod stack;

use orderflow_testkit::TestIssuer;
use stack::Stack;
use std::time::Duration;

/// Schemathesis from `ORDERFLOW_SCHEMATHESIS` (`scripts/test.sh` installs it), or `None`
/// outside CI, where the test then says it skipped.
fn schemathesis() -> Option<String> {
    match std::env::var("ORDERFLOW_SCHEMATHESIS") {
        Ok(path) => Some(path),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("ORDERFLOW_SCHEMATHESIS is not set: run the suite with scripts/test.sh")
        }
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "issue 17 in progress: Schemathesis still finds failures (see the issue note); \
            run with ORDERFLOW_SCHEMATHESIS=<path> cargo test --test conformance -- --ignored"]
async fn schemathesis_finds_no_failure_in_either_api() {
    let Some(binary) = schemathesis() else {
        eprintln!("SKIPPED: ORDERFLOW_SCHEMATHESIS is not set (scripts/test.sh sets it)");
        return;
    };
    let examples = std::env::var("ORDERFLOW_SCHEMATHESIS_EXAMPLES").unwrap_or("10".into());
    let stack = Stack::start().await;
    let token = TestIssuer::shared().operator();
    for (api, base) in [
        ("command API", stack.commands_url()),
        ("query API", stack.queries_url()),
    ] {
        let run = tokio::process::Command::new(&binary)
            .args(["run", &format!("{base}/openapi.json"), "--url", base])
            .args(["--checks", "all", "--max-examples", &examples])
            .args(["--request-timeout", "15", "--seed", "17"])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .env("NO_COLOR", "1")
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(600), run)
            .await
            .unwrap_or_else(|_| panic!("schemathesis did not finish on the {api} in 10 min"))
            .expect("schemathesis runs");
        let report = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "schemathesis on the {api}:\n{report}"
        );
        eprintln!(
            "schemathesis on the {api}: {}",
            report.lines().last().unwrap_or("")
        );
    }
}
