//! The feed of one order: one task per order somebody streams, however many do. It wakes
//! on the order's change notifications (`wait`'s registry), reads the history rows after
//! the version it holds, folds them with the read model's fold and broadcasts each new
//! document. It ends when its last subscriber leaves (after a generation switch, once the
//! hub's `end` has sent them away) and on shutdown.

use crate::store::Store;
use crate::streams::{Change, EndReason, Frame, Hub};
use crate::wait::Waiters;
use orderflow_domain::EventKind;
use orderflow_platform::Backoff;
use orderflow_read_model::{OrderView, UnreadableHistory, apply};
use std::sync::Arc;
use tokio::sync::broadcast;

/// History rows read at once.
pub(crate) const PAGE: u64 = 500;

/// Why reading an order's new versions failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FoldError {
    /// Postgres did not answer. Handling: the feed retries with backoff (its subscribers
    /// wait); a stream's own read ends the stream (`unavailable`) or answers 503.
    #[error("reading the history failed: {0}")]
    Database(#[source] sqlx::Error),
    /// A row does not read back as an event. Handling: logged, streams end.
    #[error(transparent)]
    Unreadable(#[from] UnreadableHistory),
}

/// Which versions [`catch_up`] returns as documents: those in `after..=until`. Folding
/// the ones before costs no serialization, and none after `until` is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted {
    pub after: u64,
    pub until: u64,
}

impl Wanted {
    /// Every new version.
    pub const ALL: Wanted = Wanted {
        after: 0,
        until: u64::MAX,
    };
}

/// Folds `order_id`'s history rows after `view`'s version onto it, up to `wanted.until`;
/// returns the documents of the `wanted` versions, oldest first (nothing when the order is
/// not in the read model).
pub(crate) async fn catch_up(
    store: &Store,
    order_id: &str,
    view: &mut Option<OrderView>,
    wanted: Wanted,
) -> Result<Vec<Change>, FoldError> {
    let mut changes = Vec::new();
    loop {
        let after = view.as_ref().map_or(0, |v| v.version);
        if after >= wanted.until {
            return Ok(changes);
        }
        let rows = store
            .history(order_id, after, PAGE.min(wanted.until - after))
            .await
            .map_err(FoldError::Database)?;
        let full = rows.len() as u64 == PAGE;
        for row in rows {
            let event = row.event(order_id)?;
            // The projector folded this history, so it starts with a placement; a row
            // edited by hand might not, and must not panic here.
            if view.is_none() && !matches!(event.kind, EventKind::Placed(_)) {
                return Err(FoldError::Unreadable(UnreadableHistory {
                    order_id: order_id.to_owned(),
                    version: row.version,
                    reason: "the history does not start with OrderPlaced".into(),
                }));
            }
            let next = apply(view.take(), &event);
            if next.version > wanted.after {
                changes.push(Change::of(&next));
            }
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

    /// Drops `order_id`'s feed whoever still listens (they were told why).
    fn retire_now(&self, order_id: &str, feed: &broadcast::Sender<Frame>) {
        let mut feeds = self.feeds();
        if feeds.get(order_id).is_some_and(|f| f.same_channel(feed)) {
            feeds.remove(order_id);
        }
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
        let mut first = true;
        let mut backoff = Backoff::standard();
        loop {
            match catch_up(&self.store, &self.order_id, &mut view, Wanted::ALL).await {
                Ok(changes) => {
                    backoff.reset();
                    // The first read announces only the version it reached: a subscriber
                    // whose own replay read stopped short fills the gap from the history
                    // (`OrderStream::take`), and nobody gets the whole history pushed.
                    let skip = if first {
                        changes.len().saturating_sub(1)
                    } else {
                        0
                    };
                    for change in changes.into_iter().skip(skip) {
                        let _ = self.feed.send(Frame::Change(Arc::new(change)));
                    }
                    first = false;
                }
                Err(FoldError::Database(e)) => {
                    tracing::warn!(order_id = %self.order_id, error = %e, "stream feed: reading the history failed; retrying in {:?}", backoff.delay());
                    tokio::select! {
                        () = backoff.wait() => continue,
                        () = self.feed.closed() => {
                            if self.hub.retire(&self.order_id, &self.feed) {
                                return;
                            }
                        }
                        () = self.hub.stop.cancelled() => return,
                    }
                    continue;
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
