//! Events whose delivery failed after they may have reached the broker (librdkafka's
//! "possibly persisted": a timeout, a connection lost with the request in flight).
//!
//! Such an event may be in the log, so its order stays blocked until the reader has read
//! the partition up to the end the broker reports *after* the failure. By then the event
//! was either read back (and settled like any other) or is not in the log, and the order
//! moves on. Unblocking at once would decide the order's next command (a client's safe
//! retry with the same Idempotency-Key, say) against a state the log may be about to
//! change: a second event the fold ignores, and a 409 for a retry that should have been
//! answered from the log.
//!
//! The end is asked for on the reader's connection, and Kafka does not order requests
//! across connections: a produce request still waiting inside a frozen broker may be
//! appended after that answer. So such failures are kept rare rather than relied on: the
//! producer waits five minutes before it gives a record up (`log::producer`), and the
//! broker-freeze test checks that a broker frozen past the command timeout appends no
//! order twice.

use crate::log::Reader;
use orderflow_platform::Backoff;
use rdkafka::consumer::Consumer;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// An in-flight event whose fate is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doubt {
    pub order_id: String,
    /// The bytes sent, which tell the in-flight event apart.
    pub payload: Vec<u8>,
}

/// Doubts waiting for the reader to reach the end of the log their failure saw.
#[derive(Debug, Default)]
pub struct Doubts {
    waiting: Vec<(Doubt, i64)>,
}

impl Doubts {
    /// `doubt` is settled once every record below `end` has been read.
    pub fn settle_at(&mut self, doubt: Doubt, end: i64) {
        self.waiting.push((doubt, end));
    }

    /// The doubts settled now that every record below `next_offset` has been read.
    pub fn passed(&mut self, next_offset: i64) -> Vec<Doubt> {
        if self.waiting.is_empty() {
            return Vec::new();
        }
        let (passed, waiting) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(_, end)| *end <= next_offset);
        self.waiting = waiting;
        passed.into_iter().map(|(doubt, _)| doubt).collect()
    }
}

/// Asks the broker for the end of `partition`, retrying while it does not answer, and
/// sends it back with `doubt` on `ends`.
pub fn fetch_end(
    reader: Arc<Reader>,
    topic: String,
    partition: i32,
    doubt: Doubt,
    ends: mpsc::UnboundedSender<(Doubt, i64)>,
) {
    tokio::spawn(async move {
        let mut backoff = Backoff::standard();
        loop {
            let (reader, topic) = (reader.clone(), topic.clone());
            let end = tokio::task::spawn_blocking(move || {
                reader.fetch_watermarks(&topic, partition, Duration::from_secs(5))
            })
            .await;
            if let Ok(Ok((_, high))) = end {
                let _ = ends.send((doubt, high));
                return;
            }
            backoff.wait().await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doubt(order_id: &str) -> Doubt {
        Doubt {
            order_id: order_id.into(),
            payload: order_id.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_doubt_is_settled_only_once_the_reader_has_passed_its_end() {
        let mut doubts = Doubts::default();
        doubts.settle_at(doubt("a"), 10);
        doubts.settle_at(doubt("b"), 12);
        assert!(doubts.passed(9).is_empty(), "record 9 is still unread");
        assert_eq!(doubts.passed(10), [doubt("a")]);
        assert!(doubts.passed(11).is_empty(), "a is settled once");
        assert_eq!(doubts.passed(20), [doubt("b")]);
    }
}
