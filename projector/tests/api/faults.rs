//! Poison records and a missing Redis: the projection goes on.

use crate::helpers::{
    RawRecord, Stack, event, order_id, packed, placed, read_topic, spawn_projector,
};
use orderflow_domain::EventKind;

#[tokio::test]
async fn poison_records_land_in_the_dlq_with_their_origin_and_the_projection_goes_on() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    let (a, b) = (order_id(), order_id());
    let garbage_at = given_three_poison_records_among(&mut stack, &a, &b).await;
    stack.wait_projected().await;

    assert_eq!(
        stack.statuses().await,
        [
            (a.clone(), "placed".into(), 1),
            (b.clone(), "packed".into(), 2)
        ]
    );
    let mut dlq = read_topic(&format!("{}.dlq", stack.topic)).await;
    dlq.sort_by_key(|r| r.key.clone());
    assert_eq!(dlq.len(), 3, "{dlq:?}");
    let wrong_key = dead_letter(&dlq, b"someone-else", "the misfiled event");
    assert!(
        wrong_key.headers["error"].contains("key"),
        "{:?}",
        wrong_key.headers
    );
    let garbage = dead_letter(&dlq, b"not-an-order", "the garbage record");
    then_the_garbage_names_its_origin(&stack, garbage, garbage_at);
    let skipped = dead_letter(
        &dlq,
        a.as_bytes(),
        "the delivery that skipped the lifecycle",
    );
    assert!(
        skipped.headers["error"].contains("OrderDelivered"),
        "{:?}",
        skipped.headers
    );
    let decoded = stack
        .codec
        .decode(skipped.value.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (decoded.order_id.as_str(), decoded.version),
        (a.as_str(), 2)
    );

    assert_eq!(projector.status().await["dead_lettered"], 3);
    projector.shutdown().await;
}

/// Appends three poison records around orders `a` (placed, then delivered without being
/// shipped: the poison) and `b` (placed and packed): a record that is not
/// Confluent-framed, and a valid event keyed under another order. Returns where the
/// unframed one is (partition, offset).
async fn given_three_poison_records_among(stack: &mut Stack, a: &str, b: &str) -> (i32, i64) {
    // Not Confluent-framed (magic byte 1). A framed record whose schema id the registry
    // does not know is no poison: it stops the projection (registry.rs).
    let garbage_at = stack.produce(b"not-an-order", b"\x01garbage").await;
    // A valid event under another key: its order would be folded in two partitions.
    let c = order_id();
    let misfiled = stack
        .codec
        .encode(&event(&c, 1, 4, placed(&[("sku-3", 1, "1")])))
        .await
        .unwrap();
    stack.produce(b"someone-else", &misfiled).await;
    stack
        .append(&[
            event(a, 1, 0, placed(&[("sku-1", 1, "10")])),
            // Skips the lifecycle: delivered without being shipped.
            event(a, 2, 1, EventKind::Delivered),
            event(b, 1, 2, placed(&[("sku-2", 1, "4")])),
            event(b, 2, 3, packed()),
        ])
        .await;
    garbage_at
}

/// The dead letter keyed `key`; `what` it is says which one is missing.
fn dead_letter<'a>(dlq: &'a [RawRecord], key: &[u8], what: &str) -> &'a RawRecord {
    dlq.iter()
        .find(|r| r.key.as_deref() == Some(key))
        .unwrap_or_else(|| panic!("{what} is dead-lettered"))
}

/// The unframed record's dead letter: its bytes, the topic, partition and offset it came
/// from (`at`), and why.
fn then_the_garbage_names_its_origin(stack: &Stack, garbage: &RawRecord, at: (i32, i64)) {
    let (partition, offset) = at;
    assert_eq!(garbage.value.as_deref(), Some(&b"\x01garbage"[..]));
    assert_eq!(garbage.headers["source.topic"], stack.topic);
    assert_eq!(garbage.headers["source.partition"], partition.to_string());
    assert_eq!(garbage.headers["source.offset"], offset.to_string());
    assert!(!garbage.headers["error"].is_empty());
}

#[tokio::test]
async fn redis_being_down_does_not_stop_the_postgres_projection() {
    let mut stack = Stack::start().await;
    let mut settings = stack.settings();
    // Nothing listens on port 1.
    settings.redis_url = "redis://127.0.0.1:1".into();
    let projector = spawn_projector(settings).await;
    let orders: Vec<String> = (0..20).map(|_| order_id()).collect();
    for (i, id) in orders.iter().enumerate() {
        stack
            .append(&[event(id, 1, i as i64, placed(&[("sku-1", 1, "1")]))])
            .await;
    }
    stack.wait_projected().await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&stack.db)
        .await
        .unwrap();
    assert_eq!(count, 20);
    // Cache writes run behind the batch transaction: wait for the first failed attempt.
    let mut status = projector.status().await;
    for _ in 0..100 {
        if status["cache_failed"].as_u64().unwrap() >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        status = projector.status().await;
    }
    assert_eq!(status["ready"], true, "{status}");
    assert!(status["cache_failed"].as_u64().unwrap() >= 1, "{status}");
    assert_eq!(status["cache_written"], 0);
    projector.shutdown().await;
}

/// A Redis server of the test's own, so pausing it disturbs no other test.
struct PrivateRedis {
    url: String,
    child: std::process::Child,
}

impl PrivateRedis {
    fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (installed by scripts/test.sh)");
        PrivateRedis {
            url: format!("redis://127.0.0.1:{port}"),
            child,
        }
    }

    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        for _ in 0..100 {
            if let Ok(conn) = client.get_multiplexed_async_connection().await {
                return conn;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("private Redis did not start");
    }

    async fn version_of(&self, key: &str) -> Option<u64> {
        let text: Option<String> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.connection().await)
            .await
            .unwrap();
        text.map(|t| {
            serde_json::from_str::<serde_json::Value>(&t).unwrap()["version"]
                .as_u64()
                .unwrap()
        })
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn after_a_redis_outage_the_cache_catches_up_with_what_changed_meanwhile() {
    let redis_server = PrivateRedis::start();
    let mut conn = redis_server.connection().await;
    let mut stack = Stack::start().await;
    let mut settings = stack.settings();
    settings.redis_url = redis_server.url.clone();
    let projector = spawn_projector(settings).await;
    let id = order_id();
    stack
        .append(&[event(&id, 1, 0, placed(&[("sku-1", 1, "1")]))])
        .await;
    stack.wait_projected().await;
    let (_, _, prefix) = stack.live_generation().await.expect("a live generation");
    let key = format!("{prefix}order:{id}");
    for _ in 0..100 {
        if redis_server.version_of(&key).await == Some(1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(redis_server.version_of(&key).await, Some(1));

    // Redis stops answering writes for two seconds while the order moves on.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(2000)
        .arg("WRITE")
        .query_async(&mut conn)
        .await
        .unwrap();
    stack.append(&[event(&id, 2, 1, packed())]).await;
    stack.wait_projected().await;
    // The write-through follows the commit; give it its timeout to fail.
    let mut failed = 0;
    for _ in 0..20 {
        failed = projector.status().await["cache_failed"].as_u64().unwrap();
        if failed >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(failed >= 1, "the write during the pause failed");

    // Once Redis answers again, the pending document is written without any new event.
    let mut version = None;
    for _ in 0..100 {
        version = redis_server.version_of(&key).await;
        if version == Some(2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(version, Some(2), "the cache caught up after the outage");
    projector.shutdown().await;
}
