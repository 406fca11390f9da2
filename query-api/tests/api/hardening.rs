//! Overload against the real query API (issue 15): past its concurrency limit the API
//! sheds requests at once with 503 and `Retry-After` instead of queueing them, and its
//! probes answer all the while.

use crate::helpers::{TestApp, spawn_tuned};
use orderflow_platform::HttpSettings;
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Requests served at once in these tests.
const LIMIT: u32 = 4;

/// A query API with the limits of `http`, over a fresh read model, ready.
async fn spawn_limited(http: HttpSettings) -> TestApp {
    spawn_tuned(|settings| settings.http = http).await
}

#[tokio::test]
async fn past_the_limit_requests_are_shed_at_once_and_the_probes_still_answer() {
    let app = spawn_limited(HttpSettings {
        max_concurrent_requests: LIMIT,
        ..HttpSettings::default()
    })
    .await;
    let (base, client) = (app.address.clone(), app.client.clone());
    // Each waits 3 s for a version that never comes.
    let slow = format!(
        "{base}/orders/{}?min_version=99&wait_ms=3000",
        Uuid::new_v4()
    );
    let requests = (0..200).map(|_| {
        let (client, slow) = (client.clone(), slow.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let response = client.get(&slow).send().await.unwrap();
            let retry_after = response.headers().get("retry-after").cloned();
            (response.status(), retry_after, started.elapsed())
        })
    });
    let requests: Vec<_> = requests.collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for probe in ["/healthz", "/readyz"] {
        let during = client.get(format!("{base}{probe}")).send().await.unwrap();
        assert_eq!(during.status(), StatusCode::OK, "{probe} under overload");
    }
    let (mut shed, mut served) = (0, 0);
    for request in requests {
        let (status, retry_after, took) = request.await.unwrap();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            shed += 1;
            assert_eq!(retry_after.expect("Retry-After"), "1");
            assert!(took < Duration::from_secs(1), "shed after {took:?}");
        } else {
            served += 1;
            // The wait ran its course: the version never came.
            assert_eq!(status, StatusCode::CONFLICT);
        }
    }
    assert_eq!(served, LIMIT, "{shed} shed");
    for probe in ["/healthz", "/readyz"] {
        let after = client.get(format!("{base}{probe}")).send().await.unwrap();
        assert_eq!(after.status(), StatusCode::OK, "{probe} after the overload");
    }
}

#[tokio::test]
async fn a_request_past_its_deadline_answers_503_with_retry_after() {
    let app = spawn_limited(HttpSettings {
        request_timeout_ms: 1_000,
        ..HttpSettings::default()
    })
    .await;
    let slow = app.url(&format!(
        "/orders/{}?min_version=99&wait_ms=5000",
        Uuid::new_v4()
    ));
    let started = Instant::now();
    let response = app.client.get(slow).send().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/timeout");
}
