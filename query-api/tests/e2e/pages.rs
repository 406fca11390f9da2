//! The tracking page and the dashboard in a real browser (issue 18): headless Chromium,
//! driven by Playwright (`tests/browser/pages.mjs`, through `playwright-core` and Debian's
//! `chromium`), watches an order move placed → packed → shipped → location → delivered
//! while commands go through the command service, and each state shows without a reload;
//! then the dashboard counts, lists and sums a new order live. The script takes the
//! screenshots the README shows (`ORDERFLOW_UPDATE_SCREENSHOTS=1` writes them to `docs/`).

use crate::stack::Stack;
use orderflow_testkit::TestIssuer;
use std::path::PathBuf;
use std::time::Duration;

fn screenshots() -> PathBuf {
    let dir = if std::env::var_os("ORDERFLOW_UPDATE_SCREENSHOTS").is_some() {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/screenshots"))
    } else {
        std::env::temp_dir().join(format!("orderflow-pages-{}", std::process::id()))
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tracking_page_and_the_dashboard_follow_orders_live_in_a_browser() {
    let Some(chromium) = orderflow_testkit::installed_tool("ORDERFLOW_CHROMIUM") else {
        eprintln!("SKIPPED: ORDERFLOW_CHROMIUM is not set (scripts/test.sh sets it)");
        return;
    };
    let stack = Stack::start().await;
    let issuer = TestIssuer::shared();
    let shots = screenshots();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/pages.mjs");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .env("QUERY_URL", stack.queries_url())
        .env("COMMAND_URL", stack.commands_url())
        .env("CUSTOMER_ID", "alice")
        .env("CUSTOMER_TOKEN", issuer.customer("alice"))
        .env("OPERATOR_TOKEN", issuer.operator())
        .env("CHROMIUM", chromium)
        .env("SCREENSHOTS", &shots)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser run did not finish in 3 min")
        .expect("node runs");
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the pages in Chromium:\n{report}");
    for shot in ["tracking-page.png", "dashboard.png"] {
        let png = std::fs::read(shots.join(shot)).expect(shot);
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "{shot} is a screenshot"
        );
    }
}
