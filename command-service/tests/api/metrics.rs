//! `/metrics`: open like the probes, in the Prometheus text format, with the build info and
//! the HTTP series of every route, labelled by route template, never by order id.

use crate::helpers::*;
use orderflow_testkit::prometheus::{Exposition, scrape};
use reqwest::StatusCode;

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
    let info = exposition.find("orderflow_build_info", &[("service", "command-service")]);
    let [info] = info.as_slice() else {
        panic!("one build info of the command service: {info:?}");
    };
    assert_eq!(info.value, 1.0);
    assert_eq!(info.label("version"), Some(env!("CARGO_PKG_VERSION")));
    assert!(!info.label("commit").unwrap_or("").is_empty(), "{info:?}");
}

#[tokio::test]
async fn a_command_is_counted_under_its_route_template_with_method_and_status() {
    let app = spawn_app().await;
    let id = app.place_ok().await;
    let (path, body) = step_request("pack");
    let packed = app.post(&format!("/orders/{id}/{path}"), &body, &[]).await;
    assert_eq!(packed.status(), StatusCode::OK);

    let exposition = metrics(&app).await;
    assert_eq!(exposition.type_of(REQUESTS), Some("counter"));
    let pack = [("method", "POST"), ("route", "/orders/{id}/pack")];
    let counted = exposition.value(REQUESTS, &[pack[0], pack[1], ("status", "200")]);
    assert!(
        counted >= Some(1.0),
        "POST /orders/{{id}}/pack 200: {counted:?}"
    );
    let placed = [("method", "POST"), ("route", "/orders"), ("status", "201")];
    assert!(exposition.value(REQUESTS, &placed) >= Some(1.0));
    let timed = exposition.value(DURATION_COUNT, &pack);
    assert!(timed >= Some(1.0), "the pack's duration: {timed:?}");
    let with_id: Vec<_> = (exposition.samples.iter())
        .filter(|s| s.labels.values().any(|v| v.contains(&id)))
        .collect();
    assert!(with_id.is_empty(), "an order id in a label: {with_id:?}");
}

#[tokio::test]
async fn refused_and_unmatched_requests_are_counted_too() {
    let app = spawn_app().await;
    let anonymous = reqwest::Client::new();
    let refused = anonymous.post(app.url("/orders")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let nowhere = app
        .client
        .get(app.url("/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status(), StatusCode::NOT_FOUND);

    let exposition = metrics(&app).await;
    let unauthorized = [("method", "POST"), ("route", "/orders"), ("status", "401")];
    assert!(exposition.value(REQUESTS, &unauthorized) >= Some(1.0));
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert!(exposition.value(REQUESTS, &unmatched) >= Some(1.0));
}
