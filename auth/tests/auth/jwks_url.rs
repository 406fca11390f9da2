//! Trusting a JWKS URL: 503 until it first answers, then its keys, rotated keys soon.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use orderflow_auth::dev::DevIssuer;
use orderflow_auth::{AuthSettings, Authenticator, InvalidToken, Rejection};
use serde_json::Value;

use crate::support::{bearer, eventually, operator_token};

/// An issuer's JWKS endpoint, on a port of its own.
#[derive(Default)]
struct Endpoint {
    /// What it serves: `None` answers 503 (the issuer is down).
    jwks: Mutex<Option<Value>>,
    fetches: AtomicUsize,
}

impl Endpoint {
    /// Serves `jwks`; the endpoint and its URL.
    async fn start(jwks: Option<Value>) -> (Arc<Endpoint>, String) {
        async fn serve(State(endpoint): State<Arc<Endpoint>>) -> Response {
            endpoint.fetches.fetch_add(1, Ordering::SeqCst);
            match endpoint.jwks.lock().unwrap().clone() {
                Some(jwks) => axum::Json(jwks).into_response(),
                None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            }
        }
        let endpoint = Arc::new(Endpoint {
            jwks: Mutex::new(jwks),
            ..Endpoint::default()
        });
        let app = Router::new()
            .route("/.well-known/jwks.json", get(serve))
            .with_state(endpoint.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (endpoint, format!("http://{address}/.well-known/jwks.json"))
    }

    fn serve(&self, jwks: Value) {
        *self.jwks.lock().unwrap() = Some(jwks);
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn requests_wait_with_503_until_the_jwks_url_first_answers() {
    let issuer = DevIssuer::ephemeral().unwrap();
    let (endpoint, url) = Endpoint::start(None).await;
    let auth = Authenticator::start(&AuthSettings::with_jwks(url)).unwrap();
    let token = bearer(&operator_token(&issuer));
    assert_eq!(auth.verify(Some(&token)), Err(Rejection::KeysNotLoaded));
    assert!(
        !auth.is_ready(),
        "not ready before the JWKS URL first answers"
    );

    endpoint.serve(issuer.jwks());
    eventually("the keys load", || auth.verify(Some(&token)).is_ok()).await;
    assert!(auth.is_ready());
    assert_eq!(auth.status(), "enabled");
}

#[tokio::test]
async fn a_token_of_a_new_kid_triggers_a_refresh_of_the_jwks_url() {
    let old = DevIssuer::ephemeral().unwrap();
    let (endpoint, url) = Endpoint::start(Some(old.jwks())).await;
    // The periodic refresh is far away: only the unknown kid can trigger this one.
    let mut settings = AuthSettings::with_jwks(url);
    settings.jwks_refresh_secs = 3_600;
    let auth = Authenticator::start(&settings).unwrap();
    let old_token = bearer(&operator_token(&old));
    eventually("the keys load", || auth.verify(Some(&old_token)).is_ok()).await;

    let new = DevIssuer::ephemeral().unwrap();
    endpoint.serve(new.jwks());
    let new_token = bearer(&operator_token(&new));
    assert_eq!(
        auth.verify(Some(&new_token)),
        Err(InvalidToken::UnknownKeyId.into())
    );
    eventually("the rotated key is trusted", || {
        auth.verify(Some(&new_token)).is_ok()
    })
    .await;
}

#[tokio::test]
async fn the_refresh_ends_with_the_last_clone_of_the_authenticator() {
    let issuer = DevIssuer::ephemeral().unwrap();
    let (endpoint, url) = Endpoint::start(Some(issuer.jwks())).await;
    let mut settings = AuthSettings::with_jwks(url);
    settings.jwks_refresh_secs = 1;
    let auth = Authenticator::start(&settings).unwrap();
    let clone = auth.clone();
    drop(auth);
    eventually("a clone keeps refreshing", || endpoint.fetches() >= 2).await;

    drop(clone);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fetches = endpoint.fetches();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(
        endpoint.fetches(),
        fetches,
        "no fetch after the last clone is gone"
    );
}
