//! orderflow's projector: folds the `orders.events` log into the read models, effectively
//! once.
//!
//! Instances share the topic's partitions through a consumer group. Records are taken in
//! batches (up to N records or T ms), decoded through the Schema Registry, folded with the
//! domain's shared rule (`orderflow_domain::fold`: a version must be exactly `current + 1`
//! and the transition allowed), and written to Postgres in **one transaction per batch**
//! that also stores each partition's next offset. Several batch loops write at once, each
//! on its own connection and with partitions of its own (`--writers`). The stored offsets, not Kafka's, say
//! where to resume, so a crash at any moment loses nothing and applies nothing twice.
//! After the commit, the changed orders are written through to Redis (best effort, bounded
//! by a timeout); poison records go to a dead-letter topic before the batch commits.
//!
//! Analytics are kept incrementally in the same transaction: `stats_hourly` counts
//! placements and their revenue in the hour of `OrderPlaced.occurred_at` (tumbling
//! windows), `stats_products` the quantities and revenue placed per product; neither is
//! reduced by a cancellation (they measure demand placed, and a placed hour never changes
//! after the fact). `stats_status` counts orders per *current* status: every accepted
//! transition moves one order from the old status's row to the new one. Each accepted
//! batch also sends `pg_notify('orderflow_orders', {"order_id", "version"})` per changed
//! order, delivered on commit, so a query API can wait for a version without polling.
//!
//! The tables live in a *generation* of the read model (ADR 0007, [`tools::generations`]): a
//! Postgres schema and a Redis prefix of their own, read through views that a rebuild
//! ([`tools::rebuild`]) re-points atomically. The live projector checks in every batch that its
//! generation is still live, and moves to the new one after a switch. [`tools::verify`] compares
//! the live generation with an in-memory fold of the log; [`tools::repair`] rebuilds one order.
//!
//! Layout (each folder's own doc says more):
//! - `live/`: the hot path, from a record on the log to a committed batch: the group
//!   consumer and its polling thread, the decoder stage, the batch loops, the cache writer,
//!   and the wiring that connects them to a generation;
//! - `fold/`: the pure part: from decoded events and current state to row changes
//!   (`model` holds the row and document types);
//! - `sinks/`: Postgres (rows and offsets, one transaction per batch), Redis (the order
//!   cache) and the dead-letter topic;
//! - `health/`: `/healthz`, `/readyz`, counters, the Prometheus series and the lag
//!   reports;
//! - `tools/`: the operator's tools (generations, rebuild, verify, repair) and their
//!   command line;
//! - `settings`: typed configuration ([`Settings`]); `error`: [`ProjectorError`].

mod error;
mod fold;
mod health;
mod live;
mod settings;
mod sinks;
pub mod tools;

pub use error::ProjectorError;
pub use fold::model::{DecodedRecord, HistoryRow, OrderChange, OrderView, Position};
pub use fold::{BatchPlan, fold_batch};
pub use health::Health;
pub use settings::Settings;
pub use sinks::postgres::{PROJECTION, Role, Store};
pub use sinks::redis::Cache;
pub use tools::progress::ProgressMode;
pub use tools::rebuild::{RebuildOptions, RebuildReport, rebuild};

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves `/healthz`, `/readyz` and `/metrics` on `listener` and runs the projection until
/// `shutdown` completes. Postgres, Kafka and the registry are connected in the background,
/// retried with backoff; `/readyz` is 503 until the group assigned this instance and
/// Postgres answers.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    settings
        .check()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // Before the router is built: its HTTP metrics layer looks for the recorder.
    orderflow_platform::metrics::install("projector", &settings.metrics);
    let health = Arc::new(Health::default());
    // The root of the projector's cancellation tree: every generation run, batch loop and
    // reporter below it stops when the process does.
    let stop = CancellationToken::new();
    tracing::info!(
        database = %orderflow_platform::redact::url(&settings.database_url),
        redis = %orderflow_platform::redact::url(&settings.redis_url),
        registry = %orderflow_platform::redact::url(&settings.registry.url),
        kafka = ?settings.kafka,
        "projecting"
    );
    let http = settings.http.clone();
    let mut projection = tokio::spawn(live::project(settings, health.clone(), stop.clone()));
    let shutdown = async move {
        // Cancels on `shutdown`, and also when the server ends any other way.
        let _stop = stop.drop_guard();
        shutdown.await;
    };
    let served = orderflow_platform::serve(listener, health::router(health), shutdown, &http);
    tokio::select! {
        served = served => {
            // Stopping between batches is clean; a batch cut short rolls back, which is safe too.
            let _ = tokio::time::timeout(Duration::from_secs(15), projection).await;
            served
        }
        // Only a log refused at start-up ends the projection before the server.
        Ok(Err(refused)) = &mut projection => {
            Err(std::io::Error::new(std::io::ErrorKind::InvalidData, refused))
        }
    }
}
