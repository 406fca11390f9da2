//! Request and response bodies, and their mapping to domain commands.

use crate::aggregates::Ack;
use orderflow_domain::{
    Command, CommandKind, Confirmation, Date, Decimal, LineItem, PlaceOrder, Violation, limits,
    validate_order_id, violations,
};
use orderflow_platform::FieldError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

// Text fields: the domain accepts text that is not blank and holds no control character
// but the line feed. Their schemas say so with one pattern (ECMA-262; a literal, as
// utoipa's attributes take no constants) beside each field's length limits.

/// The currency of an order that names none (and of every event written with v1).
const DEFAULT_CURRENCY: &str = "USD";

/// `POST /orders`: a new order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderBody {
    /// The order's id; without one, it is derived from the `Idempotency-Key` (or made up).
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,64}$", example = "ord-2026-0001")]
    pub order_id: Option<String>,
    /// ISO 4217 code of the prices; `USD` when absent.
    #[schema(pattern = r"^[A-Z]{3}$", example = "EUR")]
    pub currency: Option<String>,
    /// The processor's id of the payment method fulfilment authorizes (Stripe's `pm_…`);
    /// where fulfilment runs, an order without one is rejected.
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,64}$", example = "pm_card_visa")]
    pub payment_method: Option<String>,
    /// Who orders; a customer's token may only name its own subject.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*$",
        example = "cust-42"
    )]
    pub customer_id: String,
    /// 1 to 100 lines; the total must not exceed 9999999999.99.
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<ItemBody>,
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*$",
        example = "1 Main St, Springfield"
    )]
    pub shipping_address: String,
}

/// One line of `POST /orders`. The price is a string so no float ever touches money.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemBody {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*$",
        example = "sku-1"
    )]
    pub product_id: String,
    #[schema(minimum = 1, maximum = 10000, example = 2)]
    #[serde(deserialize_with = "orderflow_platform::http::json_integer")]
    pub quantity: i64,
    /// A decimal string with at most two decimal places, at most 9999999999.99.
    #[schema(
        format = "decimal",
        pattern = r"^[0-9]{1,10}(\.[0-9]{1,2})?$",
        example = "25.99"
    )]
    pub unit_price: String,
}

/// `POST /orders/{id}/pack`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PackBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*$",
        example = "wh-east"
    )]
    pub warehouse: String,
}

/// `POST /orders/{id}/ship`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*$",
        example = "UPS"
    )]
    pub carrier: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*$",
        example = "1Z999"
    )]
    pub tracking_number: String,
    /// `YYYY-MM-DD`, optional.
    #[schema(format = Date, example = "2026-12-01")]
    pub estimated_delivery: Option<String>,
}

/// `POST /orders/{id}/location`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*$",
        example = "Hub Frankfurt"
    )]
    pub location: String,
}

/// `POST /orders/{id}/deliver`: no fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliverBody {}

/// `POST /orders/{id}/cancel`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0009\u000B-\u001F\u007F-\u009F]*$",
        example = "changed my mind"
    )]
    pub reason: String,
}

/// The body of a transition, mapped to its command without failing (the domain checks it).
pub trait TransitionBody: DeserializeOwned + Send + 'static {
    /// The command this body makes.
    const KIND: CommandKind;
    /// The command, or the fields that cannot be read.
    fn into_command(self) -> Result<Command, Vec<FieldError>>;
}

impl TransitionBody for PackBody {
    const KIND: CommandKind = CommandKind::Pack;

    fn into_command(self) -> Result<Command, Vec<FieldError>> {
        Ok(Command::Pack {
            warehouse: self.warehouse,
        })
    }
}

impl TransitionBody for ShipBody {
    const KIND: CommandKind = CommandKind::Ship;

    fn into_command(self) -> Result<Command, Vec<FieldError>> {
        let estimated_delivery = match self.estimated_delivery.as_deref().map(parse_date) {
            None => None,
            Some(Some(date)) => Some(date),
            Some(None) => {
                return Err(vec![FieldError {
                    field: "estimated_delivery".into(),
                    message: "must be a date such as \"2026-12-01\"".into(),
                }]);
            }
        };
        Ok(Command::Ship {
            carrier: self.carrier,
            tracking_number: self.tracking_number,
            estimated_delivery,
        })
    }
}

impl TransitionBody for LocationBody {
    const KIND: CommandKind = CommandKind::UpdateLocation;

    fn into_command(self) -> Result<Command, Vec<FieldError>> {
        Ok(Command::UpdateLocation {
            location: self.location,
        })
    }
}

impl TransitionBody for DeliverBody {
    const KIND: CommandKind = CommandKind::Deliver;

    fn into_command(self) -> Result<Command, Vec<FieldError>> {
        Ok(Command::Deliver)
    }
}

