//! One record's Avro datum without the registry: the Confluent frame, reading with a
//! writer schema ([`ReadPlan`]: upcasters, resolution to the current schema, wire →
//! domain), and writing with the current one. [`crate::EventCodec`] adds the registry
//! around these, so everything here is the very path the services decode with, and can be
//! driven on its own (tests, the fuzz target in `schemas/fuzz`).

use crate::catalog::EventType;
use crate::error::CodecError;
use crate::upcast;
use crate::wire::WireEvent;
use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use orderflow_domain::Event;

/// How to read the records written with one writer schema, prepared once per schema id
/// (on its first record) and shared by every record written with it. Public so that the
/// decoding path can be driven without a registry (the fuzz target in `schemas/fuzz`).
pub struct ReadPlan {
    event_type: EventType,
    /// Full record name, for error messages.
    name: String,
    /// Decodes with the writer schema (its named types collected once).
    reader: GenericDatumReader<'static>,
    /// Written with the very schema this code reads: no upcast, no resolution.
    current: bool,
    upcasters: Vec<upcast::Upcaster>,
}

/// Appends the Avro datum of `event` (no frame), written with the schema this code writes.
pub fn write_datum(event: &Event, out: &mut Vec<u8>) -> Result<(), CodecError> {
    write_wire(&WireEvent::from(event), out)
}

pub(crate) fn write_wire(wire: &WireEvent, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let event_type = wire.body.event_type();
    event_type
        .writer()
        .write_value(out, wire.to_value())
        .map_err(|e| CodecError::Malformed(format!("{event_type:?} cannot be written: {e}")))?;
    Ok(())
}

/// The schema id and the Avro datum of a Confluent-framed record: magic byte 0, the id
/// (4 bytes, big endian), then the datum.
pub fn parse_frame(bytes: &[u8]) -> Result<(u32, &[u8]), CodecError> {
    match bytes {
        [0, a, b, c, d, datum @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), datum)),
        _ => Err(CodecError::Malformed(
            "not in the Confluent wire format (magic byte 0, 4-byte schema id)".into(),
        )),
    }
}

impl ReadPlan {
    /// The plan for records written with `writer`, registered as schema `id` (the id only
    /// names the schema in errors). Fails if `writer` is not the record of a known event
    /// type. Each plan keeps a copy of its schema for the life of the process, so build one
    /// per schema, never per record.
    pub fn new(id: u32, writer: &Schema) -> Result<Self, CodecError> {
        let name = match writer {
            Schema::Record(record) => record.name.fullname(None),
            _ => {
                return Err(CodecError::Malformed(format!(
                    "schema {id} is not a record"
                )));
            }
        };
        let event_type = EventType::from_full_name(&name)
            .ok_or_else(|| CodecError::Malformed(format!("unknown event type {name}")))?;
        let version = upcast::writer_version(event_type, writer);
        // Leaked so the reader can borrow it for the life of the process: one schema per
        // registry id the topic uses, a bounded handful of kilobytes.
        let writer: &'static Schema = Box::leak(Box::new(writer.clone()));
        let reader = GenericDatumReader::builder(writer)
            .build()
            .map_err(|e| CodecError::Malformed(format!("schema {id} ({name}): {e}")))?;
        Ok(ReadPlan {
            event_type,
            current: writer.canonical_form() == event_type.schema().canonical_form(),
            upcasters: version.map_or_else(Vec::new, |v| upcast::upcasters(event_type, v)),
            name,
            reader,
        })
    }

    /// The event type of the records this plan reads.
    pub fn event_type(&self) -> EventType {
        self.event_type
    }

    /// The domain event in `datum` (the bytes after the frame): read with the writer
    /// schema, upcast and resolved to the schema this code reads if it is an older one,
    /// then mapped to the domain. Every failure is the record's own fault
    /// ([`CodecError::is_poison`]).
    pub fn decode(&self, datum: &[u8]) -> Result<Event, CodecError> {
        let event_type = self.event_type;
        let unreadable = |e: apache_avro::Error| {
            CodecError::Malformed(format!("{} cannot be read: {e}", self.name))
        };
        let mut value = self
            .reader
            .read_value(&mut &datum[..])
            .map_err(unreadable)?;
        if !self.current {
            for upcaster in &self.upcasters {
                upcaster(&mut value);
            }
            widen_decimals(&mut value);
            value = value
                .resolve_with_names(event_type.schema(), event_type.resolved_names())
                .map_err(|e| {
                    CodecError::Malformed(format!(
                        "{} does not resolve to the reader schema: {e}",
                        self.name
                    ))
                })?;
        }
        Ok(Event::try_from(WireEvent::from_value(event_type, value)?)?)
    }
}

/// Bytes every decimal is widened to before resolution. apache-avro 0.22's
/// `Value::resolve` refuses a `bytes` decimal whose byte length could not hold the
/// schema's full precision (12 digits need 6 bytes), although Avro writers (Java's
/// included) write the shortest two's complement. Sign-extending keeps the value.
const DECIMAL_RESOLVE_BYTES: usize = 8;

