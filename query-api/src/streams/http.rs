//! The stream endpoints and their SSE framing.
//!
//! Events: `order` (a document; on the order stream its `id` is the version), and `end`
//! (`{"reason": ..., "last_version": ...}`) before the server closes a stream. Quiet
//! streams get a comment line every `heartbeat_secs`.

use crate::access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::orders;
use crate::params;
use crate::streams::order_feed::{FoldError, Wanted, catch_up};
use crate::streams::schema::StreamEvent;
use crate::streams::{Change, EndReason, Frame, StreamSlot};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use orderflow_auth::Caller;
use orderflow_platform::Problem;
use serde_json::json;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio_util::sync::CancellationToken;

/// How soon a client reconnects after a stream ends (the SSE `retry` field).
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// `GET /orders/{id}/events`: for the order's customer or an operator.
#[utoipa::path(
    get,
    path = "/orders/{id}/events",
    operation_id = "streamOrder",
    tag = "streams",
    summary = "An order's changes, live",
    description = "Server-Sent Events: first the order's document (or, with `Last-Event-ID`, \
        every version after that one, from the history), then each new version as it is \
        accepted. Event `order`: the document, `id` its version. Event `end`: the server \
        closes the stream (`shutdown`, `generation-switch`, `slow-subscriber`, \
        `unavailable`, `unreadable-history`); reconnect with the last `id` to go on where \
        it stopped.",
    params(("id" = String, Path, description = crate::orders::ID_DOC, min_length = 1,
            max_length = 64, pattern = r"^[A-Za-z0-9._:-]{1,64}$"),
           ("Last-Event-ID" = Option<String>, Header,
            description = "The last version received: the stream starts after it. Anything \
                but a version is ignored (the stream starts with the current document), as \
                a client may only echo what it was sent.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stream.", content_type = "text/event-stream",
         body = StreamEvent),
        (status = 400, description = "The path does not parse.",
         body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not the caller's.", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
pub async fn order_events(
    State(app): State<AppState>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = params::order_id(path)?;
    let seen = last_event_id(&headers);
    orders::visible(&app, &caller, &id).await?;
    let slot = app.hub.admit().ok_or(ApiError::TooManyStreams)?;
    // Subscribed before the history is read: a version committed in between comes live.
    let receiver = app.hub.subscribe(&id, &app.store, &app.waiters);
    // Only the versions the client lacks are made documents (none without an id).
    let wanted = Wanted {
        after: seen.unwrap_or(u64::MAX),
        until: u64::MAX,
    };
    let mut view = None;
    let replay = catch_up(&app.store, &id, &mut view, wanted).await?;
    let mut stream = OrderStream::new(app.clone(), id, receiver, slot);
    stream.start(seen, replay, view.as_ref().map(Change::of));
    Ok(sse(&app, stream.into_stream()))
}

/// `GET /events`: every order's changes for an operator, its own for a customer.
#[utoipa::path(
    get,
    path = "/events",
    operation_id = "streamOrders",
    tag = "streams",
    summary = "All orders' changes, live",
    description = "Server-Sent Events for dashboards: event `order` with the changed order's \
        document (all orders for an operator, a customer's own), from now on; event `end` \
        before the server closes the stream. Several changes of one order committed \
        together arrive as its latest document.",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The stream.", content_type = "text/event-stream",
         body = StreamEvent),
        (status = 403, description = "The token has neither the customer nor the operator role.",
         body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn all_events(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> Result<Response, ApiError> {
    let customer = access::list_filter(&caller, None)?;
    let slot = app.hub.admit().ok_or(ApiError::TooManyStreams)?;
    let stream = AllStream {
        receiver: app.hub.all.subscribe(),
        customer,
        stop: app.hub.stop.clone(),
        ended: false,
        _slot: slot,
    };
    let stream = futures::stream::unfold(stream, |mut stream| async move {
        let event = stream.next().await?;
        Some((Ok(event), stream))
    });
    Ok(sse(&app, stream))
}

/// One subscriber of every order's changes.
struct AllStream {
    receiver: broadcast::Receiver<Frame>,
    /// A customer's own id: only its orders are sent.
    customer: Option<String>,
    stop: CancellationToken,
    ended: bool,
    _slot: StreamSlot,
}

impl AllStream {
    async fn next(&mut self) -> Option<Event> {
        while !self.ended {
            match recv(&mut self.receiver, &self.stop).await {
                Frame::Change(c)
                    if self
                        .customer
                        .as_ref()
                        .is_some_and(|own| *own != c.customer_id) => {}
                Frame::Change(c) => return Some(document(&c, false)),
                Frame::End(reason) => {
                    self.ended = true;
                    return Some(end(reason, None));
                }
            }
        }
        None
    }
}

/// The next frame of a feed; an end when stopping or lagging.
async fn recv(receiver: &mut broadcast::Receiver<Frame>, stop: &CancellationToken) -> Frame {
    tokio::select! {
        biased;
        () = stop.cancelled() => Frame::End(EndReason::Shutdown),
        frame = receiver.recv() => match frame {
            Ok(frame) => frame,
            Err(RecvError::Lagged(_)) => Frame::End(EndReason::SlowSubscriber),
            // The hub keeps a feed's sender while it runs; should it be gone, reconnect.
            Err(RecvError::Closed) => Frame::End(EndReason::Unavailable),
        },
    }
}

/// One subscriber of one order: what it has been sent, and what is queued for it.
struct OrderStream {
    app: AppState,
    order_id: String,
    receiver: broadcast::Receiver<Frame>,
    /// The last version sent (or the client's `Last-Event-ID`).
    sent: Option<u64>,
    queue: VecDeque<Arc<Change>>,
    /// Why the stream ends, once the queue is sent.
    ending: Option<EndReason>,
    ended: bool,
    stop: CancellationToken,
    _slot: StreamSlot,
}

impl OrderStream {
    fn new(
        app: AppState,
        order_id: String,
        receiver: broadcast::Receiver<Frame>,
        slot: StreamSlot,
    ) -> OrderStream {
        let stop = app.hub.stop.clone();
        OrderStream {
            app,
            order_id,
            receiver,
            sent: None,
            queue: VecDeque::new(),
            ending: None,
            ended: false,
            stop,
            _slot: slot,
        }
    }

    /// Queues what the client lacks: the `replay` of the versions after its `Last-Event-ID`
    /// (`seen`), or, without one or with one beyond the order's version (another
    /// generation's), the `current` document alone.
    fn start(&mut self, seen: Option<u64>, replay: Vec<Change>, current: Option<Change>) {
        let current_version = current.as_ref().map_or(0, |c| c.version);
        match seen {
            Some(seen) if seen <= current_version => {
                self.sent = Some(seen);
                self.queue.extend(replay.into_iter().map(Arc::new));
            }
            _ => self.queue.extend(current.map(Arc::new)),
        }
    }

    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> + Send {
        futures::stream::unfold(self, |mut stream| async move {
            let event = stream.next().await?;
            Some((Ok(event), stream))
        })
    }

    /// The next event, `None` once the stream has ended. An end the feed announced is sent
    /// after the changes queued before it.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(change) = self.queue.pop_front() {
                self.sent = Some(change.version);
                return Some(document(&change, true));
            }
            if let Some(reason) = self.ending.take() {
                self.ended = true;
                return Some(end(reason, self.sent));
            }
            if self.ended {
                return None;
            }
            match recv(&mut self.receiver, &self.stop).await {
                Frame::Change(change) => self.take(change).await,
                Frame::End(reason) => self.ending = Some(reason),
            }
        }
    }

    /// Queues a change from the feed: skipped when already sent, and preceded by the
    /// versions in between when the feed started after this stream's replay.
    async fn take(&mut self, change: Arc<Change>) {
        let sent = self.sent.unwrap_or(0);
        if change.version <= sent {
            return;
        }
        if change.version == sent + 1 {
            self.queue.push_back(change);
            return;
        }
        let wanted = Wanted {
            after: sent,
            until: change.version,
        };
        match catch_up(&self.app.store, &self.order_id, &mut None, wanted).await {
            Ok(missed) => {
                let filled = missed.last().map_or(sent, |c| c.version);
                self.queue.extend(missed.into_iter().map(Arc::new));
                // The history read may lag the feed's: the change itself closes the gap.
                if filled < change.version {
                    self.queue.push_back(change);
                }
            }
            Err(e) => {
                tracing::warn!(order_id = %self.order_id, error = %e, "stream: filling a gap failed; ending the stream");
                self.ending = Some(match e {
                    FoldError::Database(_) => EndReason::Unavailable,
                    FoldError::Unreadable(_) => EndReason::UnreadableHistory,
                });
            }
        }
    }
}

