//! Every transition and every refusal of the lifecycle, over HTTP.

use crate::helpers::{expect_json, order_body, spawn_app, step_request};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn an_order_goes_through_its_whole_lifecycle() {
    let app = spawn_app().await;
    let response = app.place(&order_body(None)).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["etag"], "\"1\"");
    let placed = expect_json(response, StatusCode::CREATED).await;
    let id = placed["order_id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/orders/{id}"));
    assert_eq!(
        (placed["status"].as_str(), placed["version"].as_u64()),
        (Some("placed"), Some(1))
    );
    assert!(placed["event_id"].as_str().unwrap().len() == 36);
    assert!(placed["position"]["partition"].as_i64().is_some());

    let steps = [
        ("pack", "packed"),
        ("ship", "shipped"),
        ("location", "shipped"),
        ("location", "shipped"),
        ("deliver", "delivered"),
    ];
    for (version, (step, status)) in steps.into_iter().enumerate() {
        let (path, body) = step_request(step);
        let response = app.post(&format!("/orders/{id}/{path}"), &body, &[]).await;
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let body = expect_json(response, StatusCode::OK).await;
        assert_eq!(body["status"], status);
        assert_eq!(body["version"], version as u64 + 2);
        assert_eq!(etag, format!("\"{}\"", version + 2));
    }
    let log = app.log().await;
    let versions: Vec<u64> = log.iter().map(|r| r.event.version).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    let types: Vec<&str> = log.iter().map(|r| r.event.kind.type_name()).collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "OrderPacked",
            "OrderShipped",
            "OrderLocationUpdated",
            "OrderLocationUpdated",
            "OrderDelivered"
        ]
    );
    let inspected = app.inspect(&id).await;
    assert_eq!(
        inspected,
        json!({"order_id": id, "status": "delivered", "version": 6})
    );
}

#[tokio::test]
async fn placed_and_packed_orders_can_be_cancelled() {
    let app = spawn_app().await;
    for steps in [&[][..], &["pack"][..]] {
        let id = app.order_at(steps).await;
        let (path, body) = step_request("cancel");
        let body = expect_json(
            app.post(&format!("/orders/{id}/{path}"), &body, &[]).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(body["status"], "cancelled");
    }
}

#[tokio::test]
async fn transitions_the_lifecycle_forbids_get_409_naming_both() {
    let app = spawn_app().await;
    let cases: [(&[&str], &str, &str); 8] = [
        (&[], "ship", "cannot ship order {id}: it is placed"),
        (&[], "deliver", "cannot deliver order {id}: it is placed"),
        (
            &[],
            "location",
            "cannot update the location of order {id}: it is placed",
        ),
        (&["pack"], "pack", "cannot pack order {id}: it is packed"),
        (
            &["pack", "ship"],
            "cancel",
            "cannot cancel order {id}: it is shipped",
        ),
        (
            &["pack", "ship", "deliver"],
            "location",
            "cannot update the location of order {id}: it is delivered",
        ),
        (
            &["pack", "ship", "deliver"],
            "cancel",
            "cannot cancel order {id}: it is delivered",
        ),
        (
            &["cancel"],
            "pack",
            "cannot pack order {id}: it is cancelled",
        ),
    ];
    for (steps, step, detail) in cases {
        let id = app.order_at(steps).await;
        let (path, body) = step_request(step);
        let problem = expect_json(
            app.post(&format!("/orders/{id}/{path}"), &body, &[]).await,
            StatusCode::CONFLICT,
        )
        .await;
        assert_eq!(
            problem["detail"],
            detail.replace("{id}", &id),
            "{steps:?} then {step}"
        );
        assert_eq!(problem["status"], 409);
    }
    // Refused commands appended nothing: one event per successful step only.
    let expected: usize = cases.iter().map(|(steps, _, _)| 1 + steps.len()).sum();
    assert_eq!(app.log().await.len(), expected);
}

#[tokio::test]
async fn commands_for_an_unknown_order_get_404() {
    let app = spawn_app().await;
    for step in ["pack", "ship", "location", "deliver", "cancel"] {
        let (path, body) = step_request(step);
        let problem = expect_json(
            app.post(&format!("/orders/nope-1/{path}"), &body, &[])
                .await,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(problem["detail"], "order nope-1 does not exist");
    }
    let get = app
        .client
        .get(app.url("/orders/nope-1"))
        .send()
        .await
        .unwrap();
    expect_json(get, StatusCode::NOT_FOUND).await;
    assert!(app.log().await.is_empty());
}

#[tokio::test]
async fn if_match_guards_every_transition() {
    let app = spawn_app().await;
    let id = app.place_ok().await;
    let (path, body) = step_request("pack");
    let url = format!("/orders/{id}/{path}");
    let stale = app.post(&url, &body, &[("if-match", "\"2\"")]).await;
    let problem = expect_json(stale, StatusCode::PRECONDITION_FAILED).await;
    assert_eq!(problem["current_version"], 1);
    let fresh = app.post(&url, &body, &[("if-match", "\"1\"")]).await;
    assert_eq!(expect_json(fresh, StatusCode::OK).await["version"], 2);
    let (path, body) = step_request("ship");
    let any = app
        .post(&format!("/orders/{id}/{path}"), &body, &[("if-match", "*")])
        .await;
    assert_eq!(expect_json(any, StatusCode::OK).await["version"], 3);
    let malformed = app
        .post(
            &format!("/orders/{id}/deliver"),
            &json!({}),
            &[("if-match", "three")],
        )
        .await;
    expect_json(malformed, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.log().await.len(), 3);
}

#[tokio::test]
async fn a_malformed_command_is_refused_before_its_if_match_is_looked_at() {
    let app = spawn_app().await;
    let id = app.place_ok().await;
    let url = format!("/orders/{id}/cancel");
    let control = json!({ "reason": "changed\u{10}my mind" });
    let stale = app.post(&url, &control, &[("if-match", "\"7\"")]).await;
    let problem = expect_json(stale, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "reason");
    // A bare version reads as its tag.
    let (path, body) = step_request("pack");
    let bare = app
        .post(&format!("/orders/{id}/{path}"), &body, &[("if-match", "1")])
        .await;
    assert_eq!(expect_json(bare, StatusCode::OK).await["version"], 2);
    assert_eq!(app.log().await.len(), 2);
}

#[tokio::test]
async fn a_restart_replays_the_log_and_keeps_validating() {
    let app = spawn_app().await;
    let packed = app.order_at(&["pack"]).await;
    let shipped = app.order_at(&["pack", "ship"]).await;
    let app = app.restart().await;
    let (path, body) = step_request("pack");
    let again = app
        .post(&format!("/orders/{packed}/{path}"), &body, &[])
        .await;
    let problem = expect_json(again, StatusCode::CONFLICT).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .ends_with("it is packed")
    );
    let (path, body) = step_request("deliver");
    let delivered = expect_json(
        app.post(&format!("/orders/{shipped}/{path}"), &body, &[])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(delivered["version"], 4);
}
