//! The Redis read model: after each Postgres commit, the current state of every order the
//! batch changed is written through as one JSON document per order
//! (`<prefix>order:<id>`), in one pipeline.
//!
//! Redis is a cache here, never in the way of the projection: each batch's write is
//! bounded by a timeout, failures are counted and logged at most every few seconds, and
//! the projector goes on. A Lua script compares versions so that an older state (a
//! zombie instance, a retried batch) never overwrites a newer one.

use crate::error::ProjectorError;
use crate::fold::model::OrderView;
use orderflow_read_model::{WRITE_IF_NEWER, order_cache_key, order_cache_pattern};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Least time between two attempts to (re)create the connection, so a Redis that is down
/// costs one refused connect per interval, not one per batch.
const RECONNECT_INTERVAL: Duration = Duration::from_secs(1);
/// Least time between two warnings about failed writes.
const LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Most documents kept for rewriting after failed writes; beyond it, the cached orders are
/// dropped from Redis once it is back, so readers fall back to Postgres instead of reading
/// stale documents.
const MAX_PENDING: usize = 100_000;
/// Documents per pipeline when catching up, so each fits well within the timeout.
const WRITE_CHUNK: usize = 500;

/// Counters of the cache writer, shared with `/readyz` and the metrics.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Batches whose write-through succeeded.
    pub written: AtomicU64,
    /// Batches whose write-through failed or timed out.
    pub failed: AtomicU64,
    /// Documents waiting to be written after failed writes.
    pub pending: AtomicU64,
    /// Whether the last write-through failed (false before the first one).
    pub failing: AtomicBool,
}

/// Writes orders through to Redis.
pub struct Cache {
    client: redis::Client,
    connection: Option<ConnectionManager>,
    last_connect: Option<Instant>,
    last_warning: Option<Instant>,
    unreported: u64,
    script: redis::Script,
    prefix: String,
    ttl: Duration,
    timeout: Duration,
    stats: Arc<CacheStats>,
    /// Documents whose write failed, newest version per key: written with the next batch,
    /// so an outage never leaves an older state in Redis after it ends.
    pending: HashMap<String, (u64, String)>,
    /// More writes failed than `pending` holds: purge the prefix before writing again.
    overflowed: bool,
    /// Where an interrupted purge resumes its `SCAN`.
    purge_cursor: u64,
}

impl Cache {
    /// A writer for the Redis at `url`; connects on first use.
    pub fn new(
        url: &str,
        prefix: &str,
        ttl: Duration,
        timeout: Duration,
        stats: Arc<CacheStats>,
    ) -> Result<Cache, ProjectorError> {
        let client = redis::Client::open(url)?;
        Ok(Cache {
            client,
            connection: None,
            last_connect: None,
            last_warning: None,
            unreported: 0,
            script: redis::Script::new(WRITE_IF_NEWER),
            prefix: prefix.to_owned(),
            ttl,
            timeout,
            stats,
            pending: HashMap::new(),
            overflowed: false,
            purge_cursor: 0,
        })
    }

    /// The key of an order's document.
    pub fn key(prefix: &str, order_id: &str) -> String {
        order_cache_key(prefix, order_id)
    }

    /// Writes `orders` through, within the timeout, together with any documents an
    /// earlier failure left pending. Never fails: errors are counted and logged, and the
    /// documents stay pending for the next batch.
    pub async fn write(&mut self, orders: &[&OrderView]) {
        if orders.is_empty() && self.pending.is_empty() && !self.overflowed {
            return;
        }
        // Serialising is CPU work, not waiting on Redis: it stays outside the timeout.
        for o in orders {
            let key = Self::key(&self.prefix, &o.order_id);
            let document = (o.version, o.to_json().to_string());
            match self.pending.get(&key) {
                Some((pending, _)) if *pending >= o.version => {}
                _ => {
                    self.pending.insert(key, document);
                }
            }
        }
        if self.pending.len() > MAX_PENDING {
            self.pending.clear();
            self.overflowed = true;
        }
        let timeout = self.timeout;
        let result = match tokio::time::timeout(timeout, self.flush()).await {
            Ok(result) => result,
            Err(source) => Err(ProjectorError::RedisTimeout {
                after: timeout,
                source,
            }),
        };
        let pending = self.pending.len() as u64;
        self.stats.pending.store(pending, Ordering::Relaxed);
        self.stats.failing.store(result.is_err(), Ordering::Relaxed);
        match result {
            Ok(()) => {
                self.stats.written.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                self.unreported += 1;
                if self
                    .last_warning
                    .is_none_or(|at| at.elapsed() >= LOG_INTERVAL)
                {
                    tracing::warn!(error = %e, failed_batches = self.unreported, pending = self.pending.len(), "writing orders to Redis failed; the Postgres projection goes on");
                    self.last_warning = Some(Instant::now());
                    self.unreported = 0;
                }
            }
        }
    }

