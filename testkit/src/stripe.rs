//! Stripe for the fulfilment tests: `stripe-mock` (Stripe's own mock of its API, which
//! `scripts/test.sh` builds from the Go module proxy), and a [`FaultProxy`] in front of it
//! that plays what stripe-mock cannot: answers that come too late, 5xx, and Stripe's
//! declining test cards. The proxy keeps every call with its idempotency key, so a test can
//! count the calls per key.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// A stripe-mock process on a port of its own, stopped when dropped.
pub struct StripeMock {
    pub url: String,
    _child: Child,
}

impl StripeMock {
    /// Starts the stripe-mock named by `ORDERFLOW_STRIPE_MOCK` (`None` outside CI when it
    /// is not set: the test then says it skipped).
    pub async fn start() -> Option<StripeMock> {
        let binary = crate::installed_tool("ORDERFLOW_STRIPE_MOCK")?;
        let mut child = Command::new(binary)
            .args(["-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("stripe-mock starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let address = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await.expect("stripe-mock's output") {
                if let Some(address) = line.strip_prefix("Listening for HTTP at address: ") {
                    return address.trim().to_owned();
                }
            }
            panic!("stripe-mock ended before it listened");
        })
        .await
        .expect("stripe-mock listens within 20 s");
        // Keep reading its output, so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Some(StripeMock {
            url: format!("http://{address}"),
            _child: child,
        })
    }
}

/// What the proxy does to the calls that follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass them on.
    None,
    /// Pass them on, and answer only after this long (the processor did the work; the
    /// client gave up waiting).
    SlowAnswer(Duration),
    /// Answer this status without passing them on.
    Status(u16),
}

/// One call that reached the proxy.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub idempotency_key: Option<String>,
    /// The status the proxy answered.
    pub status: u16,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    fault: Arc<Mutex<Fault>>,
    calls: Arc<Mutex<Vec<Call>>>,
}

/// A proxy in front of stripe-mock, on a port of its own until the test's runtime ends.
#[derive(Clone)]
pub struct FaultProxy {
    pub url: String,
    proxy: Proxy,
}

/// Stripe's test payment methods that decline (stripe.com/docs/testing#declined-payments),
/// with the `decline_code` Stripe gives; stripe-mock accepts every card.
const DECLINING_CARDS: [(&str, &str); 3] = [
    ("pm_card_chargeDeclined", "generic_decline"),
    (
        "pm_card_chargeDeclinedInsufficientFunds",
        "insufficient_funds",
    ),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
];

impl FaultProxy {
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = Proxy {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            fault: Arc::new(Mutex::new(Fault::None)),
            calls: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FaultProxy { url, proxy }
    }

    /// From now on, `fault` applies.
    pub fn set(&self, fault: Fault) {
        *self.proxy.fault.lock().unwrap() = fault;
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.proxy.calls.lock().unwrap().clone()
    }
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let fault = *proxy.fault.lock().unwrap();
    let response = match fault {
        Fault::Status(status) => problem(status, "api_error", "injected by the test's proxy"),
        _ => match declining_card(&bytes) {
            Some(code) if parts.uri.path() == "/v1/payment_intents" => decline(code),
            _ => {
                pass(
                    &proxy,
                    &parts.method,
                    parts.uri.path(),
                    &parts.headers,
                    bytes,
                )
                .await
            }
        },
    };
    let key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok());
    proxy.calls.lock().unwrap().push(Call {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        idempotency_key: key.map(str::to_owned),
        status: response.status().as_u16(),
    });
    if let Fault::SlowAnswer(delay) = fault {
        tokio::time::sleep(delay).await;
    }
    response
}

async fn pass(
    proxy: &Proxy,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = proxy
        .http
        .request(method.clone(), format!("{}{path}", proxy.upstream));
    for name in ["authorization", "content-type", "idempotency-key"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    match request.body(body).send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            let bytes = answer.bytes().await.unwrap_or_default();
            (
                status,
                [("content-type", "application/json")],
                Body::from(bytes),
            )
                .into_response()
        }
        Err(e) => problem(502, "api_error", &e.to_string()),
    }
}

fn declining_card(body: &[u8]) -> Option<&'static str> {
    let form = url_decoded(body);
    DECLINING_CARDS
        .iter()
        .find(|(card, _)| form.iter().any(|(k, v)| k == "payment_method" && v == card))
        .map(|(_, code)| *code)
}

fn url_decoded(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn decline(code: &str) -> Response {
    let body = json!({"error": {"type": "card_error", "code": "card_declined",
        "decline_code": code, "message": "Your card was declined."}});
    (StatusCode::PAYMENT_REQUIRED, axum::Json(body)).into_response()
}

fn problem(status: u16, kind: &str, message: &str) -> Response {
    let body = json!({"error": {"type": kind, "message": message}});
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}
