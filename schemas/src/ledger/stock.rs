//! `StockChanged` ⇄ [`StockEvent`].

use super::LedgerRecord;
use crate::error::WireError;
use crate::wire::fields::{Fields, nullable};
use apache_avro::Schema;
use apache_avro::types::Value;
use orderflow_domain::inventory::{LineRef, StockChange, StockEvent};
use orderflow_domain::{EventMeta, Timestamp, validate_order_id};
use std::sync::LazyLock;

const SOURCE: &str = include_str!("../../inventory/StockChanged/v1.avsc");
static SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| Schema::parse_str(SOURCE).expect("StockChanged/v1.avsc is valid (tested)"));
const SYMBOLS: [&str; 5] = ["RECEIVED", "ADJUSTED", "RESERVED", "RELEASED", "COMMITTED"];

impl LedgerRecord for StockEvent {
    const FULL_NAME: &'static str = "com.orderflow.inventory.StockChanged";

    fn schema_source() -> &'static str {
        SOURCE
    }

    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn key(&self) -> &str {
        &self.product_id
    }

    fn to_value(&self) -> Value {
        let (index, quantity, line, reason) = match &self.change {
            StockChange::Received { quantity } => (0, i64::from(*quantity), None, None),
            StockChange::Adjusted { delta, reason } => (1, *delta, None, Some(reason.clone())),
            StockChange::Reserved { line, quantity } => (2, i64::from(*quantity), Some(line), None),
            StockChange::Released { line, quantity } => (3, i64::from(*quantity), Some(line), None),
            StockChange::Committed { line, quantity } => {
                (4, i64::from(*quantity), Some(line), None)
            }
        };
        let int = |n: Option<u32>| match n {
            None => Value::Union(0, Box::new(Value::Null)),
            Some(n) => Value::Union(1, Box::new(Value::Int(n as i32))),
        };
        Value::Record(vec![
            ("event_id".into(), Value::Uuid(self.meta.event_id)),
            ("product_id".into(), Value::String(self.product_id.clone())),
            ("version".into(), Value::Long(self.version as i64)),
            (
                "occurred_at".into(),
                Value::TimestampMillis(self.meta.occurred_at.0),
            ),
            ("correlation_id".into(), nullable(&self.meta.correlation_id)),
            (
                "change".into(),
                Value::Enum(index, SYMBOLS[index as usize].into()),
            ),
            ("quantity".into(), Value::Long(quantity)),
            (
                "order_id".into(),
                nullable(&line.map(|l| l.order_id.clone())),
            ),
            ("line".into(), int(line.map(|l| l.line))),
            ("reason".into(), nullable(&reason)),
            (
                "idempotency_key".into(),
                nullable(&self.meta.idempotency_key),
            ),
        ])
    }

    fn from_value(value: Value) -> Result<Self, WireError> {
        let Value::Record(fields) = value else {
            return Err(WireError::new("record", "is not a record"));
        };
        let mut r = Fields(fields);
        let meta = EventMeta {
            event_id: r.uuid("event_id")?,
            occurred_at: Timestamp(r.timestamp("occurred_at")?),
            idempotency_key: None,
            correlation_id: r.nullable_string("correlation_id")?,
        };
        let product_id = r.string("product_id")?;
        validate_order_id(&product_id).map_err(|v| WireError::new("product_id", v.message))?;
        let version = positive("version", r.long("version")?)?;
        let change = change(&mut r)?;
        let meta = EventMeta {
            idempotency_key: r.nullable_string("idempotency_key")?,
            ..meta
        };
        Ok(StockEvent {
            product_id,
            version,
            meta,
            change,
        })
    }
}

fn change(r: &mut Fields) -> Result<StockChange, WireError> {
    let symbol = r.symbol("change")?;
    let quantity = r.long("quantity")?;
    let units = || {
        u32::try_from(quantity)
            .ok()
            .filter(|q| *q > 0)
            .ok_or_else(|| WireError::new("quantity", format!("is out of range: {quantity}")))
    };
    let order_id = r.nullable_string("order_id")?;
    let line = r.nullable_int("line")?;
    let line = || -> Result<LineRef, WireError> {
        let order_id = order_id
            .clone()
            .ok_or_else(|| WireError::new("order_id", "is missing"))?;
        let line = line.and_then(|l| u32::try_from(l).ok());
        let line = line.ok_or_else(|| WireError::new("line", "is missing or negative"))?;
        Ok(LineRef { order_id, line })
    };
    Ok(match symbol.as_str() {
        "RECEIVED" => StockChange::Received { quantity: units()? },
        "ADJUSTED" => StockChange::Adjusted {
            delta: quantity,
            reason: r.nullable_string("reason")?.unwrap_or_default(),
        },
        "RESERVED" => StockChange::Reserved {
            line: line()?,
            quantity: units()?,
        },
        "RELEASED" => StockChange::Released {
            line: line()?,
            quantity: units()?,
        },
        "COMMITTED" => StockChange::Committed {
            line: line()?,
            quantity: units()?,
        },
        other => return Err(WireError::new("change", format!("unknown change {other}"))),
    })
}

/// A version of 1 or more.
pub(super) fn positive(field: &str, n: i64) -> Result<u64, WireError> {
    u64::try_from(n)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| WireError::new(field, format!("must be at least 1, got {n}")))
}
