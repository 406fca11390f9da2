//! Two writers on one topic's partitions (an instance and a zombie outside its group,
//! which believes it owns them too): the log decides, and no client is told 2xx for an
//! event the fold ignored.

use crate::helpers::{LogRecord, TestApp, spawn_app};
use orderflow_domain::{FoldOutcome, Order, fold};
use serde_json::json;
use std::collections::{HashMap, HashSet};

#[tokio::test]
async fn two_instances_never_acknowledge_an_event_the_log_ignores() {
    let a = spawn_app().await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(a.place_ok().await);
    }
    let b = a.zombie_instance().await;
    // Both instances race to move the same orders; each order gets commands from both.
    let ((acked_a, statuses_a), (acked_b, statuses_b)) =
        tokio::join!(hammer(&a, &ids, "a"), hammer(&b, &ids, "b"));
    assert!(
        statuses_a
            .keys()
            .chain(statuses_b.keys())
            .all(|s| [200, 409].contains(s)),
        "{statuses_a:?} {statuses_b:?}"
    );

    // Fold the log with the shared rule: every acknowledged event must be accepted.
    let log = a.log().await;
    let accepted = accepted_by_the_fold(&log);
    for id in acked_a.iter().chain(&acked_b) {
        if !accepted.contains(id) {
            panic!(
                "event {id} was acknowledged but the fold ignored it: {:#?}",
                history_of(&log, id)
            );
        }
    }
    assert_eq!(
        acked_a.len() + acked_b.len(),
        accepted.len() - ids.len(),
        "every accepted transition was acknowledged once"
    );
}

/// Six rounds of pack, cancel and ship for every order through `app`, each round's
/// requests in flight together: the event ids acknowledged, and the count of each status.
async fn hammer(
    app: &TestApp,
    ids: &[String],
    tag: &'static str,
) -> (Vec<String>, HashMap<u16, usize>) {
    let mut acked = Vec::new();
    let mut statuses = HashMap::new();
    for round in 0..6 {
        let requests = ids.iter().map(|id| {
            let (path, body) = match round % 3 {
                0 => ("pack", json!({"warehouse": tag})),
                1 => ("cancel", json!({"reason": tag})),
                _ => ("ship", json!({"carrier": tag, "tracking_number": "t"})),
            };
            let url = format!("{}/orders/{id}/{path}", app.address);
            app.client.post(url).json(&body).send()
        });
        for response in futures::future::join_all(requests).await {
            let response = response.unwrap();
            *statuses.entry(response.status().as_u16()).or_insert(0) += 1;
            if response.status().is_success() {
                let body: serde_json::Value = response.json().await.unwrap();
                acked.push(body["event_id"].as_str().unwrap().to_owned());
            }
        }
    }
    (acked, statuses)
}

/// The ids of the events the shared fold accepts, folding the log in order.
pub(crate) fn accepted_by_the_fold(log: &[LogRecord]) -> HashSet<String> {
    let mut orders: HashMap<String, Order> = HashMap::new();
    let mut accepted = HashSet::new();
    for record in log {
        let order = orders
            .remove(&record.event.order_id)
            .unwrap_or_else(|| Order::new(record.event.order_id.clone()));
        let folded = fold(order, &record.event);
        if folded.outcome == FoldOutcome::Accepted {
            accepted.insert(record.event.meta.event_id.to_string());
        }
        orders.insert(record.event.order_id.clone(), folded.order);
    }
    accepted
}

/// Where the order of event `id` stands in the log, record by record, for a failure.
fn history_of(log: &[LogRecord], id: &str) -> Vec<(i32, i64, u64, &'static str, String)> {
    let Some(bad) = log.iter().find(|r| r.event.meta.event_id.to_string() == id) else {
        panic!("event {id} was acknowledged but is not in the log")
    };
    log.iter()
        .filter(|r| r.event.order_id == bad.event.order_id)
        .map(|r| {
            let kind = r.event.kind.type_name();
            (
                r.partition,
                r.offset,
                r.event.version,
                kind,
                r.event.meta.event_id.to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn concurrent_commands_for_one_order_are_applied_one_after_another() {
    let app = crate::helpers::spawn_app().await;
    let id = app.order_at(&["pack", "ship"]).await;
    let requests = (0..20).map(|i| {
        app.client
            .post(app.url(&format!("/orders/{id}/location")))
            .json(&json!({"location": format!("hub {i}")}))
            .send()
    });
    let mut versions = Vec::new();
    for response in futures::future::join_all(requests).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        versions.push(body["version"].as_u64().unwrap());
    }
    versions.sort();
    assert_eq!(versions, (4..24).collect::<Vec<u64>>());
    let log_versions: Vec<u64> = app
        .log()
        .await
        .iter()
        .filter(|r| r.event.order_id == id)
        .map(|r| r.event.version)
        .collect();
    assert_eq!(log_versions, (1..24).collect::<Vec<u64>>());
}

#[tokio::test]
async fn two_concurrent_requests_with_one_key_append_once() {
    let app = crate::helpers::spawn_app().await;
    let id = app.order_at(&["pack", "ship"]).await;
    let send = || {
        app.client
            .post(app.url(&format!("/orders/{id}/location")))
            .header("idempotency-key", "same-key")
            .json(&json!({"location": "Utrecht"}))
            .send()
    };
    let (a, b) = tokio::join!(send(), send());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        (a.status(), b.status()),
        (reqwest::StatusCode::OK, reqwest::StatusCode::OK)
    );
    let (a, b): (serde_json::Value, serde_json::Value) =
        (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a, b);
    assert_eq!(app.log().await.len(), 4);
}

#[tokio::test]
async fn racing_location_updates_from_two_instances_are_acknowledged_only_when_accepted() {
    let a = spawn_app().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(a.order_at(&["pack", "ship"]).await);
    }
    let b = a.zombie_instance().await;
    // Location updates are always allowed while shipped: every 409 here is a lost race.
    let send = |app: &TestApp, round: usize| {
        let requests: Vec<_> = ids
            .iter()
            .map(|id| {
                app.client
                    .post(app.url(&format!("/orders/{id}/location")))
                    .json(&json!({"location": format!("{} {round}", app.address)}))
                    .send()
            })
            .collect();
        futures::future::join_all(requests)
    };
    let mut acked = HashSet::new();
    let mut lost = 0;
    for round in 0..8 {
        let (from_a, from_b) = tokio::join!(send(&a, round), send(&b, round));
        for response in from_a.into_iter().chain(from_b) {
            let response = response.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap();
            match status {
                200 => assert!(acked.insert(body["event_id"].as_str().unwrap().to_owned())),
                409 => {
                    assert_eq!(body["type"], "/problems/concurrent-write");
                    lost += 1;
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
    }
    let log = a.log().await;
    let mut orders: HashMap<String, Order> = HashMap::new();
    let mut accepted_updates = HashSet::new();
    for record in &log {
        let order = orders
            .remove(&record.event.order_id)
            .unwrap_or_else(|| Order::new(record.event.order_id.clone()));
        let folded = fold(order, &record.event);
        if folded.outcome == FoldOutcome::Accepted
            && record.event.kind.type_name() == "OrderLocationUpdated"
        {
            accepted_updates.insert(record.event.meta.event_id.to_string());
        }
        orders.insert(record.event.order_id.clone(), folded.order);
    }
    assert_eq!(
        acked, accepted_updates,
        "acknowledged exactly the accepted updates ({lost} races lost)"
    );
    assert_eq!(acked.len() + lost, 2 * 8 * ids.len());
}
