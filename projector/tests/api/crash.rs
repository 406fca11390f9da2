//! The real `projector` binary, killed with SIGKILL in the middle of a backlog and started
//! again with the same configuration, ends with exactly the read model that a fold of the
//! whole log gives: nothing lost, nothing applied twice.
//!
//! Set `ORDERFLOW_CRASH_TEST_LOGS=1` to see the children's logs.

use crate::helpers::{PARTITIONS, Stack, brokers, event, order_id, read_topic, redis_url};
use orderflow_domain::{Decimal, Event, EventKind, LineItem, OrderPlaced};
use orderflow_platform::{KafkaSettings, partition_for_key};
use orderflow_projector::tools::verify::{Folder, compare, stored_read_model};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Orders in the backlog (about four events each).
const ORDERS: usize = 3_000;
/// Records per batch of the children: small, so the backlog takes many batches.
const BATCH_MAX_RECORDS: &str = "500";

#[tokio::test]
async fn a_projector_killed_with_sigkill_mid_batch_and_restarted_matches_a_fold_of_the_whole_log() {
    let started = Instant::now();
    let stack = Stack::start().await;

    // The backlog, produced before any projector runs.
    let ids: Vec<String> = (0..ORDERS).map(|_| order_id()).collect();
    let events = backlog(&ids);
    produce_batched(&stack, &events).await;

    // The log as it is, in log order per partition (orders never span partitions).
    let records = read_topic(&stack.topic).await;
    assert_eq!(
        records.len(),
        events.len(),
        "every produced event is in the log"
    );
    let mut log = Vec::with_capacity(records.len());
    let mut ends: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
    for record in &records {
        let key = record.key.as_deref().expect("keyed record");
        let partition = partition_for_key(key, PARTITIONS);
        let offset = ends[&partition];
        *ends.get_mut(&partition).unwrap() += 1;
        let value = record.value.as_deref().expect("record with a value");
        let event = stack.codec.decode(value).await.unwrap();
        log.push(((partition, offset), event));
    }
    let mut folder = Folder::default();
    for (_, event) in &log {
        folder.push(event);
    }
    assert!(
        folder.ignored >= 10,
        "the backlog holds duplicates and conflicting appends"
    );
    let expected = folder.finish();

    // First projector process: killed once some batches are committed, but not all.
    let env = child_env(&stack);
    let total: i64 = ends.values().sum();
    let mut first = Projector::start(&env);
    let poll_deadline = Instant::now() + Duration::from_secs(40);
    let at_kill = loop {
        first.assert_alive();
        let stored = stored_offsets(&stack).await;
        let done: i64 = stored.values().sum();
        assert!(
            done < total,
            "the first projector finished the whole backlog ({total} records) before it \
             could be killed: make the backlog bigger"
        );
        // A quarter in, several batches are committed and the next ones are in flight; a
        // varying pause lands the kill anywhere in a batch.
        if done >= total / 4 {
            let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            let pause = clock.unwrap_or_default().subsec_nanos() % 150;
            tokio::time::sleep(Duration::from_millis(pause.into())).await;
            break stored;
        }
        assert!(
            Instant::now() < poll_deadline,
            "the first projector did not fold a quarter of the backlog in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    first.kill();
    let resumed_at = stored_offsets(&stack).await;
    let resumed: i64 = resumed_at.values().sum();
    assert!(
        resumed < total,
        "killed after the whole backlog was folded ({resumed_at:?}, saw {at_kill:?}): \
         make the backlog bigger"
    );
    println!(
        "killed after {:?}: {resumed} of {total} records folded ({resumed_at:?})",
        started.elapsed()
    );

    // Second projector process, same configuration: resumes from the stored offsets.
    let mut second = Projector::start(&env);
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        second.assert_alive();
        let stored = stored_offsets(&stack).await;
        if ends
            .iter()
            .all(|(p, end)| stored.get(p).copied().unwrap_or(0) >= *end)
        {
            assert_eq!(stored, ends, "stored offsets point past the end of the log");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not projected in time: stored {stored:?}, log ends at {ends:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("caught up after {:?}", started.elapsed());

    let mut db = stack.db.acquire().await.unwrap();
    let actual = stored_read_model(&mut db).await.unwrap();
    let differences = compare(&expected, &actual);
    assert!(
        differences.is_empty(),
        "the read model differs from a fold of the whole log: {differences:#?}"
    );

    // Redis holds every order at its final version too, including orders whose last
    // batch the killed process committed but never wrote through: on assignment the
    // projector re-reads the log from where the cache was confirmed and refreshes those
    // orders' entries from Postgres (ADR 0010).
    let ids: Vec<&String> = expected.orders.keys().collect();
    let (_, _, prefix) = stack.live_generation().await.expect("a live generation");
    let keys: Vec<String> = ids.iter().map(|id| format!("{prefix}order:{id}")).collect();
    let mut conn = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let docs: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .unwrap();
        let stale: Vec<String> = ids
            .iter()
            .zip(&docs)
            .filter(|(id, doc)| {
                let version = doc
                    .as_deref()
                    .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                    .and_then(|d| d["version"].as_i64());
                version != Some(expected.orders[**id].version)
            })
            .map(|(id, doc)| format!("{id}: {doc:?}"))
            .collect();
        if stale.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} orders are stale in Redis, e.g. {:?}",
            stale.len(),
            ids.len(),
            &stale[..stale.len().min(3)]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    second.kill();
    println!("done after {:?}", started.elapsed());
}

/// The events of `ids`, interleaved in rounds (the n-th event of every order, then the
/// n+1-th, ...) so batches mix orders and an order's events span batches. Lifecycles mix
/// delivered, cancelled, shipped and placed orders; some orders also get duplicates and
/// conflicting appends that the fold must ignore.
pub(crate) fn backlog(ids: &[String]) -> Vec<Event> {
    let mut rounds: Vec<Vec<Event>> = Vec::new();
    let mut push = |round: usize, e: Event| {
        if rounds.len() <= round {
            rounds.resize_with(round + 1, Vec::new);
        }
        rounds[round].push(e);
    };
    for (i, id) in ids.iter().enumerate() {
        let minutes = (i % 600) as i64;
        let lifecycle: Vec<EventKind> = match i % 5 {
            0 => vec![
                placement(i),
                packing(i),
                shipping(i),
                locating(i, 0),
                EventKind::Delivered,
            ],
            1 => vec![
                placement(i),
                packing(i),
                shipping(i),
                locating(i, 0),
                locating(i, 1),
                EventKind::Delivered,
            ],
            2 => vec![placement(i), packing(i), cancelling(i)],
            3 => vec![placement(i), packing(i), shipping(i)],
            _ if i % 10 == 4 => vec![placement(i)],
            _ => vec![placement(i), cancelling(i)],
        };
        let mut produced = Vec::new();
        for (n, kind) in lifecycle.into_iter().enumerate() {
            let e = event(id, n as u64 + 1, minutes + 7 * n as i64, kind);
            produced.push(e.clone());
            push(n, e);
        }
        // Duplicates (the very same event again) and conflicting appends (another event
        // for a version already taken, or a version with a gap): all ignored.
        if i % 97 == 0 && produced.len() > 1 {
            push(3, produced[1].clone());
            push(6, produced[0].clone());
        }
        if i % 89 == 0 {
            let conflict = event(id, 2, minutes + 1, cancelling(i + 1));
            push(2, conflict);
        }
        if i % 83 == 0 {
            push(1, event(id, 9, minutes + 2, EventKind::Delivered));
        }
    }
    rounds.into_iter().flatten().collect()
}

fn placement(i: usize) -> EventKind {
    const PRICES: [&str; 4] = ["2.50", "10.00", "3.99", "125.75"];
    let lines = 1 + i % 3;
    let items: Vec<LineItem> = (0..lines)
        .map(|l| LineItem {
            product_id: format!("sku-{}", (i + l * 3) % 11),
            quantity: 1 + ((i + l) % 4) as u32,
            unit_price: PRICES[(i + l) % PRICES.len()].parse().unwrap(),
        })
        .collect();
    let total_amount = items
        .iter()
        .map(|i| i.unit_price * Decimal::from(i.quantity))
        .sum();
    EventKind::Placed(OrderPlaced {
        customer_id: format!("cust-{}", i % 37),
        items,
        shipping_address: format!("{} Main St", i % 101),
        currency: "USD".into(),
        total_amount,
    })
}

fn packing(i: usize) -> EventKind {
    EventKind::Packed {
        warehouse: format!("AMS-{}", i % 3),
    }
}

fn shipping(i: usize) -> EventKind {
    EventKind::Shipped {
        carrier: ["DHL", "UPS", "PostNL"][i % 3].into(),
        tracking_number: format!("TRK{i:06}"),
        estimated_delivery: i
            .is_multiple_of(2)
            .then_some(orderflow_domain::Date(20_800 + i as i32 % 30)),
    }
}

fn locating(i: usize, n: usize) -> EventKind {
    EventKind::LocationUpdated {
        location: format!("hub-{}-{n}", i % 13),
    }
}

fn cancelling(i: usize) -> EventKind {
    EventKind::Cancelled {
        reason: format!("reason {}", i % 5),
    }
}

/// Appends `events` in order, keyed and partitioned by order id, in producer batches of
/// many records, as the command service writes them: a restart then resumes in the middle
/// of a batch.
pub(crate) async fn produce_batched(stack: &Stack, events: &[Event]) {
    let producer: FutureProducer = KafkaSettings::new(brokers())
        .client_config(&[("enable.idempotence", "true"), ("linger.ms", "5")])
        .create()
        .unwrap();
    let mut encoded = Vec::with_capacity(events.len());
    for event in events {
        encoded.push((&event.order_id, stack.codec.encode(event).await.unwrap()));
    }
    let sends = encoded.iter().map(|(key, value)| {
        let record = FutureRecord::to(&stack.topic)
            .key(key.as_bytes())
            .payload(value.as_slice())
            .partition(partition_for_key(key.as_bytes(), PARTITIONS));
        producer.send(record, Duration::from_secs(60))
    });
    for delivery in futures::future::join_all(sends).await {
        delivery.map_err(|(e, _)| e).unwrap();
    }
}

/// Stored next offsets of the stack's topic, by partition.
async fn stored_offsets(stack: &Stack) -> BTreeMap<i32, i64> {
    stack.stored_offsets().await.into_iter().collect()
}

/// The configuration of both projector processes, as environment variables.
pub(crate) fn child_env(stack: &Stack) -> Vec<(&'static str, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = stack.settings();
    vec![
        ("ORDERFLOW_PROJECTOR_LISTEN", format!("127.0.0.1:{port}")),
        ("ORDERFLOW_KAFKA_BROKERS", brokers()),
        // A member that vanished without leaving is evicted from the group quickly, so
        // the second process gets the partitions without a long wait.
        (
            "ORDERFLOW_KAFKA_PROPERTIES",
            "session.timeout.ms=6000;heartbeat.interval.ms=500".into(),
        ),
        ("ORDERFLOW_TOPIC", stack.topic.clone()),
        ("ORDERFLOW_TOPIC_PARTITIONS", PARTITIONS.to_string()),
        ("ORDERFLOW_PROJECTOR_GROUP", settings.group),
        ("ORDERFLOW_DATABASE_URL", stack.database_url.clone()),
        ("ORDERFLOW_REDIS_URL", redis_url()),
        ("ORDERFLOW_REDIS_PREFIX", stack.redis_prefix.clone()),
        // Generous, so a slow debug build does not give up cache writes the test checks.
        ("ORDERFLOW_REDIS_TIMEOUT_MS", "2000".into()),
        ("ORDERFLOW_SCHEMA_REGISTRY_URL", stack.registry.url.clone()),
        (
            "ORDERFLOW_PROJECTOR_BATCH_MAX_RECORDS",
            BATCH_MAX_RECORDS.into(),
        ),
        ("ORDERFLOW_PROJECTOR_BATCH_MAX_WAIT_MS", "20".into()),
        (
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        ),
    ]
}

/// A `projector` child process, killed when dropped (also when the test panics).
pub(crate) struct Projector {
    child: Option<Child>,
}

impl Projector {
    pub(crate) fn start(env: &[(&'static str, String)]) -> Projector {
        Self::start_with(env, &[], None)
    }

    /// Runs `projector <args>`; with `capture`, its standard output (logs included) goes to
    /// that file.
    pub(crate) fn start_with(
        env: &[(&'static str, String)],
        args: &[&str],
        capture: Option<&std::path::Path>,
    ) -> Projector {
        let logs = std::env::var_os("ORDERFLOW_CRASH_TEST_LOGS").is_some();
        let output = || {
            if logs {
                Stdio::inherit()
            } else {
                Stdio::null()
            }
        };
        let child = Command::new(env!("CARGO_BIN_EXE_projector"))
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::null())
            .stdout(match capture {
                Some(path) => std::fs::File::create(path).expect("capture file").into(),
                None => output(),
            })
            .stderr(output())
            .spawn()
            .expect("starting the projector binary");
        Projector { child: Some(child) }
    }

    /// Waits (without blocking the test's runtime, which serves the registry) for the
    /// process to exit on its own.
    pub(crate) async fn finish(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut().expect("running");
        loop {
            if let Some(status) = child.try_wait().expect("waiting for the projector") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the projector did not finish in {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn assert_alive(&mut self) {
        let child = self.child.as_mut().expect("running");
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the projector exited on its own: {status} (ORDERFLOW_CRASH_TEST_LOGS=1 shows its logs)"
            );
        }
    }

    /// SIGKILL (on Unix), then reaps the process.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("killing the projector");
            child.wait().expect("reaping the projector");
        }
    }
}

impl Drop for Projector {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
