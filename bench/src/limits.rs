//! The limits: what the machine does for the same work without orderflow's logic, so each
//! figure can be read as a share of what is possible here.
//!
//! - raw produce: the seed's produce of pre-encoded records (see `seed::produce`);
//! - raw consume: an rdkafka consumer reading the whole topic and doing nothing else;
//! - an empty axum handler under the same load generator (`bench serve-empty`);
//! - Postgres `COPY` of the rows the projector writes for the backlog;
//! - Redis `GET` of the cached documents through the redis crate, same concurrency.

use crate::load::{Outcome, Workload};
use anyhow::Context;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use orderflow_platform::{KafkaSettings, ReadToEnd, whole_partitions};
use orderflow_projector::{
    DecodedRecord, HistoryRow, OrderChange, OrderView, Position, fold_batch,
};
use rdkafka::Message;
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Serves the shapes of the command and query APIs with no work behind them.
pub async fn serve_empty(
    listen: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    const ACK: &str = r#"{"order_id":"00000000-0000-0000-0000-000000000000","version":1}"#;
    let app = Router::new()
        .route(
            "/orders",
            post(|_: String| async { (StatusCode::CREATED, ACK) }),
        )
        .route("/orders/{id}", get(|| async { ACK }))
        .route("/readyz", get(|| async { "ready" }));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// What a raw read of a topic found.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub events: u64,
    pub elapsed: Duration,
    /// Per partition, the offset after its last record.
    pub ends: BTreeMap<i32, i64>,
}

/// Reads every record of `topic` once with a bare rdkafka consumer, to the end of each
/// partition (the one way to read to the end, `ReadToEnd`).
pub async fn raw_consume(
    kafka: &KafkaSettings,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<Consumed> {
    let properties = [
        ("group.id", "orderflow-bench-raw"),
        ("isolation.level", "read_uncommitted"),
    ];
    let spans = whole_partitions(partitions);
    let mut reader = ReadToEnd::open(kafka, &properties, topic, &spans, RAW_STALL)
        .context("creating the consumer")?;
    let started = Instant::now();
    let mut ends = BTreeMap::new();
    let mut events = 0;
    while let Some(m) = reader.next().await.context("consuming")? {
        events += 1;
        ends.insert(m.partition(), m.offset() + 1);
    }
    Ok(Consumed {
        events,
        elapsed: started.elapsed(),
        ends,
    })
}

/// Longest the raw read waits for a record before it gives up.
const RAW_STALL: Duration = Duration::from_secs(60);

/// Rows the `COPY` limit wrote, and how long it took.
#[derive(Debug, Clone, Copy)]
pub struct Copied {
    pub events: usize,
    pub rows: usize,
    pub elapsed: Duration,
}

/// `COPY`s the rows the projector makes of `records` (orders, items, history) into
/// scratch copies of the read model's tables in `schema`, created `LIKE` the live ones.
pub async fn pg_copy(
    pool: &PgPool,
    live_schema: &str,
    schema: &str,
    records: Vec<DecodedRecord>,
) -> anyhow::Result<Copied> {
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(pool)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(pool)
        .await?;
    for table in ["orders", "order_items", "order_history"] {
        sqlx::query(&format!(
            "CREATE TABLE {schema}.{table} (LIKE {live_schema}.{table} INCLUDING ALL)"
        ))
        .execute(pool)
        .await?;
    }
    let events = records.len();
    let plan = fold_batch(HashMap::new(), &records);
    drop(records);
    let (orders, items, history) = copy_text(&plan.orders, &plan.history);
    let rows = plan.orders.len() + plan.history.len() + items.lines().count();
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    for (table, text) in [
        ("orders", orders),
        ("order_items", items),
        ("order_history", history),
    ] {
        let mut copy = conn
            .copy_in_raw(&format!("COPY {schema}.{table} FROM STDIN"))
            .await?;
        copy.send(text.into_bytes()).await?;
        copy.finish().await?;
    }
    let elapsed = started.elapsed();
    drop(conn);
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(pool)
        .await?;
    Ok(Copied {
        events,
        rows,
        elapsed,
    })
}

/// The three tables' rows in `COPY`'s text format, columns in table order.
fn copy_text(orders: &[OrderChange], history: &[HistoryRow]) -> (String, String, String) {
    let (mut o, mut i, mut h) = (String::new(), String::new(), String::new());
    for change in orders {
        let v: &OrderView = &change.view;
        let _ = writeln!(
            o,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            v.order_id,
            esc(&v.customer_id),
            v.status.as_str(),
            v.items.len(),
            v.total_amount,
            esc(&v.shipping_address),
            opt(&v.warehouse),
            opt(&v.carrier),
            opt(&v.tracking_number),
            opt(&v.location),
            opt(&v.cancel_reason),
            v.version,
            v.placed_at.to_rfc3339(),
            v.updated_at.to_rfc3339(),
            v.estimated_delivery
                .map_or("\\N".to_owned(), |d| d.to_string()),
            esc(&v.currency),
            opt(&v.reject_reason),
        );
        for (n, item) in v.items.iter().enumerate() {
            let _ = writeln!(
                i,
                "{}\t{}\t{}\t{}\t{}",
                v.order_id,
                n + 1,
                esc(&item.product_id),
                item.quantity,
                item.unit_price
            );
        }
    }
    for row in history {
        let _ = writeln!(
            h,
            "{}\t{}\t{}\t{}\t{}\t{}",
            row.order_id,
            row.version,
            row.event_type,
            row.event_id,
            row.occurred_at.to_rfc3339(),
            esc(&row.data.to_string())
        );
    }
    (o, i, h)
}

/// Escapes a value for `COPY`'s text format.
fn esc(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn opt(value: &Option<String>) -> String {
    value.as_deref().map_or("\\N".to_owned(), esc)
}

/// The records of a backlog as the projector decodes them, positions made up in order.
pub fn decoded(events: Vec<orderflow_domain::Event>) -> Vec<DecodedRecord> {
    events
        .into_iter()
        .enumerate()
        .map(|(n, event)| DecodedRecord {
            position: Position {
                partition: 0,
                offset: n as i64,
            },
            event,
        })
        .collect()
}

/// `GET` of cached documents through the redis crate: one multiplexed connection shared
/// by all clients, as the query API uses it.
pub struct RedisGet {
    pub connection: redis::aio::MultiplexedConnection,
    pub keys: Vec<String>,
    next: std::sync::atomic::AtomicUsize,
}

impl RedisGet {
    pub async fn new(url: &str, keys: Vec<String>) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(RedisGet {
            connection: client.get_multiplexed_async_connection().await?,
            keys,
            next: Default::default(),
        })
    }
}

impl Workload for RedisGet {
    type Client = redis::aio::MultiplexedConnection;

    async fn connect(&self) -> anyhow::Result<Self::Client> {
        Ok(self.connection.clone())
    }

    async fn run(&self, conn: &mut Self::Client) -> Outcome {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let key = &self.keys[crate::load::scatter(n, self.keys.len())];
        let got: redis::RedisResult<Option<Vec<u8>>> =
            redis::cmd("GET").arg(key).query_async(conn).await;
        match got {
            Ok(Some(_)) => Outcome::Ok,
            Ok(None) => Outcome::Failed(404),
            Err(_) => Outcome::Failed(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_would_end_a_field_or_a_row() {
        assert_eq!(esc("a\tb\nc\\d"), "a\\tb\\nc\\\\d");
        assert_eq!(opt(&None), "\\N");
    }
}
