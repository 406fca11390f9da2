//! Arbitrary bytes, as a consumer reads them from `orders.events`, through the path the
//! services decode with: the Confluent frame, the Avro reader of the writer schema, the
//! upcasters and resolution of older versions, and the wire → domain mapping. No registry:
//! the frame's schema id picks one of the writer schemas kept under `schemas/avro`.
//!
//! Besides "never panics", two properties a reader relies on:
//! - a record that fails is the record's own fault (`CodecError::is_poison`), so a reader
//!   dead-letters it rather than retrying forever;
//! - an event that decodes can be written again with the current schema and reads back
//!   equal, so nothing the decoder accepts is lost or changed on the way through.
#![no_main]

use apache_avro::Schema;
use libfuzzer_sys::fuzz_target;
use orderflow_schemas::{EventType, ReadPlan, parse_frame, schema_versions, write_datum};
use std::sync::LazyLock;

/// One plan per writer schema a log may hold, built once, as a consumer builds one per
/// registry id. The id of the i-th version is i.
static PLANS: LazyLock<Vec<ReadPlan>> = LazyLock::new(|| {
    schema_versions()
        .enumerate()
        .map(|(id, (event_type, version, source))| {
            let schema = Schema::parse_str(source)
                .unwrap_or_else(|e| panic!("{event_type:?} v{version} does not parse: {e}"));
            ReadPlan::new(id as u32, &schema)
                .unwrap_or_else(|e| panic!("{event_type:?} v{version} has no plan: {e}"))
        })
        .collect()
});

/// The plan of the schema the code writes, per event type: what a round trip reads with.
static CURRENT: LazyLock<Vec<(EventType, ReadPlan)>> = LazyLock::new(|| {
    EventType::ALL
        .into_iter()
        .map(|t| {
            (
                t,
                ReadPlan::new(u32::MAX, t.schema()).expect("current plan"),
            )
        })
        .collect()
});

fuzz_target!(|data: &[u8]| {
    let Ok((id, datum)) = parse_frame(data) else {
        return;
    };
    let plan = &PLANS[id as usize % PLANS.len()];
    let event = match plan.decode(datum) {
        Ok(event) => event,
        Err(e) => {
            assert!(
                e.is_poison(),
                "a record's bytes gave a non-poison error: {e}"
            );
            return;
        }
    };
    let mut rewritten = Vec::new();
    write_datum(&event, &mut rewritten).expect("a decoded event can be written again");
    let (_, current) = CURRENT
        .iter()
        .find(|(t, _)| *t == plan.event_type())
        .expect("every event type has a current plan");
    let reread = current
        .decode(&rewritten)
        .expect("a rewritten event reads back");
    assert_eq!(reread, event, "the round trip changed the event");
});
