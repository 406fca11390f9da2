//! The Postgres side: migrations, the stored offsets, and the one transaction per batch
//! that loads the touched orders, writes every row change with set-based statements
//! (`UNNEST` of arrays, one statement per table) and moves the offsets with them. The
//! tables, their migrations and the order load belong to `orderflow_read_model`, which the
//! query API reads through too.

use crate::error::ProjectorError;
use crate::fold::BatchPlan;
use crate::fold::model::OrderView;
use crate::tools::generations::Generation;
use orderflow_platform::LogIdentity;
use orderflow_read_model::MIGRATOR;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// An offset per partition.
pub type Offsets = HashMap<i32, i64>;

/// The name of this read model in `projection_offsets`.
pub const PROJECTION: &str = "orders";

/// How a projector writes a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The live projector: every batch checks the generation is still live (under the
    /// pointer's share lock) and announces its orders on
    /// [`orderflow_read_model::ORDERS_CHANNEL`].
    Live,
    /// A rebuild: writes a generation readers do not see yet; nothing to announce.
    Rebuild,
}

/// One generation's read-model tables, for one topic.
#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    topic: String,
    generation: i64,
    role: Role,
}

impl Store {
    /// Connects lazily (a database that is down is retried by each operation) to the
    /// tables of `generation`, with at most `connections` connections.
    pub fn connect(
        database_url: &str,
        topic: &str,
        generation: &Generation,
        role: Role,
        connections: u32,
    ) -> Result<Store, ProjectorError> {
        // A hung statement, a lock held by a stuck peer or an abandoned transaction must
        // fail the batch (which is then retried), never stall the projection for good.
        // Unqualified names resolve in the generation's schema only.
        // Custom plans: the tables grow from empty during a catch-up or rebuild, and a
        // generic plan cached while they were small can scan a whole table for every
        // batch (order loads over a second were seen). Planning a batch's few statements
        // costs about a millisecond.
        let options = PgConnectOptions::from_str(database_url)?.options([
            ("statement_timeout", "30000"),
            ("lock_timeout", "10000"),
            ("idle_in_transaction_session_timeout", "60000"),
            ("search_path", generation.schema.as_str()),
            ("plan_cache_mode", "force_custom_plan"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(options);
        Ok(Store {
            pool,
            topic: topic.to_owned(),
            generation: generation.id,
            role,
        })
    }

    /// The pool, for reads outside a batch (verify, single-order repair).
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the read-model migrations to the generation's schema (its own sqlx
    /// history included, since unqualified names land there).
    pub async fn migrate(&self) -> Result<(), ProjectorError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The stored next offset of each of `partitions`, creating 0 for those never folded,
    /// so every later batch can lock its partition's row.
    pub async fn claim_offsets(&self, partitions: &[i32]) -> Result<Offsets, ProjectorError> {
        Ok(self.resume_points(partitions).await?.0)
    }

    /// Where a consumer of `partitions` resumes: the stored next offsets (claimed, see
    /// [`Store::claim_offsets`]) and, for each, the offset below which every folded order
    /// is known to be in Redis (at most the next offset; ADR 0010).
    pub async fn resume_points(
        &self,
        partitions: &[i32],
    ) -> Result<(Offsets, Offsets), ProjectorError> {
        sqlx::query(
            // A new partition has nothing folded and nothing cached: its cache position is
            // 0, not unknown, so a crash after its first commit and before that batch's
            // cache write still finds the batch to write through (unknown reads as
            // next_offset, which would skip it).
            "INSERT INTO projection_offsets (projection, topic, partition, next_offset, cached_offset)
             SELECT $1, $2, p, 0, 0 FROM UNNEST($3::int[]) AS p
             ON CONFLICT DO NOTHING",
        )
        .bind(PROJECTION)
        .bind(&self.topic)
        .bind(partitions)
        .execute(&self.pool)
        .await?;
        let rows: Vec<(i32, i64, i64)> = sqlx::query_as(
            "SELECT partition, next_offset,
                    LEAST(COALESCE(cached_offset, next_offset), next_offset)
             FROM projection_offsets
             WHERE projection = $1 AND topic = $2 AND partition = ANY($3)",
        )
        .bind(PROJECTION)
        .bind(&self.topic)
        .bind(partitions)
        .fetch_all(&self.pool)
        .await?;
        let next = rows.iter().map(|&(p, n, _)| (p, n)).collect();
        let cached = rows.iter().map(|&(p, _, c)| (p, c)).collect();
        Ok((next, cached))
    }

    /// Records which log this read model folds, or checks it is the one it folded before.
    pub async fn claim_log(&self, log: &LogIdentity) -> Result<(), ProjectorError> {
        let (topic_id, partitions): (String, i32) = sqlx::query_as(
            "WITH claimed AS (
                 INSERT INTO projection_log (projection, topic, topic_id, partitions)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING
                 RETURNING topic_id, partitions)
             SELECT topic_id, partitions FROM claimed
             UNION ALL
             SELECT topic_id, partitions FROM projection_log WHERE projection = $1 AND topic = $2",
        )
        .bind(PROJECTION)
        .bind(&self.topic)
        .bind(&log.topic_id)
        .bind(log.partitions)
        .fetch_one(&self.pool)
        .await?;
        let mut problems = Vec::new();
        if topic_id != log.topic_id {
            problems.push(format!(
                "the read model was folded from topic id {topic_id}, but {} now has id {}: \
                 the topic was deleted and created again",
                self.topic, log.topic_id
            ));
        }
        if partitions != log.partitions {
            problems.push(format!(
                "the read model was folded from {partitions} partitions, the log has {}",
                log.partitions
            ));
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(ProjectorError::LogRefused(format!(
            "refusing to fold {} into this read model: {}; rebuild the read model from the log \
             (docs/runbook-rebuild.md)",
            self.topic,
            problems.join("; ")
        )))
    }

    /// Starts a batch's transaction.
    pub async fn begin(&self) -> Result<BatchTx, ProjectorError> {
        let mut tx = BatchTx {
            tx: self.pool.begin().await?,
            topic: self.topic.clone(),
            notify: self.role == Role::Live,
        };
        if self.role == Role::Live {
            tx.check_live(self.generation).await?;
        }
        Ok(tx)
    }
}

/// The transaction of one batch. Dropped without [`BatchTx::commit`], it rolls back.
pub struct BatchTx {
    tx: Transaction<'static, Postgres>,
    topic: String,
    notify: bool,
}

impl BatchTx {
    async fn check_live(&mut self, generation: i64) -> Result<(), ProjectorError> {
        check_live(&mut self.tx, generation).await
    }

    /// Locks the offset rows of the batch's partitions and checks they are where this
    /// instance expects them; another instance that folded part of them fences this one.
    pub async fn lock_offsets(&mut self, expected: &[(i32, i64)]) -> Result<(), ProjectorError> {
        let partitions: Vec<i32> = expected.iter().map(|(p, _)| *p).collect();
        let stored: HashMap<i32, i64> = sqlx::query_as::<_, (i32, i64)>(
            "SELECT partition, next_offset FROM projection_offsets
             WHERE projection = $1 AND topic = $2 AND partition = ANY($3)
             ORDER BY partition FOR UPDATE",
        )
        .bind(PROJECTION)
        .bind(&self.topic)
        .bind(&partitions)
        .fetch_all(&mut *self.tx)
        .await?
        .into_iter()
        .collect();
        fence(&stored, expected)
    }

    /// The stored state of the given orders, with their items, in one query.
    pub async fn load_orders(
        &mut self,
        order_ids: &[String],
    ) -> Result<HashMap<String, OrderView>, ProjectorError> {
        let views = orderflow_read_model::load_orders_from_tables(&mut *self.tx, order_ids).await?;
        Ok(views
            .into_iter()
            .map(|view| (view.order_id.clone(), view))
            .collect())
    }

    /// Writes the order rows of `plan` (orders, items, history, notifications) and moves
    /// the offsets to `next_offsets`, with how far the cache is confirmed for each
    /// partition (`cached`, in the same order; `None` keeps the stored value); the
    /// analytics follow in [`BatchTx::write_stats`].
    pub async fn write(
        &mut self,
        plan: &BatchPlan,
        next_offsets: &[(i32, i64)],
        cached: &[Option<i64>],
    ) -> Result<(), ProjectorError> {
        crate::sinks::postgres_batch::write_order_rows(&mut self.tx, plan, self.notify).await?;
        let (partitions, offsets): (Vec<i32>, Vec<i64>) = next_offsets.iter().copied().unzip();
        sqlx::query(
            "INSERT INTO projection_offsets (projection, topic, partition, next_offset, cached_offset)
             SELECT $1, $2, p, o, c FROM UNNEST($3::int[], $4::bigint[], $5::bigint[]) AS u(p, o, c)
             ON CONFLICT (projection, topic, partition)
             DO UPDATE SET next_offset = EXCLUDED.next_offset,
                           cached_offset = COALESCE(EXCLUDED.cached_offset, projection_offsets.cached_offset)",
        )
        .bind(PROJECTION)
        .bind(&self.topic)
        .bind(&partitions)
        .bind(&offsets)
        .bind(cached)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Adds the batch's analytics deltas. Every batch loop updates the same few rows, so
    /// this comes last: their locks are then held only until the commit.
    pub async fn write_stats(&mut self, plan: &BatchPlan) -> Result<(), ProjectorError> {
        crate::sinks::postgres_batch::upsert_stats(&mut self.tx, plan).await?;
        Ok(())
    }

    /// Commits the batch: rows, analytics, offsets and notifications at once.
    pub async fn commit(self) -> Result<(), ProjectorError> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// Takes the live pointer's share lock and checks it still names `generation`. Held to
/// the commit, it makes a switch wait for this transaction, and this transaction wait for
/// a switch in progress (then fail, so the writer moves to the new generation).
pub(crate) async fn check_live(
    conn: &mut sqlx::PgConnection,
    generation: i64,
) -> Result<(), ProjectorError> {
    let live: Option<i64> =
        sqlx::query_scalar("SELECT generation FROM orderflow_meta.live FOR SHARE")
            .fetch_optional(&mut *conn)
            .await?;
    if live != Some(generation) {
        return Err(ProjectorError::NotLive { generation });
    }
    Ok(())
}

/// The fencing rule: every partition's stored next offset (0 when none is stored) must be
/// the one the batch expects; another instance that folded part of it fences this one.
pub(crate) fn fence(
    stored: &HashMap<i32, i64>,
    expected: &[(i32, i64)],
) -> Result<(), ProjectorError> {
    for &(partition, expected) in expected {
        let stored = stored.get(&partition).copied().unwrap_or(0);
        if stored != expected {
            return Err(ProjectorError::Fenced {
                partition,
                expected,
                stored,
            });
        }
    }
    Ok(())
}
