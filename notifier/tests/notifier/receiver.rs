//! A webhook receiver over real HTTP: it checks every signature with the subscription's
//! secret, fails the first attempts of each notice as it is told, and keeps what it got.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use orderflow_notifier::signature;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

/// One request the receiver answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Value,
    /// Whether the signature verified with the secret, within 5 minutes.
    pub signed: bool,
    /// Whether the receiver answered 2xx.
    pub accepted: bool,
}

#[derive(Default)]
struct Inner {
    secret: Option<String>,
    /// Attempts of each notice id so far.
    tries: HashMap<String, usize>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    inner: Arc<Mutex<Inner>>,
    /// Attempts of each notice that fail (`usize::MAX`: all).
    failing: Arc<AtomicUsize>,
    pub url: String,
}

impl Receiver {
    /// Listens on a port of its own; fails the first `failing` attempts of each notice.
    pub async fn start(failing: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let failing = Arc::new(AtomicUsize::new(failing));
        let receiver = Receiver {
            inner: Arc::default(),
            failing,
            url,
        };
        let app = axum::Router::new()
            .route("/hook", post(take))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        receiver
    }

    /// From now on, fails the first `failing` attempts of each notice.
    pub fn set_failing(&self, failing: usize) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn set_secret(&self, secret: &str) {
        self.inner.lock().unwrap().secret = Some(secret.to_owned());
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The bodies it accepted, in the order they came.
    pub fn accepted(&self) -> Vec<Value> {
        self.received()
            .into_iter()
            .filter(|r| r.accepted)
            .map(|r| r.body)
            .collect()
    }
}

async fn take(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut inner = receiver.inner.lock().unwrap();
    let header = headers
        .get(signature::HEADER)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let signed = inner.secret.as_deref().is_some_and(|secret| {
        signature::verify(
            secret.as_bytes(),
            header,
            &body,
            now,
            Duration::from_secs(300),
        )
        .is_ok()
    });
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    let tries = inner.tries.entry(id).or_default();
    *tries += 1;
    let accepted = *tries > receiver.failing.load(Ordering::SeqCst);
    inner.received.push(Received {
        body,
        signed,
        accepted,
    });
    if accepted {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
