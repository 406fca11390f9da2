//! Wire structs: the Avro records of the log, field for field, and their mapping to and
//! from `apache_avro::types::Value`.

use crate::catalog::EventType;
use crate::error::WireError;
use apache_avro::types::Value;
use rust_decimal::Decimal;
use uuid::Uuid;

/// The fields every event record starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireEnvelope {
    pub event_id: Uuid,
    pub order_id: String,
    pub version: i64,
    /// `timestamp-millis`.
    pub occurred_at: i64,
    pub idempotency_key: Option<String>,
    pub correlation_id: Option<String>,
}

/// One line of `OrderPlaced.items`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireItem {
    pub product_id: String,
    pub quantity: i32,
    /// `decimal(12, 2)`.
    pub unit_price: Decimal,
}

/// The fields that follow the envelope, one variant per record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireBody {
    OrderPlaced {
        customer_id: String,
        items: Vec<WireItem>,
        shipping_address: String,
        total_amount: Decimal,
        /// ISO 4217 (v2; "USD" when written with v1).
        currency: String,
    },
    OrderPacked {
        warehouse: String,
    },
    OrderShipped {
        carrier: String,
        tracking_number: String,
        /// Days since 1970-01-01 (v2; `None` in events written with v1).
        estimated_delivery: Option<i32>,
    },
    OrderLocationUpdated {
        location: String,
    },
    OrderDelivered,
    OrderCancelled {
        /// `cancel_reason` on the wire since v2 (`reason` in v1).
        reason: String,
    },
}

/// One event record as it is on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireEvent {
    pub envelope: WireEnvelope,
    pub body: WireBody,
}

impl WireBody {
    /// The record this body belongs to.
    pub fn event_type(&self) -> EventType {
        match self {
            WireBody::OrderPlaced { .. } => EventType::OrderPlaced,
            WireBody::OrderPacked { .. } => EventType::OrderPacked,
            WireBody::OrderShipped { .. } => EventType::OrderShipped,
            WireBody::OrderLocationUpdated { .. } => EventType::OrderLocationUpdated,
            WireBody::OrderDelivered => EventType::OrderDelivered,
            WireBody::OrderCancelled { .. } => EventType::OrderCancelled,
        }
    }
}

impl WireEvent {
    /// The Avro record value, in the field order of the schema.
    pub fn to_value(&self) -> Value {
        let e = &self.envelope;
        let mut fields = vec![
            ("event_id".to_owned(), Value::Uuid(e.event_id)),
            ("order_id".to_owned(), Value::String(e.order_id.clone())),
            ("version".to_owned(), Value::Long(e.version)),
            (
                "occurred_at".to_owned(),
                Value::TimestampMillis(e.occurred_at),
            ),
            ("idempotency_key".to_owned(), nullable(&e.idempotency_key)),
            ("correlation_id".to_owned(), nullable(&e.correlation_id)),
        ];
        let mut push = |name: &str, value: Value| fields.push((name.to_owned(), value));
        match &self.body {
            WireBody::OrderPlaced {
                customer_id,
                items,
                shipping_address,
                total_amount,
                currency,
            } => {
                push("customer_id", Value::String(customer_id.clone()));
                push(
                    "items",
                    Value::Array(items.iter().map(item_value).collect()),
                );
                push("shipping_address", Value::String(shipping_address.clone()));
                push("total_amount", money_value(*total_amount));
                push("currency", Value::String(currency.clone()));
            }
            WireBody::OrderPacked { warehouse } => {
                push("warehouse", Value::String(warehouse.clone()))
            }
            WireBody::OrderShipped {
                carrier,
                tracking_number,
                estimated_delivery,
            } => {
                let eta = match estimated_delivery {
                    None => Value::Union(0, Box::new(Value::Null)),
                    Some(days) => Value::Union(1, Box::new(Value::Date(*days))),
                };
                push("carrier", Value::String(carrier.clone()));
                push("tracking_number", Value::String(tracking_number.clone()));
                push("estimated_delivery", eta);
            }
            WireBody::OrderLocationUpdated { location } => {
                push("location", Value::String(location.clone()))
            }
            WireBody::OrderDelivered => {}
            WireBody::OrderCancelled { reason } => {
                push("cancel_reason", Value::String(reason.clone()))
            }
        }
        Value::Record(fields)
    }