    /// Whether every document handed over has been written (nothing pending, no purge
    /// owed).
    pub fn is_clean(&self) -> bool {
        self.pending.is_empty() && !self.overflowed
    }

    /// Purges after an overflow, then writes everything pending, in chunks: each chunk that
    /// Redis acknowledged leaves `pending`, so a timeout keeps the progress made.
    async fn flush(&mut self) -> Result<(), ProjectorError> {
        if self.overflowed {
            self.purge().await?;
            self.overflowed = false;
        }
        while !self.pending.is_empty() {
            let chunk: Vec<(String, u64, String)> = self
                .pending
                .iter()
                .take(WRITE_CHUNK)
                .map(|(k, (v, json))| (k.clone(), *v, json.clone()))
                .collect();
            self.try_write(&chunk).await?;
            for (key, _, _) in &chunk {
                self.pending.remove(key);
            }
        }
        Ok(())
    }

    /// Drops every cached order of this prefix, so nothing older than Postgres is served.
    /// Resumes where an interrupted purge stopped.
    pub(crate) async fn purge(&mut self) -> Result<(), ProjectorError> {
        let pattern = order_cache_pattern(&self.prefix);
        loop {
            let cursor = self.purge_cursor;
            let connection = self.connection().await?;
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(connection)
                .await?;
            if !keys.is_empty() {
                redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async::<()>(connection)
                    .await?;
            }
            self.purge_cursor = next;
            if next == 0 {
                tracing::warn!("purged the cached orders after a long Redis outage");
                return Ok(());
            }
        }
    }

    async fn try_write(
        &mut self,
        documents: &[(String, u64, String)],
    ) -> Result<(), ProjectorError> {
        let ttl_ms = self.ttl.as_millis() as u64;
        let mut pipe = redis::pipe();
        // Loading the script first in the same pipeline means EVALSHA never meets NOSCRIPT
        // (after a Redis restart or failover), at the cost of a few bytes per batch.
        pipe.load_script(&self.script).ignore();
        let invocations: Vec<redis::ScriptInvocation<'_>> = documents
            .iter()
            .map(|(key, version, json)| {
                let mut invocation = self.script.prepare_invoke();
                invocation.key(key).arg(version).arg(json).arg(ttl_ms);
                invocation
            })
            .collect();
        for invocation in &invocations {
            pipe.invoke_script(invocation).ignore();
        }
        let connection = self.connection().await?;
        Ok(pipe.query_async::<()>(connection).await?)
    }

    async fn connection(&mut self) -> Result<&mut ConnectionManager, ProjectorError> {
        let manager = match self.connection.take() {
            Some(manager) => manager,
            None => self.connect().await?,
        };
        Ok(self.connection.insert(manager))
    }

    /// A new connection, unless the last attempt was under [`RECONNECT_INTERVAL`] ago.
    async fn connect(&mut self) -> Result<ConnectionManager, ProjectorError> {
        if self
            .last_connect
            .is_some_and(|at| at.elapsed() < RECONNECT_INTERVAL)
        {
            return Err(ProjectorError::RedisNotConnected);
        }
        self.last_connect = Some(Instant::now());
        // The manager reconnects by itself once it exists; bounded attempts keep a
        // request from waiting on reconnects longer than the batch timeout anyway.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        tracing::info!("connected to Redis");
        Ok(manager)
    }
}
