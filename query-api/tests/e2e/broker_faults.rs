//! The broker fails under command load, on a broker of the test's own: killed (SIGKILL) and
//! started again, or frozen (SIGSTOP) past the command timeout and thawed. The services
//! recover by themselves, every acknowledged command is in the log and in the read model
//! exactly once, and commands the outage caught got 503 with `Retry-After`.

use crate::broker::{OwnBroker, blocking};
use crate::load::{Answer, Attempt, Load, Phase};
use crate::stack::Stack;
use sqlx::{Connection, PgConnection};
use std::collections::{BTreeMap, HashMap};
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::time::sleep;

/// Concurrent writers of the load.
const WRITERS: usize = 8;
/// Writers sharing each order's key in the freeze test, so that a second request for an
/// order already waits in the worker when the first one's record times out. A lone
/// client's retry comes after its 503, when the frozen broker was noticed and commands get
/// 503 before reaching a worker; it reaches one only after the thaw, when the timed-out
/// record is read back already.
const PER_KEY: usize = 2;
/// The command service's command timeout, hence its producer's `message.timeout.ms`.
const COMMAND_TIMEOUT_MS: u64 = 3000;
/// How long the broker stays frozen: past the command timeout, so that the records in
/// flight time out as possibly persisted; short of twice it, so that a command decided
/// again after such a timeout can still reach the thawed broker before its own.
const FROZEN_MS: u64 = COMMAND_TIMEOUT_MS * 3 / 2;
/// How long the broker may take to serve new orders again once it is back.
const RECOVERY_LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_killed_under_command_load_loses_no_acknowledged_command() {
    let (mut broker, stack) = start().await;
    let attempts = under_load_through(&mut broker, &stack, 1, Outage::Killed).await;
    check_outcome(&broker, &stack, &attempts).await;
}

/// Records in flight when the broker froze time out in the producer as "possibly
/// persisted" while their requests wait in the broker's sockets; it appends them once
/// thawed. The clients' same-key retries must be answered from those records, never
/// decided again: a second OrderPlaced for the order, a 409 to a safe retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_frozen_past_the_command_timeout_never_appends_an_order_twice() {
    let (mut broker, stack) = start().await;
    let attempts = under_load_through(&mut broker, &stack, PER_KEY, Outage::Frozen).await;
    check_outcome(&broker, &stack, &attempts).await;
}

/// How the broker fails.
#[derive(Debug, Clone, Copy)]
enum Outage {
    /// SIGKILL, three seconds down, then started again.
    Killed,
    /// SIGSTOP for `FROZEN_MS`, then SIGCONT.
    Frozen,
}

/// A command load of `WRITERS` writers, `per_key` of them sharing each order's key, through
/// `outage` of the broker: a few seconds before, the outage, and until new orders are
/// acknowledged again and a moment after. Returns every attempt.
async fn under_load_through(
    broker: &mut OwnBroker,
    stack: &Stack,
    per_key: usize,
    outage: Outage,
) -> Vec<Attempt> {
    let commands = stack.commands_url();
    let load = Load::start(commands, WRITERS, per_key);
    sleep(Duration::from_secs(3)).await;
    load.enter(Phase::Outage);
    let began = Instant::now();
    match outage {
        Outage::Killed => {
            broker.kill();
            sleep(Duration::from_secs(3)).await;
            broker.restart().await;
        }
        Outage::Frozen => {
            broker.freeze();
            sleep(Duration::from_millis(FROZEN_MS)).await;
            broker.thaw();
        }
    }
    load.enter(Phase::Back);
    let down = began.elapsed();
    let recovered = load.wait_acked(Phase::Back, commands, RECOVERY_LIMIT).await;
    sleep(Duration::from_secs(2)).await;
    let attempts = load.stop().await;
    eprintln!(
        "broker {outage:?} for {down:?}; new orders acknowledged {recovered:?} after it was back"
    );
    attempts
}

/// The own broker and a stack on it whose commands time out after `COMMAND_TIMEOUT_MS`.
async fn start() -> (OwnBroker, Stack) {
    service_logs();
    let broker = OwnBroker::start().await;
    let stack = Stack::start_on(&broker.bootstrap(), |commands, _, _| {
        commands.command_timeout_ms = COMMAND_TIMEOUT_MS;
    })
    .await;
    (broker, stack)
}

/// The services' logs on standard error when `RUST_LOG` is set (the e2e stack runs them
/// in the test process, which installs no subscriber otherwise).
fn service_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        orderflow_platform::init_tracing();
    }
}

/// Everything a broker outage must leave as it was: the answers, the log, the read model.
async fn check_outcome(broker: &OwnBroker, stack: &Stack, attempts: &[Attempt]) {
    // Every answer was a 201 or a 503 with Retry-After (a 409 is a retry decided again):
    // 201s before the outage and after it (the services recovered by themselves), 503s
    // during it.
    check_answers(attempts);
    // Each 201 names a record of the log that holds its order; no order is in it twice.
    let log = read_log(&broker.bootstrap(), &stack.projector.log.topic).await;
    let orders = check_log(&log, attempts);
    // The projector catches up by itself; then every order of the log is in the read model
    // once, at version 1 with one history entry, and the read model is the log's fold.
    let caught_up = wait_projected(stack, orders).await;
    eprintln!("{orders} orders in the log, projected {caught_up:?} after the load stopped");
    let stored = read_model(&stack.projector.database_url).await;
    assert_eq!(stored.len(), orders, "orders in the read model vs the log");
    for id in log.values() {
        assert_eq!(stored.get(id), Some(&(1, 1)), "{id}: (version, history)");
    }
    let report = orderflow_projector::tools::verify::verify(&stack.projector)
        .await
        .unwrap();
    assert!(
        report.is_clean() && report.ignored == 0 && report.poison == 0,
        "{report}"
    );
    assert_eq!(report.records as usize, orders, "{report}");
}

