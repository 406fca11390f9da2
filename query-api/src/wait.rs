//! Read-your-writes: waiting until the read model holds a version of an order.
//!
//! One background task per process LISTENs on the projector's channel
//! ([`ORDERS_CHANNEL`], payload [`OrderChanged`], sent when a batch commits) and
//! wakes the requests waiting for that order through an in-process registry of
//! `watch` channels, one per order somebody waits for. A woken request reads the row
//! once; nothing polls Postgres on a timer.
//!
//! Lost wakeups are ruled out twice: a request subscribes *before* it reads the row, so a
//! commit between the two still wakes it; and when the listener (re)connects, every
//! waiter is woken to re-read, because notifications sent while it was away are gone.

use crate::cache::Cache;
use crate::error::ApiError;
use crate::metrics;
use crate::store::{OrderDoc, Store};
use crate::streams::{EndReason, Hub};
use orderflow_platform::Backoff;
use orderflow_read_model::{GENERATION_CHANNEL, ORDERS_CHANNEL, OrderChanged};
use sqlx::postgres::PgListener;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The requests waiting for orders, by order id.
#[derive(Debug, Default)]
pub struct Waiters {
    /// The latest version announced for each order someone waits for.
    senders: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// Whether the listener is connected (reported by `/readyz`).
    listening: AtomicBool,
}

/// One request's interest in one order; unregisters itself when dropped.
pub struct Subscription {
    receiver: watch::Receiver<u64>,
    waiters: Arc<Waiters>,
    order_id: String,
}

