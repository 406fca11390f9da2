//! A record of the log as the live path carries it: plain bytes and where they sit, copied
//! out of librdkafka's message on the polling thread. Nothing after the polling thread
//! knows the Kafka client's types, so the stages and the batch loop can be fed by hand.

use crate::fold::model::Position;
use orderflow_platform::telemetry::RecordTrace;

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    /// When the record was created (its Kafka timestamp, ms since the epoch), if known.
    pub timestamp: Option<i64>,
    /// The trace of the command that appended it (its `traceparent` header), if any.
    pub trace: Option<RecordTrace>,
}

impl Record {
    pub fn position(&self) -> Position {
        Position {
            partition: self.partition,
            offset: self.offset,
        }
    }

    /// The key as the order id it should be, if it is UTF-8.
    pub fn key_str(&self) -> Option<&str> {
        self.key
            .as_deref()
            .and_then(|k| std::str::from_utf8(k).ok())
    }

    /// The value's bytes (empty when the record has none, which no decoder accepts).
    pub fn payload(&self) -> &[u8] {
        self.payload.as_deref().unwrap_or_default()
    }
}
