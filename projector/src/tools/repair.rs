//! `projector repair --order ID`: rewrites one order's rows in the live generation from
//! its partition, without a rebuild.
//!
//! The order's events are read from its partition up to the live generation's stored
//! offset, folded with the projector's own fold, and written in one transaction that holds
//! the live pointer (share) and the partition's offset row (update), so the live projector
//! neither moves past nor writes that partition meanwhile. The order's row, items and
//! history are replaced, and the status counts are counted again from the orders table
//! (they are exactly that count). Hourly and product analytics are sums of placements
//! that one order cannot correct (a full rebuild does). The cached document is deleted,
//! so the next read fills it from the repaired row.

use crate::error::ProjectorError;
use crate::fold::fold_batch;
use crate::fold::model::{DecodedRecord, Position};
use crate::settings::Settings;
use crate::sinks::postgres::{Role, Store, check_live};
use crate::tools::generations::Generations;
use crate::tools::logscan::{Scan, partition_ends};
use orderflow_domain::Status;
use orderflow_platform::partition_for_key;
use orderflow_read_model::order_cache_key;
use orderflow_schemas::EventCodec;
use rdkafka::message::Message;
use std::collections::HashMap;

/// What a repair did.
#[derive(Debug, Clone, PartialEq)]
pub struct RepairReport {
    pub order_id: String,
    pub generation: i64,
    pub partition: i32,
    /// Events of the order found in the log, up to the stored offset.
    pub events: usize,
    /// Version and status stored before, if the order had a row.
    pub before: Option<(i64, String)>,
    /// Version and status now, if the log holds the order.
    pub after: Option<(u64, Status)>,
}

/// Rebuilds the rows of `order_id` in the live generation.
pub async fn repair_order(
    settings: &Settings,
    order_id: &str,
) -> Result<RepairReport, ProjectorError> {
    let generations = Generations::connect(&settings.database_url, &settings.redis_prefix)?;
    generations.prepare().await?;
    let live = generations.require_live().await?;
    let store = Store::connect(
        &settings.database_url,
        &settings.log.topic,
        &live,
        Role::Live,
        settings.connections(),
    )?;
    let partitions = partition_ends(&settings.kafka, &settings.log.topic)
        .await?
        .len() as i32;
    let partition = partition_for_key(order_id.as_bytes(), partitions.max(1));
    let codec = EventCodec::new(&settings.registry.settings(), &settings.log.topic)
        .map_err(ProjectorError::Registry)?;

    // Most of the partition is read before locking, the few records the live projector
    // folds meanwhile after it: the lock is held only for that tail and the write.
    let unlocked = stored_offset(&store, &settings.log.topic, partition).await?;
    let reader = Reader {
        settings,
        codec: &codec,
        order_id,
        partition,
    };
    let mut records = reader.read(0, unlocked).await?;
    let mut tx = store.pool().begin().await?;
    check_live(&mut tx, live.id).await?;
    let locked = lock_offset(&mut tx, &settings.log.topic, partition).await?;
    records.extend(reader.read(unlocked, locked).await?);

    let plan = fold_batch(HashMap::new(), &records);
    let before = replace_rows(&mut tx, order_id, &plan).await?;
    recount_statuses(&mut tx).await?;
    tx.commit().await?;
    let after = plan.orders.first().map(|c| (c.view.version, c.view.status));
    forget_cached(settings, &live.redis_prefix, order_id).await;
    Ok(RepairReport {
        order_id: order_id.to_owned(),
        generation: live.id,
        partition,
        events: records.len(),
        before,
        after,
    })
}

/// Replaces the order's rows (order, items, history) with those of `plan`; what the row
/// said before (version, status), if there was one.
async fn replace_rows(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    order_id: &str,
    plan: &crate::fold::BatchPlan,
) -> Result<Option<(i64, String)>, ProjectorError> {
    let before: Option<(i64, String)> =
        sqlx::query_as("SELECT version, status FROM orders WHERE order_id = $1")
            .bind(order_id)
            .fetch_optional(&mut **tx)
            .await?;
    for table in ["order_history", "order_items", "orders"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE order_id = $1"))
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
    }
    crate::sinks::postgres_batch::write_orders(tx, plan).await?;
    Ok(before)
}

/// Reads one order's decodable records of its partition.
struct Reader<'a> {
    settings: &'a Settings,
    codec: &'a EventCodec,
    order_id: &'a str,
    partition: i32,
}

impl Reader<'_> {
    /// The order's records in `[from, until)`.
    async fn read(&self, from: i64, until: i64) -> Result<Vec<DecodedRecord>, ProjectorError> {
        let s = self.settings;
        let mut scan = Scan::open_from(&s.kafka, &s.log.topic, self.partition, from, until)?;
        let mut records = Vec::new();
        while let Some(message) = scan.next().await? {
            if message.key() != Some(self.order_id.as_bytes()) {
                continue;
            }
            match self
                .codec
                .decode(message.payload().unwrap_or_default())
                .await
            {
                Ok(event) if event.order_id == self.order_id => records.push(DecodedRecord {
                    position: Position {
                        partition: message.partition(),
                        offset: message.offset(),
                    },
                    event,
                }),
                Ok(_) => {}
                // Poison is left out, as the projector dead-letters it; the registry's
                // failures (an unknown schema id among them) stop the repair.
                Err(e) if e.is_poison() => {}
                Err(e) => {
                    let (partition, offset) = (message.partition(), message.offset());
                    return Err(ProjectorError::unreadable(partition, offset, e));
                }
            }
        }
        Ok(records)
    }
}

async fn stored_offset(store: &Store, topic: &str, partition: i32) -> Result<i64, ProjectorError> {
    let offset: Option<i64> = sqlx::query_scalar(
        "SELECT next_offset FROM projection_offsets WHERE topic = $1 AND partition = $2",
    )
    .bind(topic)
    .bind(partition)
    .fetch_optional(store.pool())
    .await?;
    Ok(offset.unwrap_or(0))
}

async fn lock_offset(
    conn: &mut sqlx::PgConnection,
    topic: &str,
    partition: i32,
) -> Result<i64, ProjectorError> {
    let offset: Option<i64> = sqlx::query_scalar(
        "SELECT next_offset FROM projection_offsets
         WHERE topic = $1 AND partition = $2 FOR UPDATE",
    )
    .bind(topic)
    .bind(partition)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(offset.unwrap_or(0))
}

/// Counts the orders per status again: whatever the stored counts were, they become the
/// count of the orders table.
async fn recount_statuses(conn: &mut sqlx::PgConnection) -> Result<(), ProjectorError> {
    // Batches of other partitions update the counts too: they wait for this commit, so
    // the recount does not overwrite what they add meanwhile.
    sqlx::query("LOCK TABLE stats_status IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE stats_status s SET order_count = COALESCE(
             (SELECT count(*) FROM orders o WHERE o.status = s.status), 0)",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO stats_status (status, order_count)
         SELECT status, count(*) FROM orders GROUP BY status
         ON CONFLICT (status) DO NOTHING",
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Deletes the order's cached document; failures only cost a stale document until its
/// TTL or the order's next change, so they are logged.
async fn forget_cached(settings: &Settings, prefix: &str, order_id: &str) {
    let key = order_cache_key(prefix, order_id);
    let deleted = async {
        let client = redis::Client::open(settings.redis_url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("DEL")
            .arg(&key)
            .query_async::<i64>(&mut conn)
            .await
    };
    if let Err(e) = deleted.await {
        tracing::warn!(error = %e, %key, "could not delete the cached document");
    }
}
