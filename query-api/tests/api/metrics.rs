//! `/metrics`: open like the probes, in the Prometheus text format, with the build info and
//! the HTTP series of every route, labelled by route template, never by order id.

use crate::helpers::*;
use orderflow_testkit::prometheus::{Exposition, scrape};
use reqwest::StatusCode;
use uuid::Uuid;

const REQUESTS: &str = "orderflow_http_requests_total";
const DURATION_COUNT: &str = "orderflow_http_request_duration_seconds_count";

/// `/metrics` as Prometheus sees it: no token.
async fn metrics(app: &TestApp) -> Exposition {
    scrape(&reqwest::Client::new(), &app.address).await
}

#[tokio::test]
async fn metrics_needs_no_token_and_carries_the_build_info() {
    let app = spawn_app().await;
    let exposition = metrics(&app).await;
    assert_eq!(exposition.type_of("orderflow_build_info"), Some("gauge"));
    let info = exposition.find("orderflow_build_info", &[("service", "query-api")]);
    let [info] = info.as_slice() else {
        panic!("one build info of the query API: {info:?}");
    };
    assert_eq!(info.value, 1.0);
    assert_eq!(info.label("version"), Some(env!("CARGO_PKG_VERSION")));
    assert!(!info.label("commit").unwrap_or("").is_empty(), "{info:?}");
}

#[tokio::test]
async fn reads_are_counted_under_their_route_templates_never_by_order_id() {
    let app = spawn_app().await;
    let id = format!("o-{}", Uuid::new_v4().simple());
    insert(
        &app.db,
        &Fixture::placed(&id, "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;
    assert_eq!(
        app.get(&format!("/orders/{id}")).await.status(),
        StatusCode::OK
    );
    let history = app.get(&format!("/orders/{id}/history")).await;
    assert_eq!(history.status(), StatusCode::OK);
    let missing = app.get(&format!("/orders/{id}-missing")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let exposition = metrics(&app).await;
    assert_eq!(exposition.type_of(REQUESTS), Some("counter"));
    let order = [("method", "GET"), ("route", "/orders/{id}")];
    let found = exposition.value(REQUESTS, &[order[0], order[1], ("status", "200")]);
    assert!(found >= Some(1.0), "GET /orders/{{id}} 200: {found:?}");
    let not_found = exposition.value(REQUESTS, &[order[0], order[1], ("status", "404")]);
    assert!(
        not_found >= Some(1.0),
        "GET /orders/{{id}} 404: {not_found:?}"
    );
    let history = [("route", "/orders/{id}/history"), ("status", "200")];
    assert!(exposition.value(REQUESTS, &history) >= Some(1.0));
    let timed = exposition.value(DURATION_COUNT, &order);
    assert!(timed >= Some(2.0), "the reads' durations: {timed:?}");
    let with_id: Vec<_> = (exposition.samples.iter())
        .filter(|s| s.labels.values().any(|v| v.contains(&id)))
        .collect();
    assert!(with_id.is_empty(), "an order id in a label: {with_id:?}");
}
