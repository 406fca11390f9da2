//! The query API's own series on `/metrics`: the order cache, read-your-writes waits, the
//! Postgres pool and the dependencies.
//!
//! Tests run in parallel in one process and share its recorder, so each assertion is on
//! how much a series moved at least, never on its exact value.

use crate::helpers::*;
use orderflow_testkit::prometheus;
use reqwest::StatusCode;
use std::time::Duration;

fn result(result: &str) -> [(&'static str, &str); 1] {
    [("result", result)]
}

#[tokio::test]
async fn a_cache_miss_then_a_hit_are_counted() {
    let app = spawn_app().await;
    insert(
        &app.db,
        &Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;
    let before = app.scrape().await;

    assert_eq!(app.get("/orders/o-1").await.headers()["x-cache"], "miss");
    assert_eq!(app.get("/orders/o-1").await.headers()["x-cache"], "hit");

    let after = app.scrape().await;
    for kind in ["miss", "hit"] {
        let name = "orderflow_query_cache_requests_total";
        let moved = after.or_zero(name, &result(kind)) - before.or_zero(name, &result(kind));
        assert!(moved >= 1.0, "{kind} moved by {moved}");
    }
}

#[tokio::test]
async fn a_cache_that_cannot_answer_counts_as_an_error() {
    let app = spawn_with_redis("redis://127.0.0.1:1").await;
    insert(
        &app.db,
        &Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;
    let name = "orderflow_query_cache_requests_total";
    let before = app.scrape().await.or_zero(name, &result("error"));

    expect_json(app.get("/orders/o-1").await, StatusCode::OK).await;

    assert!(app.scrape().await.or_zero(name, &result("error")) >= before + 1.0);
}

#[tokio::test]
async fn waits_are_counted_by_how_they_ended_with_their_duration() {
    let app = spawn_app().await;
    insert(
        &app.db,
        &Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;
    let before = app.scrape().await;

    let db = app.db.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        advance(&db, "o-1", 2).await;
    });
    let reached = app.get("/orders/o-1?min_version=2&wait_ms=5000").await;
    expect_json(reached, StatusCode::OK).await;
    writer.await.unwrap();
    let late = app.get("/orders/o-1?min_version=9&wait_ms=100").await;
    expect_json(late, StatusCode::CONFLICT).await;

    let after = app.scrape().await;
    let moved =
        |name, labels: &[(&str, &str)]| after.or_zero(name, labels) - before.or_zero(name, labels);
    assert!(moved("orderflow_query_waits_total", &result("reached")) >= 1.0);
    assert!(moved("orderflow_query_waits_total", &result("timeout")) >= 1.0);
    assert!(moved("orderflow_query_wait_duration_seconds_count", &[]) >= 2.0);
    // The wait that reached its version took at least until the writer's commit.
    assert!(moved("orderflow_query_wait_duration_seconds_sum", &[]) >= 0.25);
}

#[tokio::test]
async fn the_pool_and_the_dependencies_are_reported() {
    let app = spawn_app().await;
    expect_json(app.get("/readyz").await, StatusCode::OK).await;
    app.eventually("orderflow_query_db_pool_max_connections", &[], |max| {
        max >= 1.0
    })
    .await;

    let scrape = app.scrape().await;
    for state in ["idle", "in_use"] {
        let labels = [("state", state)];
        let connections = scrape.value("orderflow_query_db_pool_connections", &labels);
        assert!(
            connections.is_some_and(|n| n >= 0.0),
            "{state}: {connections:?}"
        );
    }
    for dependency in ["postgres", "redis"] {
        let labels = [("dependency", dependency)];
        let up = scrape.value("orderflow_dependency_up", &labels);
        assert!(
            matches!(up, Some(v) if v == 0.0 || v == 1.0),
            "{dependency}: {up:?}"
        );
    }
}

impl TestApp {
    /// `GET /metrics`, which needs no token.
    async fn scrape(&self) -> prometheus::Exposition {
        prometheus::scrape(&reqwest::Client::new(), &self.address).await
    }

    /// Waits until the series `name` with `labels` is there and `holds` for its value.
    async fn eventually(&self, name: &str, labels: &[(&str, &str)], holds: impl Fn(f64) -> bool) {
        prometheus::eventually(&self.address, name, labels, holds).await
    }
}