/// The SSE response: heartbeats on quiet streams.
fn sse<S>(app: &AppState, stream: S) -> Response
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    let heartbeat = Duration::from_secs(app.hub.settings.heartbeat_secs.max(1));
    let first = futures::stream::once(async {
        Ok(Event::default().retry(RECONNECT_AFTER).comment("stream"))
    });
    Sse::new(futures::StreamExt::chain(first, stream))
        .keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat"))
        .into_response()
}

/// An `order` event; on an order's own stream its `id` is the version.
fn document(change: &Change, with_id: bool) -> Event {
    let event = Event::default().event("order").data(&change.json);
    if with_id {
        event.id(change.version.to_string())
    } else {
        event
    }
}

/// The `end` event: why, and the last version sent (to resume from).
fn end(reason: EndReason, last_version: Option<u64>) -> Event {
    crate::metrics::stream_ended(reason.as_str());
    let body = json!({ "reason": reason.as_str(), "last_version": last_version });
    Event::default().event("end").data(body.to_string())
}

/// `Last-Event-ID`: the last version the client received. Anything else (EventSource
/// sends an empty one before any event carried an id) starts with the current document,
/// as a stream without it does: the client gets the state, never a gap.
fn last_event_id(headers: &HeaderMap) -> Option<u64> {
    let text = headers.get("last-event-id")?.to_str().ok()?.trim();
    // Versions start at 1: 0 is no version either.
    text.parse::<u64>()
        .ok()
        .filter(|v| (1..=i64::MAX as u64).contains(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::{Hub, StreamSettings};
    use axum::http::HeaderValue;

    fn change(version: u64) -> Frame {
        Frame::Change(Arc::new(Change {
            version,
            customer_id: "c-1".into(),
            json: "{}".into(),
        }))
    }

    #[tokio::test]
    async fn a_subscriber_more_than_the_buffer_behind_is_ended_as_slow() {
        let (feed, mut receiver) = broadcast::channel(2);
        for version in 1..=3 {
            feed.send(change(version)).unwrap();
        }
        let frame = recv(&mut receiver, &CancellationToken::new()).await;
        assert!(matches!(frame, Frame::End(EndReason::SlowSubscriber)));
    }

    #[tokio::test]
    async fn stopping_ends_a_stream_even_with_changes_waiting() {
        let (feed, mut receiver) = broadcast::channel(4);
        feed.send(change(1)).unwrap();
        let stop = CancellationToken::new();
        stop.cancel();
        assert!(matches!(
            recv(&mut receiver, &stop).await,
            Frame::End(EndReason::Shutdown)
        ));
    }

    #[test]
    fn last_event_id_is_the_last_version_received_and_anything_else_is_ignored() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("last-event-id", HeaderValue::from_str(value).unwrap());
            last_event_id(&headers)
        };
        assert_eq!(last_event_id(&HeaderMap::new()), None);
        assert_eq!(with(" 7 "), Some(7));
        for other in ["", "0", "-1", "three", "null", "9223372036854775808"] {
            assert_eq!(with(other), None, "{other}");
        }
    }

    #[test]
    fn streams_beyond_the_maximum_are_refused_until_one_closes() {
        let settings = StreamSettings {
            max_streams: 1,
            buffer: 4,
            heartbeat_secs: 15,
        };
        let hub = Arc::new(Hub::new(settings, CancellationToken::new()));
        let first = hub.admit().expect("room for one");
        assert!(hub.admit().is_none());
        drop(first);
        assert!(hub.admit().is_some());
    }
}