pub(crate) fn widen_decimals(value: &mut Value) {
    match value {
        Value::Decimal(d) => {
            let Ok(bytes) = <Vec<u8>>::try_from(&*d) else {
                return;
            };
            if bytes.len() < DECIMAL_RESOLVE_BYTES {
                let fill = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
                    0xff
                } else {
                    0
                };
                let mut wide = vec![fill; DECIMAL_RESOLVE_BYTES - bytes.len()];
                wide.extend_from_slice(&bytes);
                *d = apache_avro::Decimal::from(wide);
            }
        }
        Value::Record(fields) => fields.iter_mut().for_each(|(_, v)| widen_decimals(v)),
        Value::Array(items) => items.iter_mut().for_each(widen_decimals),
        Value::Union(_, inner) => widen_decimals(inner),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(bytes: Vec<u8>) -> Value {
        Value::Decimal(apache_avro::Decimal::from(bytes))
    }

    #[test]
    fn shortest_form_decimals_resolve_after_widening() {
        let schema = apache_avro::Schema::parse_str(
            r#"{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}"#,
        )
        .unwrap();
        for (short, wide) in [
            (vec![0x0a, 0x27], vec![0, 0, 0, 0, 0, 0, 0x0a, 0x27]),
            (
                vec![0x80],
                vec![0xff; 7].into_iter().chain([0x80]).collect(),
            ),
        ] {
            assert!(
                money(short.clone()).resolve(&schema).is_err(),
                "the library bug this works around"
            );
            let mut value = Value::Array(vec![money(short)]);
            widen_decimals(&mut value);
            assert_eq!(value.clone(), Value::Array(vec![money(wide)]));
            let array = apache_avro::Schema::parse_str(
                r#"{"type":"array","items":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}}"#,
            )
            .unwrap();
            assert!(value.resolve(&array).is_ok());
        }
    }

    /// An OrderCancelled as written with the current schema, and the domain event it is.
    fn cancelled() -> (WireEvent, Event) {
        let wire = WireEvent {
            envelope: crate::WireEnvelope {
                event_id: uuid::Uuid::from_u128(7),
                order_id: "order-1".into(),
                version: 2,
                occurred_at: 1_750_000_000_000,
                idempotency_key: None,
                correlation_id: Some("c-1".into()),
            },
            body: crate::WireBody::OrderCancelled {
                reason: "changed mind".into(),
            },
        };
        let event = Event::try_from(wire.clone()).expect("a valid event");
        (wire, event)
    }

    fn framed(id: u32, datum: &[u8]) -> Vec<u8> {
        [&[0][..], &id.to_be_bytes(), datum].concat()
    }

    #[test]
    fn a_frame_is_magic_byte_zero_then_a_big_endian_schema_id_then_the_datum() {
        let bytes = framed(0x0102_0304, b"datum");
        assert_eq!(parse_frame(&bytes).unwrap(), (0x0102_0304, &b"datum"[..]));
        assert_eq!(parse_frame(&framed(9, b"")).unwrap(), (9, &b""[..]));
    }

    #[test]
    fn bytes_not_in_the_confluent_frame_are_poison() {
        for bytes in [&b""[..], &[0, 0, 0, 1], &[1, 0, 0, 0, 1, 2]] {
            assert!(parse_frame(bytes).unwrap_err().is_poison(), "{bytes:?}");
        }
    }

    #[test]
    fn every_writer_schema_under_schemas_avro_has_a_read_plan_of_its_type() {
        for (id, (event_type, version, source)) in upcast::schema_versions().enumerate() {
            let schema = Schema::parse_str(source).unwrap();
            let plan = ReadPlan::new(id as u32, &schema).unwrap();
            assert_eq!(plan.event_type(), event_type, "v{version}");
        }
    }

    #[test]
    fn an_event_written_with_the_current_schema_reads_back_equal() {
        let (_, event) = cancelled();
        let mut datum = Vec::new();
        write_datum(&event, &mut datum).unwrap();
        let plan = ReadPlan::new(1, EventType::OrderCancelled.schema()).unwrap();
        assert_eq!(plan.decode(&datum).unwrap(), event);
    }

    #[test]
    fn an_order_cancelled_written_with_v1_reads_through_its_upcaster() {
        let v1 = Schema::parse_str(include_str!("../avro/OrderCancelled/v1.avsc")).unwrap();
        let (wire, event) = cancelled();
        let Value::Record(mut fields) = wire.to_value() else {
            unreachable!()
        };
        fields.last_mut().unwrap().0 = "reason".into();
        let datum = apache_avro::writer::datum::GenericDatumWriter::builder(&v1)
            .build()
            .unwrap()
            .write_value_to_vec(Value::Record(fields))
            .unwrap();
        let plan = ReadPlan::new(1, &v1).unwrap();
        assert_eq!(plan.decode(&datum).unwrap(), event);
    }

    #[test]
    fn a_cut_or_garbled_record_is_poison_for_every_writer_schema_and_never_panics() {
        let (_, event) = cancelled();
        let mut datum = Vec::new();
        write_datum(&event, &mut datum).unwrap();
        for (id, (_, _, source)) in upcast::schema_versions().enumerate() {
            let plan = ReadPlan::new(id as u32, &Schema::parse_str(source).unwrap()).unwrap();
            let garbled = datum.iter().map(|b| b ^ 0x5a).collect::<Vec<_>>();
            let cuts = (0..datum.len()).map(|n| &datum[..n]);
            for bytes in cuts.chain([&garbled[..], &[0xff; 16][..]]) {
                if let Err(e) = plan.decode(bytes) {
                    assert!(e.is_poison(), "{e}");
                }
            }
        }
    }
}
