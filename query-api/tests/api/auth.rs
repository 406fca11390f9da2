//! Who may read what on the query API: the auth matrix of issue 15, against real Postgres
//! and Redis, with tokens signed by the test's own issuer.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::Value;

/// The customer whose order the matrix reads.
const OWNER: &str = "cust-1";

/// Every endpoint of the query API.
const ENDPOINTS: [&str; 6] = [
    "/orders/o-1",
    "/orders/o-1/history",
    "/orders",
    "/stats/orders",
    "/stats/revenue/hourly",
    "/stats/products/top",
];

/// What a caller must get from each endpoint, in the order of [`ENDPOINTS`].
fn expected(caller: &str) -> [StatusCode; 6] {
    use StatusCode as S;
    match caller {
        "owner" => [
            S::OK,
            S::OK,
            S::OK,
            S::FORBIDDEN,
            S::FORBIDDEN,
            S::FORBIDDEN,
        ],
        "other customer" => [
            S::NOT_FOUND,
            S::NOT_FOUND,
            S::OK,
            S::FORBIDDEN,
            S::FORBIDDEN,
            S::FORBIDDEN,
        ],
        "operator" | "admin" => [S::OK; 6],
        _ => [S::UNAUTHORIZED; 6],
    }
}

#[tokio::test]
async fn every_endpoint_answers_each_kind_of_caller_as_specified() {
    let app = spawn_app().await;
    insert(
        &app.db,
        &Fixture::placed("o-1", OWNER, "2026-01-10T12:00:00Z"),
    )
    .await;
    for (caller, token) in app.callers(OWNER) {
        for (endpoint, want) in ENDPOINTS.iter().zip(expected(caller)) {
            let response = get_as(&app, endpoint, token.as_deref()).await;
            let got = response.status();
            let challenge = response.headers().get("www-authenticate").cloned();
            let body = expect_json(response, got).await;
            assert_eq!(got, want, "{caller} → {endpoint}: {body}");
            if want == StatusCode::UNAUTHORIZED {
                let challenge = challenge.expect("401 carries WWW-Authenticate");
                assert!(
                    challenge.to_str().unwrap().starts_with("Bearer"),
                    "{caller}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_customer_lists_only_its_own_orders() {
    let app = spawn_app().await;
    insert(
        &app.db,
        &Fixture::placed("o-1", "cust-1", "2026-01-10T12:00:00Z"),
    )
    .await;
    insert(
        &app.db,
        &Fixture::placed("o-2", "cust-2", "2026-01-10T12:01:00Z"),
    )
    .await;
    let own = app.issuer().customer("cust-1");
    let listed = get_as(&app, "/orders", Some(&own)).await;
    let ids = order_ids(expect_json(listed, StatusCode::OK).await);
    assert_eq!(ids, ["o-1"]);
    let someone_elses = get_as(&app, "/orders?customer_id=cust-2", Some(&own)).await;
    expect_json(someone_elses, StatusCode::FORBIDDEN).await;
    let operator = app.issuer().operator();
    let everyone = get_as(&app, "/orders", Some(&operator)).await;
    assert_eq!(
        order_ids(expect_json(everyone, StatusCode::OK).await),
        ["o-2", "o-1"]
    );
}

#[tokio::test]
async fn a_cached_order_is_not_shown_to_another_customer() {
    let app = spawn_app().await;
    insert(
        &app.db,
        &Fixture::placed("o-1", OWNER, "2026-01-10T12:00:00Z"),
    )
    .await;
    let first = app.get("/orders/o-1").await;
    expect_json(first, StatusCode::OK).await;
    let stranger = app.issuer().customer("cust-2");
    let response = get_as(&app, "/orders/o-1", Some(&stranger)).await;
    assert_eq!(response.headers().get("x-cache"), None);
    expect_json(response, StatusCode::NOT_FOUND).await;
}

fn order_ids(page: Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect()
}

/// `GET path` with `token` on a client of its own (the test app's client sends an
/// operator token by default); no `Authorization` header when `None`.
async fn get_as(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let request = reqwest::Client::new().get(app.url(path));
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
    .send()
    .await
    .unwrap()
}