impl Waiters {
    /// Starts waiting for announcements about `order_id`.
    pub fn subscribe(self: &Arc<Self>, order_id: &str) -> Subscription {
        let mut senders = self.lock();
        let receiver = senders
            .entry(order_id.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Subscription {
            receiver,
            waiters: self.clone(),
            order_id: order_id.to_owned(),
        }
    }

    /// Wakes the waiters of `order_id` (a no-op when nobody waits for it).
    pub fn notify(&self, order_id: &str, version: u64) {
        if let Some(sender) = self.lock().get(order_id) {
            sender.send_modify(|v| *v = (*v).max(version));
        }
    }

    /// Wakes every waiter to re-read its order.
    fn wake_all(&self) {
        for sender in self.lock().values() {
            sender.send_modify(|_| {});
        }
    }

    /// Whether the notification listener is connected.
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    /// Orders somebody waits for.
    #[cfg(test)]
    fn watched(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<u64>>> {
        // The map stays consistent even if a holder panicked: every operation is one call.
        self.senders.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Subscription {
    /// Waits for the next announcement (or listener reconnect) about the order.
    pub(crate) async fn changed(&mut self) {
        // The registry keeps the sender while this receiver exists, so this cannot fail;
        // if it ever did, waiting out the deadline is the safe answer.
        if self.receiver.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut senders = self.waiters.lock();
        // Counted under the lock, so no subscriber can join in between; this receiver is
        // still alive here, hence `<= 1`.
        if senders
            .get(&self.order_id)
            .is_some_and(|s| s.receiver_count() <= 1)
        {
            senders.remove(&self.order_id);
        }
    }
}

/// Waits until the read model holds `order_id` at `min_version` or later, at most `wait`.
/// Reads the row after subscribing, once per wake-up, and once at the deadline (so the
/// 409 reports what the read model holds then). A wait that ends with the version or
/// without it is counted, with how long it took; one cut short by Postgres is not.
pub async fn until_version(
    store: &Store,
    waiters: &Arc<Waiters>,
    order_id: &str,
    min_version: u64,
    wait: Duration,
) -> Result<OrderDoc, ApiError> {
    let started = Instant::now();
    let waited = wait_for(store, waiters, order_id, min_version, started + wait).await;
    match &waited {
        Ok(_) => metrics::wait_ended(true, started.elapsed()),
        Err(ApiError::VersionNotReached { .. }) => metrics::wait_ended(false, started.elapsed()),
        Err(_) => {}
    }
    waited
}

async fn wait_for(
    store: &Store,
    waiters: &Arc<Waiters>,
    order_id: &str,
    min_version: u64,
    deadline: Instant,
) -> Result<OrderDoc, ApiError> {
    let mut subscription = waiters.subscribe(order_id);
    loop {
        let doc = store.order(order_id).await?;
        if let Some(doc) = doc.filter(|d| d.version >= min_version) {
            return Ok(doc);
        }
        if tokio::time::timeout_at(deadline, subscription.changed())
            .await
            .is_err()
        {
            break;
        }
    }
    let doc = store.order(order_id).await?;
    match doc {
        Some(doc) if doc.version >= min_version => Ok(doc),
        doc => Err(ApiError::VersionNotReached {
            order_id: order_id.to_owned(),
            min_version,
            current_version: doc.as_ref().map(|d| d.version),
            owner: doc.map(|d| d.customer_id().to_owned()),
        }),
    }
}

/// The listener task: LISTEN, dispatch announcements, and on any failure reconnect with
/// backoff (then re-read the live generation and wake everyone, since announcements in
/// the gap are lost). Runs until aborted.
pub async fn listen(store: Store, waiters: Arc<Waiters>, cache: Cache, hub: Arc<Hub>) {
    let mut backoff = Backoff::standard();
    loop {
        match connect(&store).await {
            Ok(mut listener) => {
                backoff.reset();
                let live = Live {
                    store: &store,
                    waiters: &waiters,
                    cache: &cache,
                    hub: &hub,
                };
                live.refresh().await;
                waiters.listening.store(true, Ordering::Relaxed);
                tracing::info!(channel = ORDERS_CHANNEL, "listening for read-model changes");
                let cause = dispatch(&mut listener, &live).await;
                waiters.listening.store(false, Ordering::Relaxed);
                // Announcements sent meanwhile are lost: streams of every order end.
                hub.changes_missed();
                tracing::warn!(error = %cause, "notification listener lost; reconnecting");
            }
            Err(e) => {
                tracing::warn!(error = %e, "notification listener not connected; retrying in {:?}", backoff.delay());
            }
        }
        backoff.wait().await;
    }
}

/// Quiet time after which the listener's connection is pinged.
const PING_AFTER: Duration = Duration::from_secs(30);
/// How long a ping may take before the connection counts as lost.
const PING_TIMEOUT: Duration = Duration::from_secs(5);

async fn connect(store: &Store) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(store.pool()).await?;
    listener
        .listen_all([ORDERS_CHANNEL, GENERATION_CHANNEL])
        .await?;
    Ok(listener)
}

/// What an announcement may change: waiting requests, streams, and the generation
/// readers use.
struct Live<'a> {
    store: &'a Store,
    waiters: &'a Waiters,
    cache: &'a Cache,
    hub: &'a Hub,
}

impl Live<'_> {
    /// Takes the live generation's Redis prefix and wakes every waiter to re-read: after
    /// a switch (or a gap in announcements) their order may already be at its version.
    async fn refresh(&self) {
        match self.store.generation().await {
            Ok(generation) => {
                let prefix = generation.map(|(_, prefix)| prefix);
                // Streams folded the old generation's history: their clients reconnect.
                if self.hub.note_generation(prefix.clone()) {
                    self.hub.end_all(EndReason::GenerationSwitch);
                }
                self.cache.set_prefix(prefix);
            }
            Err(e) => {
                // The prefix may be a retired generation's, which nobody writes any more:
                // serve from Postgres until the next announcement or reconnect tells.
                self.cache.set_prefix(None);
                tracing::warn!(error = %e, "reading the live generation failed; not using the cache");
            }
        }
        self.waiters.wake_all();
    }
}

/// Dispatches announcements until the connection fails; returns why.
async fn dispatch(listener: &mut PgListener, live: &Live<'_>) -> String {
    loop {
        // `try_recv` reports a lost connection as `None` instead of silently reconnecting,
        // so the caller knows to wake everyone after reconnecting.
        // A half-open connection would never report anything: after a quiet spell, ping it.
        let Ok(received) = tokio::time::timeout(PING_AFTER, listener.try_recv()).await else {
            let ping = sqlx::query("SELECT 1").execute(&mut *listener);
            match tokio::time::timeout(PING_TIMEOUT, ping).await {
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => return format!("ping failed: {e}"),
                Err(_) => return "the connection did not answer a ping".into(),
            }
        };
        match received {
            Ok(Some(notification)) if notification.channel() == GENERATION_CHANNEL => {
                tracing::info!(
                    generation = notification.payload(),
                    "a new generation of the read model is live"
                );
                live.refresh().await;
            }
            Ok(Some(notification)) => match OrderChanged::parse(notification.payload()) {
                Ok(n) => {
                    live.waiters.notify(&n.order_id, n.version);
                    live.hub.announce(&n.order_id);
                }
                Err(e) => {
                    tracing::debug!(error = %e, payload = notification.payload(), "ignoring an unreadable notification")
                }
            },
            Ok(None) => return "connection closed".into(),
            Err(e) => return e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notifications_wake_subscribers_and_dropping_unregisters() {
        let waiters = Arc::new(Waiters::default());
        let mut a = waiters.subscribe("o-1");
        let b = waiters.subscribe("o-1");
        waiters.notify("o-1", 3);
        waiters.notify("o-2", 9);
        tokio::time::timeout(Duration::from_secs(1), a.changed())
            .await
            .unwrap();
        assert_eq!(*a.receiver.borrow(), 3);
        drop(b);
        assert_eq!(waiters.watched(), 1);
        drop(a);
        assert_eq!(waiters.watched(), 0);
    }

    #[tokio::test]
    async fn a_reconnect_wakes_everyone() {
        let waiters = Arc::new(Waiters::default());
        let mut a = waiters.subscribe("o-1");
        waiters.wake_all();
        tokio::time::timeout(Duration::from_secs(1), a.changed())
            .await
            .unwrap();
    }
}