    /// Reads a record of `event_type` that has already been resolved to the reader schema.
    pub fn from_value(event_type: EventType, value: Value) -> Result<WireEvent, WireError> {
        let Value::Record(fields) = value else {
            return Err(WireError::new("event", "is not a record"));
        };
        let mut r = Fields(fields);
        let envelope = WireEnvelope {
            event_id: r.uuid("event_id")?,
            order_id: r.string("order_id")?,
            version: r.long("version")?,
            occurred_at: r.timestamp("occurred_at")?,
            idempotency_key: r.nullable_string("idempotency_key")?,
            correlation_id: r.nullable_string("correlation_id")?,
        };
        let body = match event_type {
            EventType::OrderPlaced => WireBody::OrderPlaced {
                customer_id: r.string("customer_id")?,
                items: r.items("items")?,
                shipping_address: r.string("shipping_address")?,
                total_amount: r.money("total_amount")?,
                currency: r.string("currency")?,
            },
            EventType::OrderPacked => WireBody::OrderPacked {
                warehouse: r.string("warehouse")?,
            },
            EventType::OrderShipped => WireBody::OrderShipped {
                carrier: r.string("carrier")?,
                tracking_number: r.string("tracking_number")?,
                estimated_delivery: r.nullable_date("estimated_delivery")?,
            },
            EventType::OrderLocationUpdated => WireBody::OrderLocationUpdated {
                location: r.string("location")?,
            },
            EventType::OrderDelivered => WireBody::OrderDelivered,
            EventType::OrderCancelled => WireBody::OrderCancelled {
                reason: r.string("cancel_reason")?,
            },
        };
        Ok(WireEvent { envelope, body })
    }
}

fn nullable(value: &Option<String>) -> Value {
    match value {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(s) => Value::Union(1, Box::new(Value::String(s.clone()))),
    }
}

fn item_value(item: &WireItem) -> Value {
    Value::Record(vec![
        (
            "product_id".to_owned(),
            Value::String(item.product_id.clone()),
        ),
        ("quantity".to_owned(), Value::Int(item.quantity)),
        ("unit_price".to_owned(), money_value(item.unit_price)),
    ])
}

/// `decimal(12, 2)` as Avro wants it: the unscaled value, big-endian two's complement.
fn money_value(amount: Decimal) -> Value {
    let mut scaled = amount;
    scaled.rescale(2);
    let unscaled = scaled.mantissa().to_be_bytes();
    // Keep the shortest form that still carries the sign, as Java's BigInteger does.
    let skip = unscaled
        .windows(2)
        .take_while(|w| (w[0] == 0 && w[1] & 0x80 == 0) || (w[0] == 0xff && w[1] & 0x80 != 0))
        .count();
    Value::Decimal(apache_avro::Decimal::from(&unscaled[skip..]))
}

fn money_from(field: &str, value: &apache_avro::Decimal) -> Result<Decimal, WireError> {
    let bytes = <Vec<u8>>::try_from(value).map_err(|e| WireError::new(field, e.to_string()))?;
    if bytes.is_empty() || bytes.len() > 16 {
        return Err(WireError::new(field, "decimal does not fit 128 bits"));
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0 };
    let mut full = [fill; 16];
    full[16 - bytes.len()..].copy_from_slice(&bytes);
    Decimal::try_from_i128_with_scale(i128::from_be_bytes(full), 2)
        .map_err(|e| WireError::new(field, e.to_string()))
}

