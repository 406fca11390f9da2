//! The HTTP operations the benchmark runs against the services.

use crate::http::{Conn, Response};
use crate::load::{Outcome, Workload};
use crate::stats::Recorder;
use bytes::Bytes;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The order every place-order request sends (the service makes the id).
pub const PLACE_BODY: &str = r#"{"customer_id":"cust-1","items":[{"product_id":"sku-1","quantity":2,"unit_price":"25.99"},{"product_id":"sku-2","quantity":1,"unit_price":"5.50"}],"shipping_address":"1 Main St"}"#;

/// The steps after placing, in lifecycle order: path suffix and body.
const STEPS: [(&str, &str); 5] = [
    ("pack", r#"{"warehouse":"WH-1"}"#),
    (
        "ship",
        r#"{"carrier":"UPS","tracking_number":"1Z999","estimated_delivery":"2026-12-01"}"#,
    ),
    ("location", r#"{"location":"Hub A"}"#),
    ("location", r#"{"location":"Hub B"}"#),
    ("deliver", "{}"),
];

/// What the benchmark reads from a command's answer.
#[derive(Debug, Deserialize)]
struct Acked {
    order_id: String,
    version: u64,
}

/// Maps a response to an outcome, `expected` being the one right status.
fn outcome(response: &Result<Response, crate::http::ConnError>, expected: u16) -> Outcome {
    match response {
        Ok(r) if r.status == expected => Outcome::Ok,
        Ok(r) => Outcome::Failed(r.status),
        Err(_) => Outcome::Failed(0),
    }
}

/// `POST /orders` with a new order each time; 201 expected. Also drives the empty
/// handler, which answers 201 the same way.
pub struct PlaceOrder {
    pub target: SocketAddr,
}

impl Workload for PlaceOrder {
    type Client = Conn;

    async fn connect(&self) -> anyhow::Result<Conn> {
        Ok(Conn::open(self.target).await?)
    }

    async fn run(&self, conn: &mut Conn) -> Outcome {
        let response = conn
            .post("/orders", Bytes::from_static(PLACE_BODY.as_bytes()))
            .await;
        after(conn, outcome(&response, 201)).await
    }
}

/// A client reconnects after its connection failed.
async fn after(conn: &mut Conn, outcome: Outcome) -> Outcome {
    if outcome == Outcome::Failed(0) {
        conn.reconnect().await;
    }
    outcome
}

/// Full lifecycles, one command per operation: place, pack, ship, two location updates,
/// deliver. Each client drives one order at a time.
pub struct Lifecycle {
    pub target: SocketAddr,
}

/// A lifecycle client: its connection and the order it is in the middle of.
pub struct LifecycleClient {
    conn: Conn,
    order: Option<(String, usize)>,
}

impl Workload for Lifecycle {
    type Client = LifecycleClient;

    async fn connect(&self) -> anyhow::Result<LifecycleClient> {
        Ok(LifecycleClient {
            conn: Conn::open(self.target).await?,
            order: None,
        })
    }

    async fn run(&self, client: &mut LifecycleClient) -> Outcome {
        let Some((order_id, step)) = client.order.take() else {
            let response = client
                .conn
                .post("/orders", Bytes::from_static(PLACE_BODY.as_bytes()))
                .await;
            let result = outcome(&response, 201);
            if let (Outcome::Ok, Ok(r)) = (result, &response) {
                client.order = serde_json::from_slice::<Acked>(&r.body)
                    .ok()
                    .map(|a| (a.order_id, 0));
            }
            return after(&mut client.conn, result).await;
        };
        let (action, body) = STEPS[step];
        let path = format!("/orders/{order_id}/{action}");
        let response = client
            .conn
            .post(&path, Bytes::from_static(body.as_bytes()))
            .await;
        let result = outcome(&response, 200);
        if result == Outcome::Ok && step + 1 < STEPS.len() {
            client.order = Some((order_id, step + 1));
        }
        after(&mut client.conn, result).await
    }
}

/// Command-to-query visibility: place an order, then ask the query API for the
/// acknowledged version (`min_version`, answered as soon as the read model has it).
/// The command's latency and the visibility time are recorded separately.
pub struct Visibility {
    pub commands: SocketAddr,
    pub queries: SocketAddr,
    pub command_latency: Mutex<Recorder>,
    pub visible_after: Mutex<Recorder>,
}

impl Visibility {
    pub fn new(commands: SocketAddr, queries: SocketAddr) -> Self {
        Visibility {
            commands,
            queries,
            command_latency: Mutex::new(Recorder::new()),
            visible_after: Mutex::new(Recorder::new()),
        }
    }
}

impl Workload for Visibility {
    type Client = (Conn, Conn);

    async fn connect(&self) -> anyhow::Result<(Conn, Conn)> {
        Ok((
            Conn::open(self.commands).await?,
            Conn::open(self.queries).await?,
        ))
    }

    async fn run(&self, (commands, queries): &mut (Conn, Conn)) -> Outcome {
        let sent = Instant::now();
        let response = commands
            .post("/orders", Bytes::from_static(PLACE_BODY.as_bytes()))
            .await;
        let placed = outcome(&response, 201);
        let acked = match (&response, placed) {
            (Ok(r), Outcome::Ok) => serde_json::from_slice::<Acked>(&r.body).ok(),
            _ => None,
        };
        let Some(acked) = acked else {
            return after(commands, placed).await;
        };
        let acked_at = Instant::now();
        record(&self.command_latency, acked_at - sent);
        let path = format!(
            "/orders/{}?min_version={}&wait_ms=10000",
            acked.order_id, acked.version
        );
        let shown = queries.get(&path).await;
        let result = outcome(&shown, 200);
        if result == Outcome::Ok {
            record(&self.visible_after, acked_at.elapsed());
        }
        after(queries, result).await
    }
}

fn record(recorder: &Mutex<Recorder>, latency: Duration) {
    recorder
        .lock()
        .expect("recorder poisoned")
        .record_latency(latency);
}

/// `GET /orders/{id}` over a fixed set of ids.
pub struct GetOrder {
    pub target: SocketAddr,
    pub ids: Arc<Vec<String>>,
    /// Each id once, then done (cache misses), or round and round (cache hits).
    pub once: bool,
    next: AtomicUsize,
}

impl GetOrder {
    pub fn new(target: SocketAddr, ids: Arc<Vec<String>>, once: bool) -> Self {
        GetOrder {
            target,
            ids,
            once,
            next: AtomicUsize::new(0),
        }
    }
}

impl Workload for GetOrder {
    type Client = Conn;

    async fn connect(&self) -> anyhow::Result<Conn> {
        Ok(Conn::open(self.target).await?)
    }

    async fn run(&self, conn: &mut Conn) -> Outcome {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if self.once && n >= self.ids.len() {
            return Outcome::Exhausted;
        }
        let index = if self.once {
            n
        } else {
            crate::load::scatter(n, self.ids.len())
        };
        let id = &self.ids[index];
        let response = conn.get(&format!("/orders/{id}")).await;
        after(conn, outcome(&response, 200)).await
    }
}
