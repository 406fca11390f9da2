//! A rebuild of the read model while commands and queries keep flowing: every answer of
//! the query API stays correct during and after the switch of generations.

use crate::stack::Stack;
use orderflow_projector::ProgressMode;
use orderflow_projector::tools::rebuild::{
    CancellationToken, RebuildOptions, RebuildReport, rebuild,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

/// Commands each order goes through, after being placed.
const STEPS: [&str; 5] = ["pack", "ship", "location", "location", "deliver"];

/// Acknowledged versions per order, as the writer learns them.
type Acked = Arc<Mutex<HashMap<String, u64>>>;

#[tokio::test]
async fn a_rebuild_under_traffic_never_loses_an_order_or_moves_a_version_back() {
    let stack = Arc::new(Stack::start().await);
    let acked = given_orders_placed(&stack, 30).await;
    let traffic = Traffic::start(&stack, &acked);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = traffic.reads();
    let report = rebuilt(&stack).await;
    let during = traffic.reads() - before;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (written, failures) = traffic.stop().await;

    assert!(report.switched && report.previous.is_some() && report.dropped_previous);
    assert!(
        during > 50,
        "queries flowed during the rebuild ({during} reads)"
    );
    assert!(
        written > 20,
        "commands flowed during the rebuild ({written} commands)"
    );
    assert!(
        failures.is_empty(),
        "{} bad answers, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    // After the switch, every order reads back at its acknowledged version.
    let acked = acked.lock().unwrap().clone();
    for (id, version) in &acked {
        let body = stack.read_own_write(id, *version).await;
        assert_eq!(body["version"], *version, "{id}");
    }
}

/// Places `orders` orders, acknowledged at version 1.
async fn given_orders_placed(stack: &Stack, orders: usize) -> Acked {
    let acked: Acked = Arc::default();
    for i in 0..orders {
        let id = place(stack, i).await;
        acked.lock().unwrap().insert(id, 1);
    }
    acked
}

/// A rebuild of the stack's read model that switches and drops the old generation a second
/// after the switch.
pub(crate) async fn rebuilt(stack: &Stack) -> RebuildReport {
    let options = RebuildOptions {
        keep_old: false,
        fresh: false,
        generation: None,
        drop_grace: Duration::from_secs(1),
        progress: ProgressMode::Off,
    };
    // Never cancelled: this rebuild runs to its switch.
    rebuild(&stack.projector, &options, CancellationToken::new())
        .await
        .unwrap()
}

/// A writer moving the orders on (and placing more), and three readers checking every
/// answer, until stopped.
struct Traffic {
    stop: Arc<AtomicBool>,
    checks: Arc<Checks>,
    writer: JoinHandle<u64>,
    readers: Vec<JoinHandle<()>>,
}

impl Traffic {
    fn start(stack: &Arc<Stack>, acked: &Acked) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn(write(stack.clone(), acked.clone(), stop.clone()));
        let checks = Arc::new(Checks::default());
        let readers = (0..3)
            .map(|_| {
                let (stack, acked) = (stack.clone(), acked.clone());
                tokio::spawn(read(stack, acked, checks.clone(), stop.clone()))
            })
            .collect();
        Traffic {
            stop,
            checks,
            writer,
            readers,
        }
    }

    /// Answers read so far.
    fn reads(&self) -> u64 {
        self.checks.reads.load(Ordering::Relaxed)
    }

    /// Stops; returns how many commands were acknowledged, and every wrong answer.
    async fn stop(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        let written = self.writer.await.unwrap();
        for reader in self.readers {
            reader.await.unwrap();
        }
        let failures = self.checks.failures.lock().unwrap().clone();
        (written, failures)
    }
}

async fn place(stack: &Stack, i: usize) -> String {
    let body = json!({
        "customer_id": format!("cust-{}", i % 5),
        "items": [{"product_id": format!("sku-{}", i % 7), "quantity": 1, "unit_price": "9.99"}],
        "shipping_address": "1 Main St",
    });
    let created = stack.command("/orders", &body).await;
    created["order_id"].as_str().unwrap().to_owned()
}

/// Moves orders through their lifecycles and places new ones until `stop`; returns how
/// many commands were acknowledged.
async fn write(stack: Arc<Stack>, acked: Acked, stop: Arc<AtomicBool>) -> u64 {
    let mut commands = 0;
    let mut i = 1_000;
    while !stop.load(Ordering::SeqCst) {
        let next = {
            let acked = acked.lock().unwrap();
            acked
                .iter()
                .find(|(_, v)| (**v as usize) <= STEPS.len())
                .map(|(id, v)| (id.clone(), *v))
        };
        match next {
            Some((id, version)) => {
                let step = STEPS[version as usize - 1];
                let body = match step {
                    "pack" => json!({"warehouse": "AMS-1"}),
                    "ship" => json!({"carrier": "DHL", "tracking_number": format!("T{i}")}),
                    "location" => json!({"location": format!("hub {i}")}),
                    _ => json!({}),
                };
                let answer = stack.command(&format!("/orders/{id}/{step}"), &body).await;
                let version = answer["version"].as_u64().unwrap();
                acked.lock().unwrap().insert(id, version);
            }
            None => {
                let id = place(&stack, i).await;
                acked.lock().unwrap().insert(id, 1);
            }
        }
        commands += 1;
        i += 1;
        if i.is_multiple_of(4) {
            let id = place(&stack, i).await;
            acked.lock().unwrap().insert(id, 1);
            commands += 1;
        }
    }
    commands
}

/// What the readers saw.
#[derive(Default)]
struct Checks {
    reads: AtomicU64,
    failures: Mutex<Vec<String>>,
}

/// Reads orders, lists and analytics until `stop`, recording every answer that is not
/// right: a 5xx, an order once seen and then missing, a version lower than one seen.
async fn read(stack: Arc<Stack>, acked: Acked, checks: Arc<Checks>, stop: Arc<AtomicBool>) {
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut n = 0usize;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let ids: Vec<String> = acked.lock().unwrap().keys().cloned().collect();
        let id = &ids[n * 7 % ids.len()];
        let url = format!("{}/orders/{id}", stack.queries_url());
        let response = stack.client.get(&url).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        checks.reads.fetch_add(1, Ordering::Relaxed);
        let fail = |why: String| checks.failures.lock().unwrap().push(why);
        match (status.as_u16(), body["version"].as_u64()) {
            (200, Some(version)) => {
                let previous = seen.insert(id.clone(), version).unwrap_or(0);
                if version < previous {
                    fail(format!("{id}: version {version} after {previous}"));
                    seen.insert(id.clone(), previous);
                }
            }
            (404, _) if seen.contains_key(id) => fail(format!("{id}: 404 after being seen")),
            (404, _) => {}
            (status, _) => fail(format!("{id}: {status} {body}")),
        }
        if n.is_multiple_of(10) {
            for path in ["/orders?limit=20", "/stats/orders"] {
                let url = format!("{}{path}", stack.queries_url());
                let status = stack.client.get(&url).send().await.unwrap().status();
                if status != 200 {
                    fail(format!("{path}: {status}"));
                }
            }
        }
    }
}
