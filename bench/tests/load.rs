//! The load generator against a real HTTP server (the empty handler) on loopback.

use orderflow_bench::limits::serve_empty;
use orderflow_bench::load::{closed_loop, open_loop};
use orderflow_bench::services::free_addr;
use orderflow_bench::workloads::{GetOrder, PlaceOrder};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

async fn spawn_empty() -> SocketAddr {
    let addr = free_addr().unwrap();
    tokio::spawn(serve_empty(addr, std::future::pending()));
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return addr;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the empty handler did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_keeps_every_client_busy_and_counts_only_answers() {
    let target = spawn_empty().await;
    let summary = closed_loop(
        4,
        Duration::from_millis(100),
        Duration::from_millis(500),
        Arc::new(PlaceOrder { target }),
    )
    .await
    .unwrap();
    assert_eq!(summary.failed, 0, "{summary:?}");
    assert!(summary.ok > 50, "{summary:?}");
    assert!((0.45..1.0).contains(&summary.seconds), "{summary:?}");
    assert!(summary.p50_ms <= summary.p99_ms && summary.p99_ms <= summary.max_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_starts_exactly_the_scheduled_operations() {
    let target = spawn_empty().await;
    let summary = open_loop(
        8,
        400.0,
        Duration::from_millis(500),
        Arc::new(PlaceOrder { target }),
    )
    .await
    .unwrap();
    assert_eq!((summary.ok, summary.failed), (200, 0), "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finite_workload_ends_the_loop_early_with_each_item_once() {
    let target = spawn_empty().await;
    let ids = Arc::new((0..25).map(|n| format!("order-{n}")).collect::<Vec<_>>());
    let summary = closed_loop(
        3,
        Duration::ZERO,
        Duration::from_secs(30),
        Arc::new(GetOrder::new(target, ids, true)),
    )
    .await
    .unwrap();
    assert_eq!((summary.ok, summary.failed), (25, 0), "{summary:?}");
    assert!(summary.seconds < 5.0, "{summary:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_with_an_unexpected_status_are_failures() {
    let target = spawn_empty().await;
    // The empty handler has no route for this path: every answer is a 404.
    let wrong = Arc::new(GetOrder::new(target, Arc::new(vec!["x/y".into()]), false));
    let summary = closed_loop(2, Duration::ZERO, Duration::from_millis(200), wrong)
        .await
        .unwrap();
    assert_eq!(summary.ok, 0, "{summary:?}");
    assert!(
        summary.failures_by_status.get(&404).copied().unwrap_or(0) > 0,
        "{summary:?}"
    );
}
