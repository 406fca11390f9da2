//! `/metrics` next to the probes: open, in the Prometheus text format, with the build info
//! and the HTTP series of the projector's few routes.

use crate::helpers::*;
use orderflow_testkit::prometheus::{Exposition, scrape};
use reqwest::StatusCode;

const REQUESTS: &str = "orderflow_http_requests_total";

async fn metrics(projector: &TestProjector) -> Exposition {
    scrape(&reqwest::Client::new(), &projector.address).await
}

/// The sum over the series of `name` with `labels` (a probe may have answered 200 and 503).
fn total(exposition: &Exposition, name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition.find(name, labels).iter().map(|s| s.value).sum()
}

#[tokio::test]
async fn metrics_carries_the_build_info_and_counts_the_probes_by_route() {
    let stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    projector.wait_ready().await;
    let nowhere = reqwest::get(format!("{}/no/such/thing", projector.address)).await;
    assert_eq!(nowhere.unwrap().status(), StatusCode::NOT_FOUND);

    let exposition = metrics(&projector).await;
    let info = exposition.find("orderflow_build_info", &[("service", "projector")]);
    let [info] = info.as_slice() else {
        panic!("one build info of the projector: {info:?}");
    };
    assert_eq!(info.value, 1.0);
    assert!(!info.label("commit").unwrap_or("").is_empty(), "{info:?}");
    assert_eq!(exposition.type_of(REQUESTS), Some("counter"));
    let ready = [("method", "GET"), ("route", "/readyz"), ("status", "200")];
    assert!(exposition.value(REQUESTS, &ready) >= Some(1.0));
    let probes = total(&exposition, REQUESTS, &[("route", "/readyz")]);
    let timed = total(
        &exposition,
        "orderflow_http_request_duration_seconds_count",
        &[("route", "/readyz")],
    );
    assert!(timed >= probes, "each probe timed: {timed} of {probes}");
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert!(exposition.value(REQUESTS, &unmatched) >= Some(1.0));
    projector.shutdown().await;
}