/// Takes named fields out of a record, each once.
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn take(&mut self, name: &str) -> Result<Value, WireError> {
        let at = self.0.iter().position(|(n, _)| n == name);
        let at = at.ok_or_else(|| WireError::new(name, "is missing"))?;
        Ok(std::mem::replace(&mut self.0[at].1, Value::Null))
    }

    fn string(&mut self, name: &str) -> Result<String, WireError> {
        match self.take(name)? {
            Value::String(s) => Ok(s),
            other => Err(unexpected(name, &other)),
        }
    }

    fn long(&mut self, name: &str) -> Result<i64, WireError> {
        match self.take(name)? {
            Value::Long(n) => Ok(n),
            Value::Int(n) => Ok(n.into()),
            other => Err(unexpected(name, &other)),
        }
    }

    fn timestamp(&mut self, name: &str) -> Result<i64, WireError> {
        match self.take(name)? {
            Value::TimestampMillis(n) | Value::Long(n) => Ok(n),
            other => Err(unexpected(name, &other)),
        }
    }

    fn uuid(&mut self, name: &str) -> Result<Uuid, WireError> {
        match self.take(name)? {
            Value::Uuid(u) => Ok(u),
            Value::String(s) => {
                Uuid::parse_str(&s).map_err(|e| WireError::new(name, e.to_string()))
            }
            other => Err(unexpected(name, &other)),
        }
    }

    fn nullable_string(&mut self, name: &str) -> Result<Option<String>, WireError> {
        match self.take(name)? {
            Value::Union(_, inner) => match *inner {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s)),
                other => Err(unexpected(name, &other)),
            },
            Value::Null => Ok(None),
            other => Err(unexpected(name, &other)),
        }
    }

    fn nullable_date(&mut self, name: &str) -> Result<Option<i32>, WireError> {
        match self.take(name)? {
            Value::Union(_, inner) => match *inner {
                Value::Null => Ok(None),
                Value::Date(days) | Value::Int(days) => Ok(Some(days)),
                other => Err(unexpected(name, &other)),
            },
            Value::Null => Ok(None),
            other => Err(unexpected(name, &other)),
        }
    }

    fn money(&mut self, name: &str) -> Result<Decimal, WireError> {
        match self.take(name)? {
            Value::Decimal(d) => money_from(name, &d),
            other => Err(unexpected(name, &other)),
        }
    }

    fn items(&mut self, name: &str) -> Result<Vec<WireItem>, WireError> {
        let Value::Array(values) = self.take(name)? else {
            return Err(WireError::new(name, "is not an array"));
        };
        let item = |(i, v): (usize, Value)| -> Result<WireItem, WireError> {
            let Value::Record(fields) = v else {
                return Err(WireError::new(format!("{name}[{i}]"), "is not a record"));
            };
            let mut r = Fields(fields);
            let quantity = match r.take("quantity")? {
                Value::Int(q) => q,
                other => return Err(unexpected("quantity", &other)),
            };
            Ok(WireItem {
                product_id: r.string("product_id")?,
                quantity,
                unit_price: r.money("unit_price")?,
            })
        };
        values.into_iter().enumerate().map(item).collect()
    }
}

fn unexpected(name: &str, value: &Value) -> WireError {
    WireError::new(name, format!("has an unexpected Avro value {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_survives_the_avro_decimal_encoding() {
        for s in [
            "0.00",
            "0.01",
            "1.28",
            "-1.28",
            "25.99",
            "9999999999.99",
            "-9999999999.99",
        ] {
            let amount: Decimal = s.parse().unwrap();
            let Value::Decimal(d) = money_value(amount) else {
                unreachable!()
            };
            assert_eq!(money_from("m", &d).unwrap().to_string(), s);
        }
    }

    #[test]
    fn money_uses_the_shortest_twos_complement_like_java() {
        let Value::Decimal(d) = money_value("1.28".parse().unwrap()) else {
            unreachable!()
        };
        assert_eq!(<Vec<u8>>::try_from(&d).unwrap(), vec![0x00, 0x80]);
        let Value::Decimal(d) = money_value("-1.28".parse().unwrap()) else {
            unreachable!()
        };
        assert_eq!(<Vec<u8>>::try_from(&d).unwrap(), vec![0x80]);
    }
}
