//! The Redis order cache, read first by `GET /orders/{id}` and filled on a miss.
//!
//! The projector writes `<prefix>order:<id>` through after every commit, under the prefix
//! of the generation it writes; this side uses the live generation's prefix (kept current
//! by the notification listener, see `wait`), reads
//! it and, on a miss, writes the document it read from Postgres with the projector's own
//! version guard (a Lua script: write only if the key is absent or holds an older
//! version), so a fill racing the projector can never replace a newer state with an older
//! one. Every Redis call is bounded by a short timeout and every failure is a miss: Redis
//! can slow nothing down and break nothing.

use crate::metrics::{self, CacheResult};
use crate::store::OrderDoc;
use orderflow_platform::Backoff;
use orderflow_read_model::{WRITE_IF_NEWER, order_cache_key};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::Value;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

/// The cache of order documents. Cheap to clone.
#[derive(Clone)]
pub struct Cache {
    /// Set once by the background connector; the manager reconnects by itself afterwards.
    connection: Arc<OnceLock<ConnectionManager>>,
    script: Arc<redis::Script>,
    /// The live generation's key prefix; `None` until known (every lookup is a miss then).
    prefix: Arc<RwLock<Option<String>>>,
    ttl: Duration,
    timeout: Duration,
}

impl Cache {
    /// A cache with no connection and no prefix yet; [`Cache::connect`] and
    /// [`Cache::set_prefix`] provide them in the background.
    pub fn new(ttl: Duration, timeout: Duration) -> Cache {
        Cache {
            connection: Arc::new(OnceLock::new()),
            script: Arc::new(redis::Script::new(WRITE_IF_NEWER)),
            prefix: Arc::new(RwLock::new(None)),
            ttl,
            timeout,
        }
    }

    /// Uses the key prefix of the generation that became live (`None`: no cache).
    pub fn set_prefix(&self, prefix: Option<String>) {
        let mut current = self.prefix.write().unwrap_or_else(|e| e.into_inner());
        if *current != prefix {
            tracing::info!(?prefix, "order cache key prefix");
            *current = prefix;
        }
    }

    /// The key of an order's document (the projector's format), if the prefix is known.
    pub fn key(&self, order_id: &str) -> Option<String> {
        let prefix = self.prefix.read().unwrap_or_else(|e| e.into_inner());
        prefix.as_deref().map(|p| order_cache_key(p, order_id))
    }

    /// Connects to Redis, retrying with backoff until it answers. Requests never wait for
    /// this: until it succeeds, every lookup is a miss.
    pub async fn connect(self, url: String) {
        let mut backoff = Backoff::standard();
        loop {
            match self.try_connect(&url).await {
                Ok(manager) => {
                    tracing::info!("connected to Redis");
                    let _ = self.connection.set(manager);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Redis not reachable; serving from Postgres, retrying in {:?}", backoff.delay());
                }
            }
            backoff.wait().await;
        }
    }

    async fn try_connect(&self, url: &str) -> redis::RedisResult<ConnectionManager> {
        let client = redis::Client::open(url)?;
        // Reconnects are bounded like requests, so a Redis that went away costs each
        // request at most the timeout.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout.max(Duration::from_millis(500)))
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1);
        ConnectionManager::new_with_config(client, config).await
    }

    /// The cached document of `order_id` at `min_version` or later, or `None` on a miss,
    /// an older version, an unreadable document, an error or a timeout. Each lookup is
    /// counted as a hit, a miss or an error.
    pub async fn get(&self, order_id: &str, min_version: u64) -> Option<OrderDoc> {
        let (result, doc) = match self.lookup(order_id).await {
            Ok(Some(doc)) if doc.version >= min_version => (CacheResult::Hit, Some(doc)),
            Ok(_) => (CacheResult::Miss, None),
            Err(()) => (CacheResult::Error, None),
        };
        metrics::cache_lookup(result);
        doc
    }

    /// The cached document; `Err` when Redis could not answer or the document is not
    /// the projector's shape.
    async fn lookup(&self, order_id: &str) -> Result<Option<OrderDoc>, ()> {
        let mut connection = self.connection.get().ok_or(())?.clone();
        // No live generation known yet: nothing can be cached under it.
        let Some(key) = self.key(order_id) else {
            return Ok(None);
        };
        let mut command = redis::cmd("GET");
        command.arg(&key);
        let get = command.query_async::<Option<String>>(&mut connection);
        let text = match tokio::time::timeout(self.timeout, get).await {
            Ok(Ok(Some(text))) => text,
            Ok(Ok(None)) => return Ok(None),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "cache read failed; reading Postgres");
                return Err(());
            }
            Err(_) => {
                tracing::debug!("cache read timed out; reading Postgres");
                return Err(());
            }
        };
        parse(&text).map(Some).ok_or(())
    }

    /// Writes `doc` unless the cache already holds that version or a newer one. Best
    /// effort: failures are logged at debug level and ignored.
    pub async fn fill(&self, order_id: &str, doc: &OrderDoc) {
        let (Some(connection), Some(key)) = (self.connection.get(), self.key(order_id)) else {
            return;
        };
        let mut connection = connection.clone();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(key)
            .arg(doc.version)
            .arg(doc.json.to_string())
            .arg(self.ttl.as_millis() as u64);
        let write = invocation.invoke_async::<i64>(&mut connection);
        match tokio::time::timeout(self.timeout, write).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "cache fill failed"),
            Err(_) => tracing::debug!("cache fill timed out"),
        }
    }

    /// Whether Redis answers a PING within the timeout (for `/readyz`).
    pub async fn ping(&self) -> bool {
        let Some(connection) = self.connection.get() else {
            return false;
        };
        let mut connection = connection.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut connection);
        matches!(tokio::time::timeout(self.timeout, ping).await, Ok(Ok(_)))
    }
}

/// A cached document and its version; `None` if it is not the projector's shape.
fn parse(text: &str) -> Option<OrderDoc> {
    let json: Value = serde_json::from_str(text).ok()?;
    let version = json.get("version")?.as_u64()?;
    Some(OrderDoc { version, json })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_without_a_version_are_misses() {
        assert_eq!(parse(r#"{"order_id":"a","version":3}"#).unwrap().version, 3);
        assert!(parse(r#"{"order_id":"a"}"#).is_none());
        assert!(parse("not json").is_none());
    }

    #[test]
    fn keys_follow_the_projector_format_once_the_prefix_is_known() {
        let cache = Cache::new(Duration::from_secs(1), Duration::from_millis(50));
        assert_eq!(cache.key("o-1"), None);
        cache.set_prefix(Some("of-test:g2:".into()));
        assert_eq!(cache.key("o-1").as_deref(), Some("of-test:g2:order:o-1"));
    }
}
