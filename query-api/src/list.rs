//! `GET /orders`: orders newest first (`placed_at` desc, `order_id` desc), filtered by
//! customer and status, with keyset pagination.
//!
//! The cursor is the sort key of the last order of a page, `<placed_at µs>:<order_id>`,
//! hex-encoded so clients treat it as opaque. Keyset (not OFFSET) pagination means a page
//! costs the same wherever it is, and orders placed meanwhile neither shift nor duplicate
//! later pages.

use crate::access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::params::{self, Params};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use orderflow_auth::Caller;
use orderflow_read_model::{OrderView, SELECT_ORDERS, order_from_row};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{Postgres, QueryBuilder};

/// Page size when `limit` is absent.
const DEFAULT_LIMIT: u64 = 50;
/// Largest page.
const MAX_LIMIT: u64 = 200;

/// The query of `GET /orders`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    customer_id: Option<String>,
    status: Option<String>,
    limit: Option<u64>,
    cursor: Option<String>,
}

/// Where a page starts: strictly after this sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub placed_at_micros: i64,
    pub order_id: String,
}

impl Cursor {
    /// The opaque form handed to clients.
    pub fn encode(&self) -> String {
        let plain = format!("{}:{}", self.placed_at_micros, self.order_id);
        plain.bytes().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses [`Cursor::encode`]'s output; `None` for anything else.
    pub fn decode(text: &str) -> Option<Cursor> {
        if !text.len().is_multiple_of(2) || !text.is_ascii() {
            return None;
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let plain = String::from_utf8(bytes).ok()?;
        let (micros, order_id) = plain.split_once(':')?;
        orderflow_domain::validate_order_id(order_id).ok()?;
        Some(Cursor {
            placed_at_micros: micros.parse().ok()?,
            order_id: order_id.to_owned(),
        })
    }

    fn placed_at(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self.placed_at_micros)
    }
}

/// `GET /orders`: `{"orders": [summary…], "next_cursor": "…" | null}`.
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Params(mut query): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = params::bounded("limit", query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    if let Some(customer) = &query.customer_id
        && (customer.is_empty()
            || customer.chars().count() > 64
            || customer.chars().any(char::is_control))
    {
        return Err(ApiError::invalid(
            "customer_id",
            "must be 1 to 64 characters without control characters",
        ));
    }
    query.customer_id = access::list_filter(&caller, query.customer_id)?;
    let status = params::status(query.status.as_deref())?;
    let after = query.cursor.as_deref().map(after_cursor).transpose()?;
    let rows = page(&app, &query, status, after, limit).await?;
    let orders: Vec<Value> = rows.iter().map(OrderView::summary_json).collect();
    let next_cursor = (rows.len() as u64 > limit).then(|| {
        let last = &rows[limit as usize - 1];
        Cursor {
            placed_at_micros: last.placed_at.timestamp_micros(),
            order_id: last.order_id.clone(),
        }
        .encode()
    });
    let orders = &orders[..orders.len().min(limit as usize)];
    Ok(Json(json!({"orders": orders, "next_cursor": next_cursor})))
}

/// Where a page starts: after the order a cursor names.
fn after_cursor(cursor: &str) -> Result<(DateTime<Utc>, String), ApiError> {
    let cursor = Cursor::decode(cursor).ok_or(ApiError::BadCursor)?;
    orderflow_domain::validate_order_id(&cursor.order_id).map_err(|_| ApiError::BadCursor)?;
    let at = cursor.placed_at().ok_or(ApiError::BadCursor)?;
    Ok((at, cursor.order_id))
}

/// Up to `limit + 1` orders, newest first: one more than the page tells whether another
/// page exists.
async fn page(
    app: &AppState,
    query: &ListQuery,
    status: Option<&'static str>,
    after: Option<(DateTime<Utc>, String)>,
    limit: u64,
) -> Result<Vec<OrderView>, ApiError> {
    // Only the filters given become SQL, so Postgres can pick the matching index.
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(SELECT_ORDERS);
    if let Some(customer) = &query.customer_id {
        sql.push(" AND o.customer_id = ").push_bind(customer);
    }
    if let Some(status) = status {
        sql.push(" AND o.status = ").push_bind(status);
    }
    if let Some((at, order_id)) = &after {
        sql.push(" AND (o.placed_at, o.order_id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(order_id)
            .push(")");
    }
    sql.push(" ORDER BY o.placed_at DESC, o.order_id DESC LIMIT ")
        .push_bind(limit as i64 + 1);
    let rows = sql.build().fetch_all(app.store.pool()).await?;
    Ok(rows.iter().map(order_from_row).collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let cursor = Cursor {
            placed_at_micros: 1_767_225_600_123_456,
            order_id: "ord-1:a".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }

    #[test]
    fn foreign_cursors_are_rejected() {
        for bad in ["", "zz", "abc", "31323a", "78797a3a6f2d31", "é"] {
            assert_eq!(Cursor::decode(bad), None, "{bad:?}");
        }
    }
}
