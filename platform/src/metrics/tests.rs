use super::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use std::time::Instant;
use tower::ServiceExt;

fn enabled() -> MetricsSettings {
    MetricsSettings::default()
}

/// A router like the services': a route with an id, a fallback, `/metrics`, the layer.
fn app() -> Router {
    Router::new()
        .route("/things/{id}", get(|| async { "thing" }))
        .merge(routes())
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(HttpMetricsLayer::new())
}

async fn call(app: &Router, method: &str, uri: &str) -> StatusCode {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

/// The sample lines of the exposition that start with `prefix`.
fn lines(prefix: &str) -> Vec<String> {
    let text = install("test", &enabled()).unwrap().render();
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_second_install_gets_the_same_recorder_and_adds_its_build_info() {
    install("first", &enabled()).unwrap();
    install("second", &enabled()).unwrap();
    let info = lines("orderflow_build_info{");
    for service in ["first", "second"] {
        let line = info
            .iter()
            .find(|l| l.contains(&format!("service=\"{service}\"")))
            .unwrap_or_else(|| panic!("no build info of {service}: {info:?}"));
        assert!(line.contains(&format!("commit=\"{COMMIT}\"")), "{line}");
        assert!(line.ends_with(" 1"), "{line}");
    }
}

#[test]
fn disabled_metrics_install_nothing() {
    let disabled = MetricsSettings {
        mode: MetricsMode::Disabled,
    };
    assert!(install("off", &disabled).is_none());
}

#[tokio::test]
async fn requests_are_counted_by_route_template_never_by_raw_path() {
    install("test", &enabled()).unwrap();
    let app = app();
    assert_eq!(call(&app, "GET", "/things/a-42").await, 200);
    assert_eq!(call(&app, "GET", "/things/b-43").await, 200);
    assert_eq!(call(&app, "POST", "/things/a-42").await, 405);
    assert_eq!(call(&app, "GET", "/no/such/thing").await, 404);
    assert_eq!(call(&app, "BREW", "/things/a-42").await, 405);

    let requests = lines("orderflow_http_requests_total{");
    let has = |expected: &str| requests.iter().any(|l| l.contains(expected));
    assert!(
        has(r#"method="GET",route="/things/{id}",status="200"} "#),
        "{requests:?}"
    );
    assert!(
        has(r#"method="POST",route="/things/{id}",status="405"}"#),
        "{requests:?}"
    );
    assert!(
        has(r#"method="GET",route="unmatched",status="404"}"#),
        "{requests:?}"
    );
    assert!(
        has(r#"method="other",route="/things/{id}",status="405"}"#),
        "{requests:?}"
    );
    assert!(!requests.iter().any(|l| l.contains("a-42")), "{requests:?}");
    let buckets = lines("orderflow_http_request_duration_seconds_bucket{");
    assert!(
        buckets
            .iter()
            .any(|l| l.contains(r#"route="/things/{id}",le="0.0005""#)),
        "{buckets:?}"
    );
}

#[tokio::test]
async fn metrics_answers_in_the_prometheus_text_format() {
    install("test", &enabled()).unwrap();
    let response = app()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[header::CONTENT_TYPE], TEXT_FORMAT);
}

#[tokio::test]
async fn a_request_shed_past_the_concurrency_limit_is_counted_by_reason() {
    install("test", &enabled()).unwrap();
    let slow = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }),
    );
    let settings = crate::HttpSettings {
        max_concurrent_requests: 1,
        ..crate::HttpSettings::default()
    };
    let guard = crate::http::Guard::new(slow, &settings);
    let get_slow = || Request::get("/slow").body(Body::empty()).unwrap();
    let first = tokio::spawn(guard.clone().oneshot(get_slow()));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let shed = guard.clone().oneshot(get_slow()).await.unwrap();
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    first.abort();

    let shed = lines(r#"orderflow_http_requests_shed_total{reason="concurrency"} "#);
    assert_eq!(shed.len(), 1, "{shed:?}");
}

/// Cost of the layer per request, on a router that does nothing else:
/// `cargo test -p orderflow-platform --release metrics::tests::cost -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn cost_of_the_layer_per_request() {
    install("bench", &enabled()).unwrap();
    let bare = Router::new().route("/things/{id}", get(|| async { "thing" }));
    let measured = bare.clone().layer(HttpMetricsLayer::new());
    const N: u32 = 400_000;
    for round in 0..3 {
        for (name, app) in [("without", &bare), ("with", &measured)] {
            let started = Instant::now();
            for _ in 0..N {
                call(app, "POST", "/things/7f9c1d").await;
            }
            let each = started.elapsed() / N;
            println!("round {round}: {name} the layer: {each:?} per request");
        }
    }
}
