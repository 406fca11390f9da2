//! The feed of one order: one task per order somebody streams, however many do. It wakes
//! on the order's change notifications (`wait`'s registry), reads the history rows after
//! the version it holds, folds them with the read model's fold and broadcasts each new
//! document. It ends when its last subscriber leaves, on shutdown, and when the hub drops
//! it (a generation switch).

use crate::store::Store;
use crate::streams::{Change, EndReason, Frame, Hub};
use crate::wait::Waiters;
use orderflow_platform::Backoff;
use orderflow_read_model::{OrderView, UnreadableHistory, apply};
use std::sync::Arc;
use tokio::sync::broadcast;

/// History rows read at once.
pub(crate) const PAGE: u64 = 500;

/// Why reading an order's new versions failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FoldError {
    /// Postgres did not answer. Handling: retried with backoff; subscribers wait.
    #[error("reading the history failed: {0}")]
    Database(#[source] sqlx::Error),
    /// A row does not read back as an event. Handling: logged, streams end.
    #[error(transparent)]
    Unreadable(#[from] UnreadableHistory),
}

/// Folds `order_id`'s history rows after `view`'s version onto it; returns each new
/// document, oldest first (nothing when the order is not in the read model).
pub(crate) async fn catch_up(
    store: &Store,
    order_id: &str,
    view: &mut Option<OrderView>,
) -> Result<Vec<Change>, FoldError> {
    let mut changes = Vec::new();
    loop {
        let after = view.as_ref().map_or(0, |v| v.version);
        let rows = store
            .history(order_id, after, PAGE)
            .await
            .map_err(FoldError::Database)?;
        let full = rows.len() as u64 == PAGE;
        for row in rows {
            let event = row.event(order_id)?;
            let next = apply(view.take(), &event);
            changes.push(Change::of(&next));
            *view = Some(next);
        }
        if !full {
            return Ok(changes);
        }
    }
}

impl From<FoldError> for crate::error::ApiError {
    fn from(e: FoldError) -> Self {
        match e {
            FoldError::Database(e) => crate::error::ApiError::Database(e),
            FoldError::Unreadable(e) => crate::error::ApiError::UnreadableHistory(e),
        }
    }
}

impl Hub {
    /// A receiver of `order_id`'s feed, starting the feed if none runs. It exists before
    /// the caller reads the history, so nothing committed in between is missed.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        order_id: &str,
        store: &Store,
        waiters: &Arc<Waiters>,
    ) -> broadcast::Receiver<Frame> {
        let mut feeds = self.feeds();
        if let Some(feed) = feeds.get(order_id) {
            return feed.subscribe();
        }
        let (feed, receiver) = broadcast::channel(self.settings.buffer.max(1));
        feeds.insert(order_id.to_owned(), feed.clone());
        let task = Feed {
            hub: self.clone(),
            order_id: order_id.to_owned(),
            feed,
            store: store.clone(),
        };
        tokio::spawn(task.run(waiters.clone()));
        receiver
    }

    /// Drops `order_id`'s feed if nobody subscribes to it any more; under the map's lock,
    /// so a subscriber arriving meanwhile keeps it. `true` when dropped.
    fn retire(&self, order_id: &str, feed: &broadcast::Sender<Frame>) -> bool {
        let mut feeds = self.feeds();
        if feed.receiver_count() > 0 {
            return false;
        }
        if feeds.get(order_id).is_some_and(|f| f.same_channel(feed)) {
            feeds.remove(order_id);
        }
        true
    }
}

struct Feed {
    hub: Arc<Hub>,
    order_id: String,
    feed: broadcast::Sender<Frame>,
    store: Store,
}

impl Feed {
    async fn run(self, waiters: Arc<Waiters>) {
        // Registered before the first read, so a commit in between still wakes the feed.
        let mut woken = waiters.subscribe(&self.order_id);
        let mut view = None;
        // The first read only builds the state: each subscriber replays up to where it
        // joined by itself.
        let mut announce = false;
        let mut backoff = Backoff::standard();
        loop {
            match catch_up(&self.store, &self.order_id, &mut view).await {
                Ok(changes) => {
                    backoff.reset();
                    for change in changes.into_iter().filter(|_| announce) {
                        let _ = self.feed.send(Frame::Change(Arc::new(change)));
                    }
                    announce = true;
                }
                Err(FoldError::Database(e)) => {
                    tracing::warn!(order_id = %self.order_id, error = %e, "stream feed: reading the history failed; retrying in {:?}", backoff.delay());
                    tokio::select! {
                        () = backoff.wait() => continue,
                        () = self.hub.stop.cancelled() => return,
                    }
                }
                Err(FoldError::Unreadable(e)) => {
                    tracing::error!(error = %e, "stream feed: the history does not read back; ending its streams");
                    let _ = self.feed.send(Frame::End(EndReason::UnreadableHistory));
                    self.hub.retire_now(&self.order_id, &self.feed);
                    return;
                }
            }
            tokio::select! {
                () = woken.changed() => {}
                () = self.feed.closed() => {
                    if self.hub.retire(&self.order_id, &self.feed) {
                        return;
                    }
                }
                () = self.hub.stop.cancelled() => return,
            }
        }
    }
}

impl Hub {
    /// Drops `order_id`'s feed whoever still listens (they were told why).
    fn retire_now(&self, order_id: &str, feed: &broadcast::Sender<Frame>) {
        let mut feeds = self.feeds();
        if feeds.get(order_id).is_some_and(|f| f.same_channel(feed)) {
            feeds.remove(order_id);
        }
    }
}
