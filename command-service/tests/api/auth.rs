//! Who may do what on the command API: the auth matrix of issue 15, against the real
//! stack, with tokens signed by the test's own issuer (whose JWKS the service trusts).

use crate::helpers::{TestApp, expect_json, order_body, spawn_app, step_request};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The customer the matrix's orders belong to.
const OWNER: &str = "cust-42";

/// Every endpoint of the command API, and the lifecycle steps its order needs first.
const ENDPOINTS: [(&str, &[&str]); 7] = [
    ("place", &[]),
    ("inspect", &[]),
    ("pack", &[]),
    ("ship", &["pack"]),
    ("location", &["pack", "ship"]),
    ("deliver", &["pack", "ship"]),
    ("cancel", &[]),
];

/// What a caller must get from each endpoint, in the order of [`ENDPOINTS`].
fn expected(caller: &str) -> [StatusCode; 7] {
    use StatusCode as S;
    match caller {
        "owner" => [
            S::CREATED,
            S::OK,
            S::FORBIDDEN,
            S::FORBIDDEN,
            S::FORBIDDEN,
            S::FORBIDDEN,
            S::OK,
        ],
        "other customer" => [
            S::FORBIDDEN,
            S::NOT_FOUND,
            S::FORBIDDEN,
            S::FORBIDDEN,
            S::FORBIDDEN,
            S::FORBIDDEN,
            S::NOT_FOUND,
        ],
        "operator" | "admin" => [S::CREATED, S::OK, S::OK, S::OK, S::OK, S::OK, S::OK],
        _ => [S::UNAUTHORIZED; 7],
    }
}

#[tokio::test]
async fn every_endpoint_answers_each_kind_of_caller_as_specified() {
    let app = spawn_app().await;
    for (caller, token) in app.callers(OWNER) {
        for ((endpoint, steps), want) in ENDPOINTS.iter().zip(expected(caller)) {
            let order_id = app.order_at(steps).await;
            let response = call(&app, endpoint, &order_id, token.as_deref()).await;
            let got = response.status();
            let auth_header = response.headers().get("www-authenticate").cloned();
            let body = expect_json(response, got).await;
            assert_eq!(got, want, "{caller} → {endpoint}: {body}");
            if want == StatusCode::UNAUTHORIZED {
                let challenge = auth_header.expect("401 carries WWW-Authenticate");
                assert!(
                    challenge.to_str().unwrap().starts_with("Bearer"),
                    "{caller}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_401_says_why_the_token_was_refused() {
    let app = spawn_app().await;
    let callers = app.callers(OWNER);
    let why = |name: &str| callers.iter().find(|(c, _)| *c == name).unwrap().1.clone();
    for (caller, reason) in [
        ("expired token", "expired"),
        ("wrong audience", "audience"),
        ("wrong signing key", "signature"),
    ] {
        let response = call(&app, "inspect", "any", why(caller).as_deref()).await;
        let body = expect_json(response, StatusCode::UNAUTHORIZED).await;
        let detail = body["detail"].as_str().unwrap().to_lowercase();
        assert!(detail.contains(reason), "{caller}: {detail}");
    }
}

#[tokio::test]
async fn two_callers_with_the_same_idempotency_key_get_their_own_orders() {
    let app = spawn_app().await;
    let key = ("idempotency-key", "1");
    let mut ids = Vec::new();
    for customer in ["cust-a", "cust-b"] {
        let token = format!("Bearer {}", app.issuer().customer(customer));
        let mut body = order_body(None);
        body["customer_id"] = json!(customer);
        let headers = [key, ("authorization", token.as_str())];
        let placed = expect_json(
            app.post("/orders", &body, &headers).await,
            StatusCode::CREATED,
        )
        .await;
        ids.push(placed["order_id"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1], "each caller's key derives its own order");
    assert_eq!(app.log().await.len(), 2);
}

#[tokio::test]
async fn the_location_updates_of_an_order_are_capped() {
    let app = crate::helpers::spawn_with_location_cap(3).await;
    let id = app.order_at(&["pack", "ship"]).await;
    let url = format!("/orders/{id}/location");
    for n in 0..3 {
        let body = json!({"location": format!("hub {n}")});
        expect_json(app.post(&url, &body, &[]).await, StatusCode::OK).await;
    }
    let refused = app
        .post(&url, &json!({"location": "one too many"}), &[])
        .await;
    let problem = expect_json(refused, StatusCode::CONFLICT).await;
    assert_eq!(problem["type"], "/problems/location-limit");
    assert_eq!(problem["limit"], 3);
    let delivered = app
        .post(&format!("/orders/{id}/deliver"), &json!({}), &[])
        .await;
    expect_json(delivered, StatusCode::OK).await;
}

/// Calls `endpoint` for `order_id` with `token`, on a client of its own (the test app's
/// client sends an operator token by default); no `Authorization` header when `None`.
async fn call(
    app: &TestApp,
    endpoint: &str,
    order_id: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let client = reqwest::Client::new();
    let request = match endpoint {
        "place" => client.post(app.url("/orders")).json(&order_body(None)),
        "inspect" => client.get(app.url(&format!("/orders/{order_id}"))),
        step => {
            let (path, body): (&str, Value) = step_request(step);
            client
                .post(app.url(&format!("/orders/{order_id}/{path}")))
                .json(&body)
        }
    };
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
    .send()
    .await
    .unwrap()
}