/// Asserts that every answer was a 201 or a 503 with `Retry-After`, with 201s before the
/// outage and after it and 503s during it.
fn check_answers(attempts: &[Attempt]) {
    let wrong: Vec<String> = attempts.iter().filter_map(Attempt::problem).collect();
    assert!(
        wrong.is_empty(),
        "{} answers not 201 nor 503 + Retry-After: {wrong:?}",
        wrong.len()
    );
    // Per phase: (201s, of them replayed for a key seen before, 503s).
    let mut tally: BTreeMap<Phase, (usize, usize, usize)> = BTreeMap::new();
    for attempt in attempts {
        let counts = tally.entry(attempt.phase).or_default();
        match &attempt.answer {
            Answer::Acked(ack) => {
                counts.0 += 1;
                counts.1 += usize::from(ack.replayed);
            }
            Answer::Unavailable => counts.2 += 1,
            _ => {}
        }
    }
    eprintln!(
        "{} attempts (201s, replayed, 503s): {tally:?}",
        attempts.len()
    );
    let count =
        |phase, pick: fn(&(usize, usize, usize)) -> usize| tally.get(&phase).map_or(0, pick);
    assert!(
        count(Phase::Before, |c| c.0) > 0,
        "no 201 before: {tally:?}"
    );
    assert!(
        count(Phase::Outage, |c| c.2) > 0,
        "no 503 during: {tally:?}"
    );
    assert!(count(Phase::Back, |c| c.0) > 0, "no 201 after: {tally:?}");
}

/// Asserts that each 201 names a record of `log` holding its order at version 1, and that
/// no order is in the log twice; returns the number of orders in the log.
fn check_log(log: &BTreeMap<(i32, i64), String>, attempts: &[Attempt]) -> usize {
    let mut placed: HashMap<&str, Vec<(i32, i64)>> = HashMap::new();
    for (at, id) in log {
        placed.entry(id).or_default().push(*at);
    }
    let twice: Vec<_> = placed.iter().filter(|(_, at)| at.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "orders placed more than once in the log (at (partition, offset)): {twice:?}"
    );
    for ack in attempts.iter().filter_map(Attempt::ack) {
        let at = (ack.partition, ack.offset);
        assert_eq!(log.get(&at), Some(&ack.order_id), "201 for {ack:?}");
        assert_eq!(ack.version, 1, "{ack:?}");
    }
    placed.len()
}

/// Waits (bounded) until the query API counts `orders` orders; returns how long it took.
async fn wait_projected(stack: &Stack, orders: usize) -> Duration {
    let started = Instant::now();
    loop {
        let stats = stack.query("/stats/orders").await;
        if stats["total_orders"] == orders {
            return started.elapsed();
        }
        let stuck = started.elapsed() > Duration::from_secs(60);
        assert!(
            !stuck,
            "projector stuck at {stats}; the log has {orders} orders"
        );
        sleep(Duration::from_millis(200)).await;
    }
}

/// Each stored order's version and number of history entries.
async fn read_model(database_url: &str) -> HashMap<String, (i64, i64)> {
    let mut db = PgConnection::connect(database_url).await.unwrap();
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT o.order_id, o.version,
                (SELECT count(*) FROM orderflow_read.order_history h WHERE h.order_id = o.order_id)
         FROM orderflow_read.orders o",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    rows.into_iter().map(|(id, v, h)| (id, (v, h))).collect()
}

/// The interpreter with Confluent's Python client: `ORDERFLOW_PYTHON`, else the project's
/// venv (as scripts/test.sh sets up).
fn python() -> String {
    std::env::var("ORDERFLOW_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/orderflow/venv/bin/python",
            std::env::var("HOME").unwrap()
        )
    })
}

/// Every partition of `topic` from offset 0 to its end, read_committed; one line per
/// record: partition, offset, key.
const READ_LOG: &str = r#"
import sys
from confluent_kafka import Consumer, KafkaError, TopicPartition
brokers, topic = sys.argv[1:3]
c = Consumer({"bootstrap.servers": brokers, "group.id": "e2e-log-reader", "enable.auto.commit": False,
              "isolation.level": "read_committed", "enable.partition.eof": True, "auto.offset.reset": "error"})
parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
left = {p for p in parts if ends[p] > 0}
c.assign([TopicPartition(topic, p, 0) for p in left])
while left:
    m = c.poll(15)
    if m is None:
        sys.exit(f"no record within 15 s, partitions {left} not read to their ends {ends}")
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            left.discard(m.partition())
            continue
        sys.exit(str(m.error()))
    print(m.partition(), m.offset(), m.key().decode())
    if m.offset() + 1 >= ends[m.partition()]:
        left.discard(m.partition())
c.close()
"#;

/// The log's keys by position `(partition, offset)`, read from offset 0 to the end.
async fn read_log(brokers: &str, topic: &str) -> BTreeMap<(i32, i64), String> {
    let mut command = Command::new(python());
    command.args(["-c", READ_LOG, brokers, topic]);
    let output = blocking(move || command.output().expect("run the Python client")).await;
    assert!(
        output.status.success(),
        "reading the log failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let record = |line: &str| {
        let [p, o, key]: [&str; 3] = line.split(' ').collect::<Vec<_>>().try_into().unwrap();
        ((p.parse().unwrap(), o.parse().unwrap()), key.to_owned())
    };
    stdout.lines().map(record).collect()
}
