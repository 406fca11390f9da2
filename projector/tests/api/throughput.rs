//! How fast a backlog is folded (ignored by default: it measures, it does not check).
//! `cargo test -p orderflow-projector --test api -- --ignored --nocapture throughput`

use crate::helpers::{Stack, event, order_id, packed, placed, spawn_projector};
use std::time::Instant;

#[tokio::test]
#[ignore]
async fn throughput_of_a_backlog() {
    let orders: usize = std::env::var("PROJECTOR_BENCH_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let mut stack = Stack::start().await;
    let ids: Vec<String> = (0..orders).map(|_| order_id()).collect();
    let mut events = Vec::with_capacity(orders * 2);
    for (i, id) in ids.iter().enumerate() {
        let kind = placed(&[("sku-1", 1, "2.50"), ("sku-2", 2, "1.25")]);
        events.push(event(id, 1, (i % 600) as i64, kind));
    }
    for id in &ids {
        events.push(event(id, 2, 700, packed()));
    }
    for chunk in events.chunks(5_000) {
        stack.append_many(chunk).await;
    }
    let started = Instant::now();
    let projector = spawn_projector(stack.settings()).await;
    stack.wait_projected().await;
    let elapsed = started.elapsed();
    println!(
        "projected {} events in {elapsed:?}: {:.0} events/s (including start-up and group join)",
        events.len(),
        events.len() as f64 / elapsed.as_secs_f64()
    );
    projector.shutdown().await;
}
