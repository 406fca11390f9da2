//! A webhook receiver over real HTTP, as a subscriber runs one: it answers each request,
//! failing the first attempts of each notice as it is told, and keeps what it got (the
//! signature header and the body's bytes, for the test to verify).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// One request the receiver answered.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `Orderflow-Signature` header, if any.
    pub signature: Option<String>,
    pub bytes: Bytes,
    pub body: Value,
    /// Whether the receiver answered 2xx.
    pub accepted: bool,
}

#[derive(Default)]
struct Log {
    /// Attempts of each notice id (the body's `id`) so far.
    tries: HashMap<String, usize>,
    received: Vec<Received>,
}

/// Listens on a port of its own until the test's runtime ends.
#[derive(Clone)]
pub struct WebhookReceiver {
    log: Arc<Mutex<Log>>,
    /// Attempts of each notice that fail with 503 (`usize::MAX`: all).
    failing: Arc<AtomicUsize>,
    pub url: String,
}

impl WebhookReceiver {
    /// A receiver that fails the first `failing` attempts of each notice.
    pub async fn start(failing: usize) -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let receiver = WebhookReceiver {
            log: Arc::default(),
            failing: Arc::new(AtomicUsize::new(failing)),
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

    /// Every request so far, in the order they came.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().received.clone()
    }

    /// The bodies it accepted, in the order they came.
    pub fn accepted(&self) -> Vec<Value> {
        let received = self.received().into_iter();
        received.filter(|r| r.accepted).map(|r| r.body).collect()
    }
}

async fn take(
    State(receiver): State<WebhookReceiver>,
    headers: HeaderMap,
    bytes: Bytes,
) -> StatusCode {
    let signature = headers
        .get("orderflow-signature")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    let mut log = receiver.log.lock().unwrap();
    let tries = log.tries.entry(id).or_default();
    *tries += 1;
    let accepted = *tries > receiver.failing.load(Ordering::SeqCst);
    log.received.push(Received {
        signature,
        bytes,
        body,
        accepted,
    });
    if accepted {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
