//! Live streams (Server-Sent Events) of the read model's changes (issue 18).
//!
//! - `GET /orders/{id}/events`: every accepted version of one order, each as the order's
//!   document, with the version as the SSE `id`. A reconnect with `Last-Event-ID` first
//!   gets the versions it missed, rebuilt from the order's history with the read model's
//!   own fold (`orderflow_read_model::apply`), then goes live: no version is missed and
//!   none is sent twice.
//! - `GET /events`: the changes of every order the caller may see (all for operators, its
//!   own for a customer), live, for dashboards.
//!
//! Both are driven by the projector's change notifications (`wait`'s listener hands them
//! to the [`Hub`]), never by polling. Many subscribers of one order share one source: a
//! feed task per watched order ([`order_feed`]) reads each new version once and
//! broadcasts the document. A subscriber that falls more than `stream_buffer` changes
//! behind is dropped with an `end` event (`slow-subscriber`) rather than buffered without
//! bound; on shutdown and on a switch of the read model's generation every stream ends
//! with an `end` event too, and a client reconnects with its `Last-Event-ID`.
//!
//! Layout: this file holds the hub (the feeds, the all-orders channel, the stream count);
//! `order_feed` the per-order task; `all_orders` the all-orders publisher; `http` the
//! handlers and the SSE framing; `schema` the OpenAPI schema of an event.

mod all_orders;
pub(crate) mod http;
mod order_feed;
mod schema;

use orderflow_read_model::OrderView;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

/// Announced changes the all-orders publisher may be behind by before the all-orders
/// streams end (`unavailable`) and their dashboards reload.
const ANNOUNCED_BACKLOG: usize = 4_096;

/// What a stream is sent: a change, or why it ends.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    Change(Arc<Change>),
    End(EndReason),
}

/// One accepted version of an order, as its document.
#[derive(Debug)]
pub(crate) struct Change {
    pub version: u64,
    pub customer_id: String,
    /// The document, serialized once for every subscriber.
    pub json: String,
}

impl Change {
    pub fn of(view: &OrderView) -> Change {
        Change {
            version: view.version,
            customer_id: view.customer_id.clone(),
            json: view.to_json().to_string(),
        }
    }
}

/// Why the server ends a stream (the `reason` of its `end` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// The service is stopping.
    Shutdown,
    /// Another generation of the read model went live: reconnect to read from it.
    GenerationSwitch,
    /// The subscriber fell too far behind; it reconnects with its `Last-Event-ID`.
    SlowSubscriber,
    /// The order's history cannot be read back (logged); reconnecting will not help.
    UnreadableHistory,
    /// The read model could not be read; reconnect shortly.
    Unavailable,
}

impl EndReason {
    /// The `reason` of the `end` event, and the metric's label.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Shutdown => "shutdown",
            EndReason::GenerationSwitch => "generation-switch",
            EndReason::SlowSubscriber => "slow-subscriber",
            EndReason::UnreadableHistory => "unreadable-history",
            EndReason::Unavailable => "unavailable",
        }
    }
}

/// Stream settings.
#[derive(Debug, Clone, Copy)]
pub struct StreamSettings {
    /// Streams open at once; one more is a 503 with `Retry-After`.
    pub max_streams: usize,
    /// Changes a subscriber may be behind before it is dropped.
    pub buffer: usize,
    /// Seconds between heartbeats (SSE comments) on a quiet stream.
    pub heartbeat_secs: u64,
}

/// The live streams of one process.
#[derive(Debug)]
pub struct Hub {
    settings: StreamSettings,
    /// The feed of each order somebody streams.
    feeds: Mutex<HashMap<String, broadcast::Sender<Frame>>>,
    /// Every order's changes, for `GET /events`.
    all: broadcast::Sender<Frame>,
    /// Orders announced changed, for the all-orders publisher ([`Hub::publish_all`]).
    announced: mpsc::Sender<String>,
    announced_rx: Mutex<Option<mpsc::Receiver<String>>>,
    /// The live generation's Redis prefix as last seen (`None`: not seen yet), to tell a
    /// switch from a reconnect.
    generation: Mutex<Option<Option<String>>>,
    /// Set when the all-orders publisher fell behind and its streams were ended; cleared
    /// once it caught up, so they are ended once per overflow, not per notification.
    overflowed: AtomicBool,
    /// Cancelled on shutdown: every stream ends.
    stop: CancellationToken,
    open: AtomicUsize,
}

impl Hub {
    pub fn new(settings: StreamSettings, stop: CancellationToken) -> Hub {
        let (announced, announced_rx) = mpsc::channel(ANNOUNCED_BACKLOG);
        Hub {
            feeds: Mutex::new(HashMap::new()),
            announced,
            announced_rx: Mutex::new(Some(announced_rx)),
            generation: Mutex::new(None),
            overflowed: AtomicBool::new(false),
            all: broadcast::channel(settings.buffer.max(1)).0,
            settings,
            stop,
            open: AtomicUsize::new(0),
        }
    }

    /// Notes the live generation (its Redis prefix, `None` before the first); `true` when
    /// it differs from the one noted before (a switch, seen as it happened or after a
    /// reconnect).
    pub fn note_generation(&self, prefix: Option<String>) -> bool {
        let mut noted = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        let switched = noted.as_ref().is_some_and(|before| *before != prefix);
        *noted = Some(prefix);
        switched
    }

    /// Ends every stream with `reason`; their clients reconnect (a generation switch).
    pub fn end_all(&self, reason: EndReason) {
        let feeds: Vec<_> = self.feeds().drain().map(|(_, feed)| feed).collect();
        for feed in feeds.iter().chain([&self.all]) {
            let _ = feed.send(Frame::End(reason));
        }
    }

    /// Ends every stream and feed (shutdown).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// A place among the open streams, or `None` when `max_streams` are open.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<StreamSlot> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.settings.max_streams {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        crate::metrics::streams_open(1.0);
        Some(StreamSlot { hub: self.clone() })
    }

    fn feeds(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Frame>>> {
        // Nothing under this lock can panic half way through an update of the map.
        self.feeds.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An open stream, counted until dropped.
pub(crate) struct StreamSlot {
    hub: Arc<Hub>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.hub.open.fetch_sub(1, Ordering::AcqRel);
        crate::metrics::streams_open(-1.0);
    }
}
