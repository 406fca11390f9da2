//! Schemathesis against the APIs of the real stack (issues 17 and 20): every operation of each
//! served OpenAPI document, with positive and negative data and the documents' links
//! (stateful), must give no 5xx, conform to the document (status, content type, schema,
//! problem+json on errors) and not hang.
//!
//! The number of examples per operation is bounded so CI stays within its time:
//! `ORDERFLOW_SCHEMATHESIS_EXAMPLES` (default 25). A longer run is the same test with a
//! larger number (README, "API documentation").
//!
//! What a schema-valid request may be refused for, which no schema can state (a cross-field
//! rule, a business state), is listed per API in `command-api.toml`, `query-api.toml` and
//! `fulfilment-api.toml` beside this file. No check and no operation is left out.
//!
//! A test binary of its own, like the tracing test: one stack, probed for a while.

// The e2e suite's stack; this binary uses only part of it.
#[allow(dead_code)]
#[path = "../e2e/stack.rs"]
mod stack;

use orderflow_testkit::TestIssuer;
use stack::Stack;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_in_any_api() {
    let Some(binary) = orderflow_testkit::installed_tool("ORDERFLOW_SCHEMATHESIS") else {
        eprintln!("SKIPPED: ORDERFLOW_SCHEMATHESIS is not set (scripts/test.sh sets it)");
        return;
    };
    let examples = std::env::var("ORDERFLOW_SCHEMATHESIS_EXAMPLES").unwrap_or("25".into());
    let stack = Stack::start().await;
    let fulfilment = stack.start_fulfilment().await;
    let token = TestIssuer::shared().operator();
    for (api, base, config) in [
        ("command API", stack.commands_url(), "command-api.toml"),
        ("query API", stack.queries_url(), "query-api.toml"),
        ("fulfilment API", fulfilment.url(), "fulfilment-api.toml"),
    ] {
        let config = format!("{}/tests/conformance/{config}", env!("CARGO_MANIFEST_DIR"));
        let run = tokio::process::Command::new(&binary)
            .args(["--config-file", &config])
            .args(["run", &format!("{base}/openapi.json"), "--url", base])
            .args(["--checks", "all", "--max-examples", &examples])
            .args(["--seed", "17"])
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
        // A run that reached no operation would pass too.
        let (selected, tested) = (summary(&report, "Selected:"), summary(&report, "Tested:"));
        assert!(
            selected.is_some_and(|s| s.ends_with(&format!("/{}", tested.unwrap_or_default()))),
            "schemathesis on the {api} did not test every operation:\n{report}"
        );
        eprintln!(
            "schemathesis on the {api}: {} test cases; {}",
            summary_after(&report, "Test cases:").unwrap_or("?"),
            report.lines().last().unwrap_or("")
        );
    }
}

/// The value after `label` in Schemathesis' summary (`Selected: 12/12`, `Tested: 12`).
fn summary<'a>(report: &'a str, label: &str) -> Option<&'a str> {
    report
        .lines()
        .find_map(|line| line.trim().strip_prefix(label))
        .map(str::trim)
}

/// The line after `label` in Schemathesis' summary (`Test cases:` then `344 generated, ...`).
fn summary_after<'a>(report: &'a str, label: &str) -> Option<&'a str> {
    let mut lines = report.lines().map(str::trim);
    lines.find(|line| *line == label)?;
    lines.next()
}
