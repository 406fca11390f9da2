//! The event types and the schemas the code writes, embedded from `schemas/avro`.

use apache_avro::Schema;
use apache_avro::schema::{NamesRef, ResolvedSchema};
use apache_avro::writer::datum::GenericDatumWriter;
use std::sync::LazyLock;

/// The Avro namespace of every event record.
pub const NAMESPACE: &str = "com.orderflow.events";

/// One event type on the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    OrderPlaced,
    OrderPacked,
    OrderShipped,
    OrderLocationUpdated,
    OrderDelivered,
    OrderCancelled,
    OrderConfirmed,
    OrderRejected,
}

/// The newest version of each event's schema: what the code writes and reads into.
static SOURCES: [(EventType, &str); 8] = [
    (
        EventType::OrderPlaced,
        include_str!("../avro/OrderPlaced/v3.avsc"),
    ),
    (
        EventType::OrderPacked,
        include_str!("../avro/OrderPacked/v1.avsc"),
    ),
    (
        EventType::OrderShipped,
        include_str!("../avro/OrderShipped/v2.avsc"),
    ),
    (
        EventType::OrderLocationUpdated,
        include_str!("../avro/OrderLocationUpdated/v1.avsc"),
    ),
    (
        EventType::OrderDelivered,
        include_str!("../avro/OrderDelivered/v1.avsc"),
    ),
    (
        EventType::OrderCancelled,
        include_str!("../avro/OrderCancelled/v2.avsc"),
    ),
    (
        EventType::OrderConfirmed,
        include_str!("../avro/OrderConfirmed/v1.avsc"),
    ),
    (
        EventType::OrderRejected,
        include_str!("../avro/OrderRejected/v1.avsc"),
    ),
];

static PARSED: LazyLock<Vec<Schema>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(t, src)| {
            // The files are compiled in and covered by tests, so a bad one fails the build's
            // tests, never a running service.
            Schema::parse_str(src).unwrap_or_else(|e| panic!("schema of {t:?} is invalid: {e}"))
        })
        .collect()
});

/// The current schemas' named types, built once: resolving an old event into the current
/// schema looks names up here instead of collecting them again for every record.
static RESOLVED: LazyLock<Vec<ResolvedSchema<'static>>> = LazyLock::new(|| {
    PARSED
        .iter()
        .map(|s| ResolvedSchema::try_from(s).expect("a parsed schema resolves"))
        .collect()
});

/// One writer per current schema, built once and shared by every encode.
static WRITERS: LazyLock<Vec<GenericDatumWriter<'static>>> = LazyLock::new(|| {
    PARSED
        .iter()
        .map(|s| {
            GenericDatumWriter::builder(s)
                .build()
                .expect("a parsed schema makes a writer")
        })
        .collect()
});

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 8] = [
        EventType::OrderPlaced,
        EventType::OrderPacked,
        EventType::OrderShipped,
        EventType::OrderLocationUpdated,
        EventType::OrderDelivered,
        EventType::OrderCancelled,
        EventType::OrderConfirmed,
        EventType::OrderRejected,
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The record's simple name, e.g. `OrderPlaced`.
    pub fn name(self) -> &'static str {
        match self {
            EventType::OrderPlaced => "OrderPlaced",
            EventType::OrderPacked => "OrderPacked",
            EventType::OrderShipped => "OrderShipped",
            EventType::OrderLocationUpdated => "OrderLocationUpdated",
            EventType::OrderDelivered => "OrderDelivered",
            EventType::OrderCancelled => "OrderCancelled",
            EventType::OrderConfirmed => "OrderConfirmed",
            EventType::OrderRejected => "OrderRejected",
        }
    }

    /// The record's full name, e.g. `com.orderflow.events.OrderPlaced`.
    pub fn full_name(self) -> String {
        format!("{NAMESPACE}.{}", self.name())
    }

    /// The event type whose record has this full name.
    pub fn from_full_name(full_name: &str) -> Option<EventType> {
        let simple = full_name.strip_prefix(NAMESPACE)?.strip_prefix('.')?;
        EventType::ALL.into_iter().find(|t| t.name() == simple)
    }

    /// The named types of [`EventType::schema`], for resolving values into it.
    pub(crate) fn resolved_names(self) -> &'static NamesRef<'static> {
        RESOLVED[self.index()].get_names()
    }

    /// The datum writer of [`EventType::schema`].
    pub(crate) fn writer(self) -> &'static GenericDatumWriter<'static> {
        &WRITERS[self.index()]
    }

    /// The schema text the code writes, as in the `.avsc` file.
    pub fn schema_source(self) -> &'static str {
        SOURCES[self.index()].1
    }

    /// The parsed schema the code writes and resolves old events into.
    pub fn schema(self) -> &'static Schema {
        &PARSED[self.index()]
    }
}

/// The registry subject of an event type on `topic` (TopicRecordNameStrategy):
/// `<topic>-<full record name>`.
pub fn subject_for(topic: &str, event_type: EventType) -> String {
    format!("{topic}-{}", event_type.full_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_parses_and_is_named_after_its_type() {
        for t in EventType::ALL {
            assert_eq!(SOURCES[t.index()].0, t);
            let Schema::Record(record) = t.schema() else {
                panic!("{t:?} is not a record");
            };
            assert_eq!(record.name.fullname(None), t.full_name());
        }
    }

    #[test]
    fn subjects_follow_topic_record_name_strategy() {
        assert_eq!(
            subject_for("orders.events", EventType::OrderPlaced),
            "orders.events-com.orderflow.events.OrderPlaced"
        );
        assert_eq!(
            EventType::from_full_name("com.orderflow.events.OrderShipped"),
            Some(EventType::OrderShipped)
        );
        assert_eq!(EventType::from_full_name("other.OrderShipped"), None);
    }
}
