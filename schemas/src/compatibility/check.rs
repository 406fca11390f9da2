//! The compatibility decision: pure, so every level can be unit-tested without a database.

use apache_avro::Schema;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};

use super::level::CompatibilityLevel;

/// A live version of the subject that a new schema is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Earlier<'a> {
    /// The subject version number, quoted in the messages.
    pub version: i32,
    /// Its parsed schema.
    pub schema: &'a Schema,
}

/// Checks `candidate` against `earlier` (oldest first) under `level`.
///
/// Returns one human-readable message per violation; an empty list means compatible.
/// Non-transitive levels only look at the last element, matching Confluent's checker,
/// so callers can always pass every live version.
pub fn check(
    level: CompatibilityLevel,
    candidate: &Schema,
    earlier: &[Earlier<'_>],
) -> Vec<String> {
    let against: &[Earlier<'_>] = if level.is_transitive() {
        earlier
    } else {
        earlier.last().map(std::slice::from_ref).unwrap_or_default()
    };
    let mut messages = Vec::new();
    for old in against {
        if level.checks_backward()
            && let Err(why) = can_read(old.schema, candidate)
        {
            messages.push(format!(
                "{level}: the new schema cannot read data written with version {}: {why}",
                old.version
            ));
        }
        if level.checks_forward()
            && let Err(why) = can_read(candidate, old.schema)
        {
            messages.push(format!(
                "{level}: version {} cannot read data written with the new schema: {why}",
                old.version
            ));
        }
    }
    messages
}

/// Whether a consumer using `reader` can decode every datum written with `writer`.
fn can_read(writer: &Schema, reader: &Schema) -> Result<(), String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(Compatibility::Full) => Ok(()),
        // Confluent (Avro's Java checker) rejects these too: some written values, e.g. an
        // enum symbol or union branch the reader lacks, would fail to decode.
        Ok(Compatibility::Partial) => Err(
            "only some written values can be read (the reader lacks enum symbols or union branches the writer has)"
                .to_owned(),
        ),
        Err(e) => Err(error_chain(&e)),
    }
}

/// An error with its causes, e.g. "field 'x' does not match: expected long".
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use CompatibilityLevel as L;

    /// A `Probe` record with the given fields (JSON field objects).
    fn record(fields: &str) -> Schema {
        Schema::parse_str(&format!(
            r#"{{"type":"record","name":"Probe","namespace":"t","fields":[{fields}]}}"#
        ))
        .unwrap()
    }

    const ID: &str = r#"{"name":"id","type":"string"}"#;
    const QTY: &str = r#"{"name":"qty","type":"int"}"#;
    const QTY_DEFAULT: &str = r#"{"name":"qty","type":"int","default":0}"#;

    fn compatible(level: L, candidate: &Schema, history: &[&Schema]) -> bool {
        let earlier: Vec<Earlier<'_>> = history
            .iter()
            .enumerate()
            .map(|(i, schema)| Earlier {
                version: i as i32 + 1,
                schema,
            })
            .collect();
        check(level, candidate, &earlier).is_empty()
    }

    /// Asserts the verdict of every non-transitive level for a single-version history.
    fn assert_levels(old: &Schema, new: &Schema, backward: bool, forward: bool) {
        assert!(compatible(L::None, new, &[old]));
        assert_eq!(compatible(L::Backward, new, &[old]), backward, "BACKWARD");
        assert_eq!(compatible(L::Forward, new, &[old]), forward, "FORWARD");
        assert_eq!(
            compatible(L::Full, new, &[old]),
            backward && forward,
            "FULL"
        );
    }

    #[test]
    fn adding_a_field_with_default_is_fully_compatible() {
        let old = record(ID);
        let new = record(&format!("{ID},{QTY_DEFAULT}"));
        assert_levels(&old, &new, true, true);
    }

    #[test]
    fn adding_a_field_without_default_is_forward_only() {
        let old = record(ID);
        let new = record(&format!("{ID},{QTY}"));
        assert_levels(&old, &new, false, true);
    }

    #[test]
    fn removing_a_field_without_default_is_backward_only() {
        let old = record(&format!("{ID},{QTY}"));
        let new = record(ID);
        assert_levels(&old, &new, true, false);
    }

    #[test]
    fn removing_a_field_with_default_is_fully_compatible() {
        let old = record(&format!("{ID},{QTY_DEFAULT}"));
        let new = record(ID);
        assert_levels(&old, &new, true, true);
    }

    #[test]
    fn widening_int_to_long_is_backward_only() {
        let old = record(r#"{"name":"n","type":"int"}"#);
        let new = record(r#"{"name":"n","type":"long"}"#);
        assert_levels(&old, &new, true, false);
    }

    #[test]
    fn changing_a_type_is_incompatible_except_under_none() {
        let old = record(r#"{"name":"n","type":"string"}"#);
        let new = record(r#"{"name":"n","type":"boolean"}"#);
        assert_levels(&old, &new, false, false);
    }

    #[test]
    fn dropping_an_enum_symbol_is_not_backward_even_though_avro_calls_it_partial() {
        let old = Schema::parse_str(r#"{"type":"enum","name":"S","symbols":["A","B"]}"#).unwrap();
        let new = Schema::parse_str(r#"{"type":"enum","name":"S","symbols":["A"]}"#).unwrap();
        assert_levels(&old, &new, false, true);
        let messages = check(
            L::Backward,
            &new,
            &[Earlier {
                version: 4,
                schema: &old,
            }],
        );
        assert_eq!(messages.len(), 1);
        assert!(messages[0].contains("version 4"), "{messages:?}");
    }

    #[test]
    fn backward_transitive_checks_every_version() {
        let v1 = record(ID);
        let v2 = record(&format!("{ID},{QTY_DEFAULT}"));
        // Reads v2 data (qty present) but not v1 data (qty missing, no default).
        let v3 = record(&format!("{ID},{QTY}"));
        assert!(compatible(L::Backward, &v3, &[&v1, &v2]));
        assert!(!compatible(L::BackwardTransitive, &v3, &[&v1, &v2]));
    }

    #[test]
    fn forward_and_full_transitive_check_every_version() {
        let v1 = record(&format!("{ID},{QTY}"));
        let v2 = record(&format!("{ID},{QTY_DEFAULT}"));
        // v2 fills qty from its default; v1 has no default for it.
        let v3 = record(ID);
        assert!(compatible(L::Forward, &v3, &[&v1, &v2]));
        assert!(!compatible(L::ForwardTransitive, &v3, &[&v1, &v2]));
        assert!(compatible(L::Full, &v3, &[&v1, &v2]));
        assert!(!compatible(L::FullTransitive, &v3, &[&v1, &v2]));
    }

    #[test]
    fn an_empty_history_is_always_compatible() {
        let schema = record(ID);
        for level in L::ALL {
            assert!(compatible(level, &schema, &[]), "{level}");
        }
    }

    #[test]
    fn messages_explain_direction_and_field() {
        let old = record(ID);
        let new = record(&format!("{ID},{QTY}"));
        let messages = check(
            L::FullTransitive,
            &new,
            &[Earlier {
                version: 1,
                schema: &old,
            }],
        );
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].starts_with("FULL_TRANSITIVE: the new schema cannot read"));
        assert!(messages[0].contains("qty"), "{messages:?}");
    }
}
