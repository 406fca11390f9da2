//! Validating submitted schemas and deciding when two schemas are "the same".

use apache_avro::Schema;
use serde::Deserialize;

use crate::error::Error;

/// The body Confluent clients send to register, look up or test a schema.
///
/// Fields the dev registry does not implement are still deserialised so that using them
/// fails loudly (42201) instead of being silently dropped.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaRequest {
    /// The schema itself, as a JSON-encoded string.
    pub schema: Option<String>,
    /// `AVRO` when absent, as in Confluent.
    pub schema_type: Option<String>,
    /// Must be absent or empty: references are not supported.
    pub references: Option<Vec<serde_json::Value>>,
    /// Data-contract metadata; must be absent or null.
    pub metadata: Option<serde_json::Value>,
    /// Data-contract rules; must be absent or null.
    pub rule_set: Option<serde_json::Value>,
}

impl SchemaRequest {
    /// Checks the request only uses supported features and parses the Avro schema.
    pub fn parse(&self) -> Result<ParsedSchema, Error> {
        let schema_type = self.schema_type.as_deref().unwrap_or("AVRO");
        if !schema_type.eq_ignore_ascii_case("AVRO") {
            return Err(Error::InvalidSchema(format!(
                "Schema type '{schema_type}' is not supported by the dev registry; only AVRO is"
            )));
        }
        if self
            .references
            .as_ref()
            .is_some_and(|refs| !refs.is_empty())
        {
            return Err(Error::InvalidSchema(
                "references are not supported by the dev registry".to_owned(),
            ));
        }
        if self.metadata.is_some() || self.rule_set.is_some() {
            return Err(Error::InvalidSchema(
                "metadata and ruleSet (data contracts) are not supported by the dev registry"
                    .to_owned(),
            ));
        }
        match self.schema.as_deref() {
            Some(text) if !text.trim().is_empty() => ParsedSchema::parse(text),
            _ => Err(Error::InvalidSchema("Empty schema".to_owned())),
        }
    }
}

/// A valid Avro schema together with the forms the registry stores and compares.
#[derive(Debug, Clone)]
pub struct ParsedSchema {
    /// The parsed schema, used for compatibility checks.
    pub schema: Schema,
    /// The text as submitted; stored and returned verbatim.
    pub text: String,
    /// The schema re-serialised by apache-avro: whitespace, key order and shorthand
    /// (`{"type":"string"}` vs `"string"`) are normalised away, but defaults, docs,
    /// aliases and logical types are kept.
    ///
    /// This, not the Avro Parsing Canonical Form, is the identity used for idempotent
    /// registration. The canonical form strips `default`, `doc`, `aliases` and (per the
    /// spec) `logicalType`, so a schema that only adds a default, which changes what
    /// compatibility checks allow later, would otherwise be "the same" as its
    /// predecessor, and the registry would hand back an id whose stored text lacks it.
    /// Confluent likewise compares the full schema, not the canonical form.
    pub normalized: String,
}

impl ParsedSchema {
    /// Parses client input; failures are the client's fault (42201).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let schema = Schema::parse_str(text).map_err(|e| {
            Error::InvalidSchema(format!(
                "Invalid schema: {}",
                orderflow_schemas::error_chain(&e)
            ))
        })?;
        let normalized = serde_json::to_string(&schema).map_err(|e| {
            Error::InvalidSchema(format!("Invalid schema: cannot be normalised: {e}"))
        })?;
        Ok(ParsedSchema {
            schema,
            text: text.to_owned(),
            normalized,
        })
    }

    /// Parses a schema read back from the database; failures are the registry's fault.
    pub fn from_stored(id: i32, text: &str) -> Result<Self, Error> {
        ParsedSchema::parse(text)
            .map_err(|e| Error::Internal(format!("stored schema {id} no longer parses: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: serde_json::Value) -> SchemaRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn formatting_differences_normalise_to_the_same_identity() {
        let a = ParsedSchema::parse(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#,
        )
        .unwrap();
        let b = ParsedSchema::parse(
            r#"{ "fields": [ {"type": {"type": "string"}, "name": "a"} ],
                 "name": "R", "type": "record" }"#,
        )
        .unwrap();
        assert_eq!(a.normalized, b.normalized);
    }

    #[test]
    fn logical_types_and_defaults_are_part_of_the_identity() {
        let plain = ParsedSchema::parse(
            r#"{"type":"record","name":"R","fields":[{"name":"at","type":"long"}]}"#,
        )
        .unwrap();
        let logical = ParsedSchema::parse(
            r#"{"type":"record","name":"R","fields":[
                {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}}]}"#,
        )
        .unwrap();
        let defaulted = ParsedSchema::parse(
            r#"{"type":"record","name":"R","fields":[{"name":"at","type":"long","default":0}]}"#,
        )
        .unwrap();
        // The Parsing Canonical Form cannot tell a default apart...
        assert_eq!(
            plain.schema.canonical_form(),
            defaulted.schema.canonical_form()
        );
        // ...but the registry must, and must keep logical types.
        assert_ne!(plain.normalized, defaulted.normalized);
        assert_ne!(plain.normalized, logical.normalized);
        assert!(logical.normalized.contains("timestamp-millis"));
    }

    #[test]
    fn unsupported_features_are_rejected() {
        let cases = [
            serde_json::json!({"schema": "\"string\"", "schemaType": "PROTOBUF"}),
            serde_json::json!({"schema": "\"string\"", "references": [{"name": "x"}]}),
            serde_json::json!({"schema": "\"string\"", "ruleSet": {"domainRules": []}}),
            serde_json::json!({"schema": ""}),
            serde_json::json!({}),
            serde_json::json!({"schema": "{\"type\": \"record\"}"}),
        ];
        for body in cases {
            let err = request(body.clone()).parse().unwrap_err();
            assert!(matches!(err, Error::InvalidSchema(_)), "{body}: {err:?}");
        }
    }

    #[test]
    fn accepts_what_confluent_clients_send() {
        let parsed = request(serde_json::json!({
            "schema": "\"string\"", "schemaType": "AVRO", "references": [], "metadata": null
        }))
        .parse()
        .unwrap();
        assert_eq!(parsed.normalized, "\"string\"");
    }
}
