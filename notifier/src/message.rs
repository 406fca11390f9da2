//! What a notice says, per channel: an email with a template per status, and the JSON
//! body of a webhook (which the signature covers byte for byte).

use crate::notice::Notice;
use chrono::{DateTime, SecondsFormat};
use orderflow_domain::Status;
use serde_json::{Map, Value, json};

/// An email to the order's customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub subject: String,
    pub text: String,
}

/// The email of `notice`, with a link to the order's tracking page under `tracking_base`
/// (the query API's address, e.g. `https://orders.example.com`).
pub fn email(notice: &Notice, tracking_base: &str) -> Email {
    let id = &notice.order_id;
    let detail = |key: &str| {
        notice
            .details
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, v)| v.as_str())
    };
    let (subject, lead) = match notice.status {
        Status::Placed => (
            format!("We have your order {id}"),
            format!(
                "Thank you for your order. Its total is {}.",
                detail("total_amount")
            ),
        ),
        Status::Pending => (
            format!("We have your order {id}"),
            format!(
                "Thank you for your order of {}. We are checking the stock and your payment, \
                 and will write again once it is confirmed.",
                detail("total_amount")
            ),
        ),
        Status::Confirmed => (
            format!("Your order {id} is confirmed"),
            "Its items are reserved for you and your payment is authorized.".to_owned(),
        ),
        Status::Rejected => (
            format!("We could not accept your order {id}"),
            format!("We are sorry: {}. Nothing was charged.", detail("reason")),
        ),
        Status::Packed => (
            format!("Your order {id} is packed"),
            "It is packed and waits for the carrier.".to_owned(),
        ),
        Status::Shipped => (
            format!("Your order {id} is on its way"),
            format!(
                "{} carries it, tracking number {}.",
                detail("carrier"),
                detail("tracking_number")
            ),
        ),
        Status::Delivered => (
            format!("Your order {id} was delivered"),
            "It was delivered. We hope you enjoy it.".to_owned(),
        ),
        Status::Cancelled => (
            format!("Your order {id} was cancelled"),
            format!("It was cancelled: {}.", detail("reason")),
        ),
    };
    let link = format!("{}/track/{id}", tracking_base.trim_end_matches('/'));
    Email {
        subject,
        text: format!("{lead}\n\nFollow your order: {link}\n"),
    }
}

/// The webhook body of `notice`: its id (the event's), type, time and the order's state.
pub fn webhook_body(notice: &Notice) -> Value {
    let created_at = DateTime::from_timestamp_millis(notice.occurred_at.0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut data = Map::new();
    data.insert("order_id".into(), json!(notice.order_id));
    data.insert("customer_id".into(), json!(notice.customer_id));
    data.insert("status".into(), json!(notice.status.as_str()));
    data.insert("version".into(), json!(notice.version));
    for (key, value) in &notice.details {
        data.insert((*key).into(), json!(value));
    }
    json!({
        "id": notice.id,
        "type": format!("order.{}", notice.status.as_str()),
        "created_at": created_at,
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_domain::Timestamp;
    use uuid::Uuid;

    fn notice(status: Status, details: &[(&'static str, &str)]) -> Notice {
        Notice {
            id: Uuid::from_u128(7),
            order_id: "o-1".into(),
            customer_id: "c-1".into(),
            status,
            version: 3,
            occurred_at: Timestamp(1_767_225_600_123),
            details: details.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        }
    }

    #[test]
    fn every_status_has_its_own_email_with_a_tracking_link() {
        let subjects: Vec<String> = [
            Status::Placed,
            Status::Packed,
            Status::Shipped,
            Status::Delivered,
            Status::Cancelled,
        ]
        .into_iter()
        .map(|status| {
            let email = email(&notice(status, &[]), "https://orders.example.com/");
            assert!(
                email.text.contains("https://orders.example.com/track/o-1"),
                "{email:?}"
            );
            email.subject
        })
        .collect();
        let distinct: std::collections::BTreeSet<_> = subjects.iter().collect();
        assert_eq!(distinct.len(), 5, "{subjects:?}");
    }

    #[test]
    fn a_shipping_email_names_the_carrier_and_tracking_number() {
        let shipped = notice(
            Status::Shipped,
            &[("carrier", "UPS"), ("tracking_number", "1Z9")],
        );
        let email = email(&shipped, "http://127.0.0.1:8090");
        assert_eq!(email.subject, "Your order o-1 is on its way");
        assert!(
            email
                .text
                .starts_with("UPS carries it, tracking number 1Z9."),
            "{email:?}"
        );
    }

    #[test]
    fn a_webhook_body_carries_the_events_id_type_time_and_state() {
        let cancelled = notice(Status::Cancelled, &[("reason", "lost")]);
        assert_eq!(
            webhook_body(&cancelled),
            json!({
                "id": "00000000-0000-0000-0000-000000000007",
                "type": "order.cancelled",
                "created_at": "2026-01-01T00:00:00.123Z",
                "data": {"order_id": "o-1", "customer_id": "c-1", "status": "cancelled",
                         "version": 3, "reason": "lost"}
            })
        );
    }
}
