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
use orderflow_platform::Problem;
use orderflow_read_model::{OrderSummary, OrderView, SELECT_ORDERS, order_from_row};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};
use utoipa::{IntoParams, ToSchema};

/// Page size when `limit` is absent.
const DEFAULT_LIMIT: u64 = 50;
/// Largest page.
const MAX_LIMIT: u64 = 200;

/// The query of `GET /orders`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this customer's orders. A customer may name only itself (and sees only its own
    /// orders without it); an operator may name anyone.
    #[param(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]+$"
    )]
    customer_id: Option<String>,
    /// Only orders in this status.
    #[param(schema_with = orderflow_read_model::status_schema)]
    status: Option<String>,
    /// Orders per page (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u64>,
    /// Where the page starts: the `next_cursor` of the previous page, unchanged.
    #[param(pattern = "^([0-9a-f]{2})+$")]
    cursor: Option<String>,
}

/// A page of orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    #[schema(value_type = Vec<OrderSummary>)]
    orders: Vec<Value>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
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
#[utoipa::path(
    get,
    path = "/orders",
    operation_id = "listOrders",
    tag = "orders",
    summary = "Orders, newest first",
    description = "Orders by `placed_at` descending, filtered by customer and status, a page at \
        a time (keyset pagination: orders placed meanwhile neither shift nor repeat pages).",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of orders.", body = OrderPage,
         links(("next" = (operation_id = "listOrders",
                parameters(("cursor" = "$response.body#/next_cursor")),
                description = "The next page, while `next_cursor` is not null.")),
               ("first_order" = (operation_id = "getOrder",
                parameters(("id" = "$response.body#/orders/0/order_id")),
                description = "The first order of the page.")))),
        (status = 400, description = "A parameter does not parse, or a cursor this API did not \
            issue.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A customer asked for another customer's orders, or the \
            caller is neither a customer nor an operator.", body = Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "`limit`, `status` or `customer_id` out of range.",
         body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Params(mut query): Params<ListQuery>,
) -> Result<Json<OrderPage>, ApiError> {
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
    let mut orders: Vec<Value> = rows.iter().map(OrderView::summary_json).collect();
    let next_cursor = (rows.len() as u64 > limit).then(|| {
        let last = &rows[limit as usize - 1];
        Cursor {
            placed_at_micros: last.placed_at.timestamp_micros(),
            order_id: last.order_id.clone(),
        }
        .encode()
    });
    orders.truncate(limit as usize);
    Ok(Json(OrderPage {
        orders,
        next_cursor,
    }))
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
