//! Reading and writing the Avro values of record fields: money as `decimal(12, 2)`,
//! nullable unions, and [`Fields`], which takes a resolved record's fields by name. Shared
//! by the order events and the fulfilment records.

use super::WireItem;
use crate::error::WireError;
use apache_avro::types::Value;
use rust_decimal::Decimal;
use uuid::Uuid;

pub(crate) fn nullable(value: &Option<String>) -> Value {
    match value {
        None => Value::Union(0, Box::new(Value::Null)),
        Some(s) => Value::Union(1, Box::new(Value::String(s.clone()))),
    }
}

pub(crate) fn item_value(item: &WireItem) -> Value {
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
pub(crate) fn money_value(amount: Decimal) -> Value {
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

pub(crate) fn money_from(field: &str, value: &apache_avro::Decimal) -> Result<Decimal, WireError> {
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
pub(crate) struct Fields(pub(crate) Vec<(String, Value)>);

impl Fields {
    pub(crate) fn take(&mut self, name: &str) -> Result<Value, WireError> {
        let at = self.0.iter().position(|(n, _)| n == name);
        let at = at.ok_or_else(|| WireError::new(name, "is missing"))?;
        Ok(std::mem::replace(&mut self.0[at].1, Value::Null))
    }

    pub(crate) fn string(&mut self, name: &str) -> Result<String, WireError> {
        match self.take(name)? {
            Value::String(s) => Ok(s),
            other => Err(unexpected(name, &other)),
        }
    }

    pub(crate) fn long(&mut self, name: &str) -> Result<i64, WireError> {
        match self.take(name)? {
            Value::Long(n) => Ok(n),
            Value::Int(n) => Ok(n.into()),
            other => Err(unexpected(name, &other)),
        }
    }

    pub(crate) fn timestamp(&mut self, name: &str) -> Result<i64, WireError> {
        match self.take(name)? {
            Value::TimestampMillis(n) | Value::Long(n) => Ok(n),
            other => Err(unexpected(name, &other)),
        }
    }

    pub(crate) fn uuid(&mut self, name: &str) -> Result<Uuid, WireError> {
        match self.take(name)? {
            Value::Uuid(u) => Ok(u),
            Value::String(s) => {
                Uuid::parse_str(&s).map_err(|e| WireError::new(name, e.to_string()))
            }
            other => Err(unexpected(name, &other)),
        }
    }

    /// An enum's symbol (resolution has already mapped unknown symbols to the default).
    pub(crate) fn symbol(&mut self, name: &str) -> Result<String, WireError> {
        match self.take(name)? {
            Value::Enum(_, symbol) => Ok(symbol),
            other => Err(unexpected(name, &other)),
        }
    }

    pub(crate) fn nullable_int(&mut self, name: &str) -> Result<Option<i32>, WireError> {
        match self.take(name)? {
            Value::Union(_, inner) => match *inner {
                Value::Null => Ok(None),
                Value::Int(n) => Ok(Some(n)),
                other => Err(unexpected(name, &other)),
            },
            Value::Null => Ok(None),
            other => Err(unexpected(name, &other)),
        }
    }

    pub(crate) fn nullable_money(&mut self, name: &str) -> Result<Option<Decimal>, WireError> {
        match self.take(name)? {
            Value::Union(_, inner) => match *inner {
                Value::Null => Ok(None),
                Value::Decimal(d) => money_from(name, &d).map(Some),
                other => Err(unexpected(name, &other)),
            },
            Value::Null => Ok(None),
            other => Err(unexpected(name, &other)),
        }
    }

    pub(crate) fn nullable_string(&mut self, name: &str) -> Result<Option<String>, WireError> {
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

    pub(crate) fn nullable_date(&mut self, name: &str) -> Result<Option<i32>, WireError> {
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

    pub(crate) fn money(&mut self, name: &str) -> Result<Decimal, WireError> {
        match self.take(name)? {
            Value::Decimal(d) => money_from(name, &d),
            other => Err(unexpected(name, &other)),
        }
    }

    pub(crate) fn items(&mut self, name: &str) -> Result<Vec<WireItem>, WireError> {
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