impl TransitionBody for CancelBody {
    const KIND: CommandKind = CommandKind::Cancel;

    fn into_command(self) -> Result<Command, Vec<FieldError>> {
        Ok(Command::Cancel {
            reason: self.reason,
        })
    }
}

impl PlaceOrderBody {
    /// The requested order id (if any) and the command, or the fields that cannot be read.
    /// The domain checks the rest of the rules.
    pub fn into_command(
        self,
        confirmation: Confirmation,
    ) -> Result<(Option<String>, Command), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(id) = &self.order_id
            && let Err(v) = validate_order_id(id)
        {
            errors.push(field_error(v));
        }
        let items = self
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| item.into_line(i, &mut errors))
            .collect();
        let command = Command::Place(PlaceOrder {
            customer_id: self.customer_id,
            items,
            shipping_address: self.shipping_address,
            currency: self.currency.unwrap_or_else(|| DEFAULT_CURRENCY.to_owned()),
            confirmation,
            payment_method: self.payment_method,
        });
        if errors.is_empty() {
            return Ok((self.order_id, command));
        }
        // Report the domain's findings too, except on fields already reported unreadable.
        for v in violations(&command) {
            if !errors.iter().any(|e| e.field == v.field) {
                errors.push(field_error(v));
            }
        }
        Err(errors)
    }
}

impl ItemBody {
    /// The line item; an unreadable quantity or price is reported and replaced by a valid
    /// placeholder, so the domain's checks can still report everything else.
    fn into_line(self, i: usize, errors: &mut Vec<FieldError>) -> LineItem {
        let quantity = u32::try_from(self.quantity).unwrap_or_else(|_| {
            errors.push(FieldError {
                field: format!("items[{i}].quantity"),
                message: format!(
                    "must be between 1 and {}, got {}",
                    limits::MAX_QUANTITY,
                    self.quantity
                ),
            });
            1
        });
        let unit_price = parse_money(&self.unit_price).unwrap_or_else(|| {
            errors.push(FieldError {
                field: format!("items[{i}].unit_price"),
                message: format!(
                    "must be a decimal string such as \"25.99\", got {:?}",
                    self.unit_price
                ),
            });
            Decimal::ZERO
        });
        LineItem {
            product_id: self.product_id,
            quantity,
            unit_price,
        }
    }
}

/// A domain violation in the API's error shape.
pub fn field_error(v: Violation) -> FieldError {
    FieldError {
        field: v.field,
        message: v.message,
    }
}

/// A `YYYY-MM-DD` calendar date as days since 1970-01-01.
fn parse_date(text: &str) -> Option<Date> {
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let days = date
        .signed_duration_since(chrono::NaiveDate::default())
        .num_days();
    i32::try_from(days).ok().map(Date)
}

/// Exactly what the document's pattern allows: 1 to 10 digits, then optionally a point and
/// 1 or 2 digits (`^[0-9]{1,10}(\.[0-9]{1,2})?$`); no sign, exponent or spaces.
fn parse_money(text: &str) -> Option<Decimal> {
    let (units, cents) = match text.split_once('.') {
        Some((units, cents)) => (units, Some(cents)),
        None => (text, None),
    };
    let digits = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(units, 10) || cents.is_some_and(|c| !digits(c, 2)) {
        return None;
    }
    Decimal::from_str_exact(text).ok()
}

/// Where an event is in the log.
#[derive(Debug, Serialize, ToSchema)]
pub struct Position {
    #[schema(minimum = 0)]
    pub partition: i32,
    #[schema(minimum = 0)]
    pub offset: i64,
}

/// The body of every successful command.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandResponse {
    /// The order's id: the `{id}` of its transitions.
    #[schema(example = "ord-2026-0001")]
    pub order_id: String,
    /// The status after the command.
    #[schema(value_type = super::openapi::OrderStatus)]
    pub status: &'static str,
    /// The order's version after the command: its `ETag`, for `If-Match`.
    #[schema(minimum = 0, example = 1)]
    pub version: u64,
    /// The id of the event written.
    #[schema(format = "uuid")]
    pub event_id: String,
    pub position: Position,
}

/// `GET /orders/{id}`: the write side's view of an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub order_id: String,
    #[schema(value_type = super::openapi::OrderStatus)]
    pub status: &'static str,
    #[schema(minimum = 0)]
    pub version: u64,
}

impl From<&Ack> for CommandResponse {
    fn from(ack: &Ack) -> Self {
        CommandResponse {
            order_id: ack.order_id.clone(),
            status: ack.status.as_str(),
            version: ack.version,
            event_id: ack.event_id.to_string(),
            position: Position {
                partition: ack.partition,
                offset: ack.offset,
            },
        }
    }
}

#[cfg(test)]
#[path = "dto_tests.rs"]
mod tests;
