//! Upcasters: for a change Avro resolution cannot express, a typed function per (event
//! type, writer version) turns the old shape into the next one before resolution, so the
//! domain only ever sees the newest shape.
//!
//! The writer's version is recognised by comparing the writer schema (fetched from the
//! registry by id) with every version kept under `schemas/avro`, by canonical form.

use crate::catalog::EventType;
use apache_avro::Schema;
use apache_avro::types::Value;
use std::sync::LazyLock;

/// Every version of every event's schema, as kept in `schemas/avro`.
static VERSIONS: [(EventType, u32, &str); 12] = [
    (
        EventType::OrderPlaced,
        1,
        include_str!("../avro/OrderPlaced/v1.avsc"),
    ),
    (
        EventType::OrderPlaced,
        2,
        include_str!("../avro/OrderPlaced/v2.avsc"),
    ),
    (
        EventType::OrderPlaced,
        3,
        include_str!("../avro/OrderPlaced/v3.avsc"),
    ),
    (
        EventType::OrderPacked,
        1,
        include_str!("../avro/OrderPacked/v1.avsc"),
    ),
    (
        EventType::OrderShipped,
        1,
        include_str!("../avro/OrderShipped/v1.avsc"),
    ),
    (
        EventType::OrderShipped,
        2,
        include_str!("../avro/OrderShipped/v2.avsc"),
    ),
    (
        EventType::OrderLocationUpdated,
        1,
        include_str!("../avro/OrderLocationUpdated/v1.avsc"),
    ),
    (
        EventType::OrderDelivered,
        1,
        include_str!("../avro/OrderDelivered/v1.avsc"),
    ),
    (
        EventType::OrderCancelled,
        1,
        include_str!("../avro/OrderCancelled/v1.avsc"),
    ),
    (
        EventType::OrderCancelled,
        2,
        include_str!("../avro/OrderCancelled/v2.avsc"),
    ),
    (
        EventType::OrderConfirmed,
        1,
        include_str!("../avro/OrderConfirmed/v1.avsc"),
    ),
    (
        EventType::OrderRejected,
        1,
        include_str!("../avro/OrderRejected/v1.avsc"),
    ),
];

/// `(event type, version, canonical form)` of every known version.
static CANONICAL: LazyLock<Vec<(EventType, u32, String)>> = LazyLock::new(|| {
    VERSIONS
        .iter()
        .map(|(t, v, src)| {
            let schema =
                Schema::parse_str(src).unwrap_or_else(|e| panic!("{t:?} v{v} is invalid: {e}"));
            (*t, *v, schema.canonical_form())
        })
        .collect()
});

/// Every version of every event's schema kept under `schemas/avro`, oldest first per event
/// type, as (event type, version, schema text): every writer schema a log may hold.
pub fn schema_versions() -> impl Iterator<Item = (EventType, u32, &'static str)> {
    VERSIONS.iter().copied()
}

/// The version under `schemas/avro` that `writer` is, if it is one of them.
pub(crate) fn writer_version(event_type: EventType, writer: &Schema) -> Option<u32> {
    let canonical = writer.canonical_form();
    CANONICAL
        .iter()
        .find(|(t, _, c)| *t == event_type && *c == canonical)
        .map(|(_, v, _)| *v)
}

/// An upcaster rewrites a value written with one version into the shape of the next.
pub(crate) type Upcaster = fn(&mut Value);

/// The upcasters to apply, in order, to a value of `event_type` written with `version`.
pub(crate) fn upcasters(event_type: EventType, version: u32) -> Vec<Upcaster> {
    let mut chain: Vec<Upcaster> = Vec::new();
    // OrderCancelled v1 → v2: `reason` was renamed `cancel_reason`.
    if event_type == EventType::OrderCancelled && version < 2 {
        chain.push(rename_field("reason", "cancel_reason"));
    }
    chain
}

/// An upcaster that renames a top-level record field.
fn rename_field(from: &'static str, to: &'static str) -> Upcaster {
    // Function pointers cannot capture, so each rename is spelled out once here.
    match (from, to) {
        ("reason", "cancel_reason") => |value| rename(value, "reason", "cancel_reason"),
        _ => unreachable!("every rename is listed above"),
    }
}

fn rename(value: &mut Value, from: &str, to: &str) {
    if let Value::Record(fields) = value {
        for (name, _) in fields.iter_mut() {
            if name == from {
                *name = to.to_owned();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_under_schemas_avro_is_known_and_the_newest_is_what_the_code_writes() {
        for t in EventType::ALL {
            let newest = VERSIONS
                .iter()
                .filter(|(e, _, _)| *e == t)
                .map(|(_, v, _)| *v)
                .max();
            assert_eq!(writer_version(t, t.schema()), newest, "{t:?}");
        }
        let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/avro"))
            .unwrap()
            .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
            .filter(|f| {
                f.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|e| e == "avsc")
            })
            .count();
        assert_eq!(
            on_disk,
            VERSIONS.len(),
            "a new vN.avsc must be listed in VERSIONS"
        );
    }

    #[test]
    fn an_order_cancelled_written_with_v1_keeps_its_reason() {
        let v1 = Schema::parse_str(include_str!("../avro/OrderCancelled/v1.avsc")).unwrap();
        assert_eq!(writer_version(EventType::OrderCancelled, &v1), Some(1));
        let mut value = Value::Record(vec![(
            "reason".into(),
            Value::String("changed mind".into()),
        )]);
        for up in upcasters(EventType::OrderCancelled, 1) {
            up(&mut value);
        }
        assert_eq!(
            value,
            Value::Record(vec![(
                "cancel_reason".into(),
                Value::String("changed mind".into())
            )])
        );
        assert!(upcasters(EventType::OrderCancelled, 2).is_empty());
    }
}
