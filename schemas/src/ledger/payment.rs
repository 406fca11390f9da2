//! `PaymentRecorded` ⇄ [`PaymentEvent`].

use super::LedgerRecord;
use super::stock::positive;
use crate::error::WireError;
use crate::wire::fields::{Fields, money_value, nullable};
use apache_avro::Schema;
use apache_avro::types::Value;
use orderflow_domain::payment::{PaymentChange, PaymentEvent};
use orderflow_domain::{Decimal, EventMeta, Timestamp, validate_order_id};
use std::sync::LazyLock;

const SOURCE: &str = include_str!("../../payments/PaymentRecorded/v1.avsc");
static SCHEMA: LazyLock<Schema> =
    LazyLock::new(|| Schema::parse_str(SOURCE).expect("PaymentRecorded/v1.avsc is valid (tested)"));
const SYMBOLS: [&str; 7] = [
    "AUTHORIZED",
    "DECLINED",
    "UNANSWERED",
    "CAPTURED",
    "VOIDED",
    "REFUNDED",
    "REQUESTED",
];

impl LedgerRecord for PaymentEvent {
    const FULL_NAME: &'static str = "com.orderflow.payments.PaymentRecorded";

    fn schema_source() -> &'static str {
        SOURCE
    }

    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn key(&self) -> &str {
        &self.order_id
    }

    fn to_value(&self) -> Value {
        let none = (None, None, None, None);
        let (index, (intent, amount, currency, reason)) = match &self.change {
            PaymentChange::Authorized {
                intent_id,
                amount,
                currency,
            } => (
                0,
                (
                    Some(intent_id.clone()),
                    Some(*amount),
                    Some(currency.clone()),
                    None,
                ),
            ),
            PaymentChange::Declined { reason } => (1, (None, None, None, Some(reason.clone()))),
            PaymentChange::Unanswered => (2, none),
            PaymentChange::Captured { amount } => (3, (None, Some(*amount), None, None)),
            PaymentChange::Voided => (4, none),
            PaymentChange::Refunded { amount } => (5, (None, Some(*amount), None, None)),
            PaymentChange::Requested => (6, none),
        };
        let money = match amount {
            None => Value::Union(0, Box::new(Value::Null)),
            Some(a) => Value::Union(1, Box::new(money_value(a))),
        };
        Value::Record(vec![
            ("event_id".into(), Value::Uuid(self.meta.event_id)),
            ("order_id".into(), Value::String(self.order_id.clone())),
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
            ("intent_id".into(), nullable(&intent)),
            ("amount".into(), money),
            ("currency".into(), nullable(&currency)),
            ("reason".into(), nullable(&reason)),
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
        let order_id = r.string("order_id")?;
        validate_order_id(&order_id).map_err(|v| WireError::new("order_id", v.message))?;
        let version = positive("version", r.long("version")?)?;
        let symbol = r.symbol("change")?;
        let intent = r.nullable_string("intent_id")?;
        let amount = r.nullable_money("amount")?;
        let currency = r.nullable_string("currency")?;
        let reason = r.nullable_string("reason")?;
        let required =
            |field: &str, v: Option<String>| v.ok_or_else(|| WireError::new(field, "is missing"));
        let amount = || -> Result<Decimal, WireError> {
            amount.ok_or_else(|| WireError::new("amount", "is missing"))
        };
        let change = match symbol.as_str() {
            "AUTHORIZED" => PaymentChange::Authorized {
                intent_id: required("intent_id", intent)?,
                amount: amount()?,
                currency: required("currency", currency)?,
            },
            "DECLINED" => PaymentChange::Declined {
                reason: reason.unwrap_or_default(),
            },
            "UNANSWERED" => PaymentChange::Unanswered,
            "CAPTURED" => PaymentChange::Captured { amount: amount()? },
            "VOIDED" => PaymentChange::Voided,
            "REFUNDED" => PaymentChange::Refunded { amount: amount()? },
            "REQUESTED" => PaymentChange::Requested,
            other => return Err(WireError::new("change", format!("unknown change {other}"))),
        };
        Ok(PaymentEvent {
            order_id,
            version,
            meta,
            change,
        })
    }
}
