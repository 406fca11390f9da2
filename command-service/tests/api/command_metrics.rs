//! The command service's own series on `/metrics`: how commands were answered, how long
//! the log took to confirm them, the replay and what is held in memory.
//!
//! Tests run in parallel in one process and share its recorder, so each assertion is on
//! how much a series moved at least, never on its exact value.

use crate::helpers::*;
use orderflow_testkit::prometheus;
use reqwest::StatusCode;
use serde_json::json;

/// The labels of `orderflow_commands_total` for `command`, `outcome` and `reason`.
fn command<'a>(
    command: &'a str,
    outcome: &'a str,
    reason: &'a str,
) -> [(&'static str, &'a str); 3] {
    [
        ("command", command),
        ("outcome", outcome),
        ("reason", reason),
    ]
}

#[tokio::test]
async fn an_accepted_place_and_its_idempotent_retry_are_counted_once_each() {
    let app = spawn_app().await;
    let accepted = command("place", "accepted", "");
    let replayed = command("place", "replayed", "");
    let before = app.scrape().await;

    let key = [("idempotency-key", "metrics-place-1")];
    let first = app.post("/orders", &order_body(None), &key).await;
    expect_json(first, StatusCode::CREATED).await;
    let retry = app.post("/orders", &order_body(None), &key).await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");

    let after = app.scrape().await;
    let moved =
        |name, labels: &[(&str, &str)]| after.or_zero(name, labels) - before.or_zero(name, labels);
    assert!(moved("orderflow_commands_total", &accepted) >= 1.0);
    assert!(moved("orderflow_commands_total", &replayed) >= 1.0);
    assert!(moved("orderflow_command_append_seconds_count", &[]) >= 1.0);
}

#[tokio::test]
async fn refused_commands_are_counted_with_their_reason() {
    let app = spawn_app().await;
    let delivered = app.order_at(&["pack", "ship", "deliver"]).await;
    let refusals = [
        command("cancel", "rejected", "transition_not_allowed"),
        command("pack", "rejected", "forbidden"),
        command("place", "rejected", "invalid"),
        command("ship", "rejected", "not_found"),
    ];
    let before = app.scrape().await;

    let cancel = json!({"reason": "too late"});
    let late = app
        .post(&format!("/orders/{delivered}/cancel"), &cancel, &[])
        .await;
    expect_json(late, StatusCode::CONFLICT).await;
    let customer = app.issuer().customer("cust-42");
    let packed_by_customer = reqwest::Client::new()
        .post(app.url(&format!("/orders/{delivered}/pack")))
        .bearer_auth(customer)
        .json(&json!({"warehouse": "AMS-1"}))
        .send()
        .await
        .unwrap();
    expect_json(packed_by_customer, StatusCode::FORBIDDEN).await;
    let mut no_items = order_body(None);
    no_items["items"] = json!([]);
    expect_json(app.place(&no_items).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let (path, body) = step_request("ship");
    let unknown = app
        .post(&format!("/orders/no-such-order/{path}"), &body, &[])
        .await;
    expect_json(unknown, StatusCode::NOT_FOUND).await;

    let after = app.scrape().await;
    for labels in refusals {
        let moved = after.or_zero("orderflow_commands_total", &labels)
            - before.or_zero("orderflow_commands_total", &labels);
        assert!(moved >= 1.0, "{labels:?} moved by {moved}");
    }
}

#[tokio::test]
async fn a_restart_reports_its_replay_and_the_orders_it_holds() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.place_ok().await;
    }
    let before = app.scrape().await;

    let app = app.restart().await;
    app.eventually("orderflow_replay_events_total", &[], |replayed| {
        replayed >= before.or_zero("orderflow_replay_events_total", &[]) + 3.0
    })
    .await;
    app.eventually("orderflow_aggregates", &[], |orders| orders >= 3.0)
        .await;

    let after = app.scrape().await;
    let total = [("state", "total")];
    assert!(after.or_zero("orderflow_replay_partitions", &total) >= 1.0);
    assert!(
        after
            .value("orderflow_replay_partitions", &[("state", "done")])
            .is_some()
    );
    for dependency in ["kafka", "registry"] {
        let up = after.value("orderflow_dependency_up", &[("dependency", dependency)]);
        assert!(
            matches!(up, Some(v) if v == 0.0 || v == 1.0),
            "{dependency}: {up:?}"
        );
    }
    app.eventually("orderflow_producer_queue_messages", &[], |queued| {
        queued >= 0.0
    })
    .await;
}

impl TestApp {
    /// `GET /metrics`, which needs no token.
    pub(crate) async fn scrape(&self) -> prometheus::Exposition {
        prometheus::scrape(&reqwest::Client::new(), &self.address).await
    }

    /// Waits until the series `name` with `labels` is there and `holds` for its value.
    async fn eventually(&self, name: &str, labels: &[(&str, &str)], holds: impl Fn(f64) -> bool) {
        prometheus::eventually(&self.address, name, labels, holds).await
    }
}
