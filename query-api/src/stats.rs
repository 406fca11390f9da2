//! The analytics the projector keeps incrementally: `GET /stats/orders`,
//! `GET /stats/revenue/hourly` and `GET /stats/products/top`.
//!
//! Revenue is **placed** revenue: the sum of the totals of orders placed (in the hour of
//! their `OrderPlaced` event); a later cancellation does not subtract, as the projector
//! defines `stats_hourly` and `stats_products`. Order counts by status are *current*
//! statuses (`stats_status`). Money is a decimal string with two places.

use crate::access;
use crate::app::AppState;
use crate::error::ApiError;
use crate::params::{self, Params};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use orderflow_auth::Caller;
use orderflow_platform::Problem;
use orderflow_read_model::{money, money_schema, timestamp};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// The statuses reported by `/stats/orders`, each present even at zero.
const STATUSES: [&str; 5] = ["placed", "packed", "shipped", "delivered", "cancelled"];
/// Widest range of `/stats/revenue/hourly`.
const MAX_RANGE_DAYS: i64 = 31;
/// Default and largest `limit` of `/stats/products/top`.
const DEFAULT_TOP: u64 = 10;
const MAX_TOP: u64 = 100;

/// The order counts and placed revenue.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderStats {
    /// Orders in the read model.
    total_orders: i64,
    /// The total of every order placed, cancelled ones included.
    #[schema(schema_with = money_schema)]
    total_revenue: String,
    /// Orders by current status; every status is present, zero included.
    #[schema(value_type = BTreeMap<String, i64>)]
    by_status: BTreeMap<String, i64>,
}

/// One hour of placements.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourlyRevenue {
    /// The start of the hour (UTC).
    #[schema(format = DateTime)]
    hour: String,
    order_count: i64,
    #[schema(schema_with = money_schema)]
    revenue: String,
    /// `revenue / order_count`, rounded half away from zero to cents.
    #[schema(schema_with = money_schema)]
    avg_order_value: String,
}

/// One product's placements.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductSales {
    product_id: String,
    /// Units placed.
    quantity: i64,
    #[schema(schema_with = money_schema)]
    revenue: String,
}

/// The 403 of every analytics route.
const OPERATORS_ONLY: &str = "The caller is not an operator.";

/// `GET /stats/orders`: `{total_orders, total_revenue, by_status}`.
#[utoipa::path(
    get,
    path = "/stats/orders",
    operation_id = "getOrderStats",
    tag = "stats",
    summary = "Order counts by status and placed revenue",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The counts.", body = OrderStats),
        (status = 403, description = OPERATORS_ONLY, body = Problem,
         content_type = "application/problem+json"),
    ),
)]
pub async fn orders(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<OrderStats>, ApiError> {
    access::operators_only(&caller)?;
    let pool = app.store.pool();
    // One statement, so both figures come from one snapshot (and one generation).
    let (statuses, order_counts, revenue): (Vec<String>, Vec<i64>, Decimal) = sqlx::query_as(
        "SELECT COALESCE(array_agg(status), '{}'), COALESCE(array_agg(order_count), '{}'),
                (SELECT COALESCE(SUM(revenue), 0)::numeric FROM stats_hourly)
         FROM stats_status",
    )
    .fetch_one(pool)
    .await?;
    let counts = statuses.into_iter().zip(order_counts);
    let mut by_status: BTreeMap<String, i64> =
        STATUSES.iter().map(|s| (s.to_string(), 0)).collect();
    let mut total = 0;
    for (status, count) in counts {
        total += count;
        by_status.insert(status, count);
    }
    Ok(Json(OrderStats {
        total_orders: total,
        total_revenue: money(revenue),
        by_status,
    }))
}

/// The query of `GET /stats/revenue/hourly`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HourlyQuery {
    /// The first hour (RFC 3339; default: 24 hours before `to`); at most 31 days before `to`.
    #[param(format = DateTime, example = "2026-01-31T12:00:00Z")]
    from: Option<String>,
    /// The end of the range (RFC 3339; default: now, or 31 days after `from` if that is
    /// earlier).
    #[param(format = DateTime, example = "2026-02-01T12:00:00Z")]
    to: Option<String>,
}

/// `GET /stats/revenue/hourly`: the hours from the hour containing `from` up to `to`
/// (default: the last 24 hours) that had placements, oldest first.
#[utoipa::path(
    get,
    path = "/stats/revenue/hourly",
    operation_id = "getHourlyRevenue",
    tag = "stats",
    summary = "Placed revenue by hour",
    description = "The hours from the hour containing `from` up to `to` that had placements, \
        oldest first. Revenue is placed revenue: a later cancellation does not subtract.",
    params(HourlyQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The hours.", body = Vec<HourlyRevenue>),
        (status = 400, description = "The query string does not parse.", body = Problem,
         content_type = "application/problem+json"),
        (status = 403, description = OPERATORS_ONLY, body = Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "`from` or `to` not RFC 3339, `from` after `to`, or more \
            than 31 days apart.", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn hourly(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<HourlyQuery>,
) -> Result<Json<Vec<HourlyRevenue>>, ApiError> {
    access::operators_only(&caller)?;
    let (from, to) = range(query.from.as_deref(), query.to.as_deref(), Utc::now())?;
    let rows: Vec<(DateTime<Utc>, i64, Decimal)> = sqlx::query_as(
        "SELECT hour, order_count, revenue FROM stats_hourly
         WHERE hour >= date_trunc('hour', $1 AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
           AND hour <= $2
         ORDER BY hour",
    )
    .bind(from)
    .bind(to)
    .fetch_all(app.store.pool())
    .await?;
    let hours = rows
        .into_iter()
        .map(|(hour, count, revenue)| HourlyRevenue {
            hour: timestamp(hour),
            order_count: count,
            revenue: money(revenue),
            avg_order_value: money(average(revenue, count)),
        })
        .collect();
    Ok(Json(hours))
}

/// The validated `[from, to]` of an hourly query.
pub fn range(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let parse = |param: &'static str, value: &str| {
        DateTime::parse_from_rfc3339(value)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                ApiError::invalid(param, "must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z")
            })
    };
    let from = from.map(|v| parse("from", v)).transpose()?;
    let to = to.map(|v| parse("to", v)).transpose()?;
    // Only a `from` asks for the range that starts there: up to now, at most the longest
    // range (and empty for a `from` still to come).
    let (from, to) = match (from, to) {
        (from, Some(to)) => (from.unwrap_or(to - Duration::hours(24)), to),
        (Some(from), None) => (
            from,
            now.min(from + Duration::days(MAX_RANGE_DAYS)).max(from),
        ),
        (None, None) => (now - Duration::hours(24), now),
    };
    if from > to {
        return Err(ApiError::invalid("from", "must not be after `to`"));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(ApiError::invalid(
            "to",
            format!("must be at most {MAX_RANGE_DAYS} days after `from`"),
        ));
    }
    Ok((from, to))
}

/// Mean order value, rounded half away from zero to cents (not banker's rounding, which
/// no invoice uses).
pub fn average(revenue: Decimal, count: i64) -> Decimal {
    if count <= 0 {
        return Decimal::ZERO;
    }
    (revenue / Decimal::from(count))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// The query of `GET /stats/products/top`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopQuery {
    /// How many products (default 10).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u64>,
}

/// `GET /stats/products/top`: products by quantity placed, most first.
#[utoipa::path(
    get,
    path = "/stats/products/top",
    operation_id = "getTopProducts",
    tag = "stats",
    summary = "Products by quantity placed",
    params(TopQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The products, most placed first.", body = Vec<ProductSales>),
        (status = 400, description = "`limit` does not parse.", body = Problem,
         content_type = "application/problem+json"),
        (status = 403, description = OPERATORS_ONLY, body = Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "`limit` out of range.", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
pub async fn top_products(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<TopQuery>,
) -> Result<Json<Vec<ProductSales>>, ApiError> {
    access::operators_only(&caller)?;
    let limit = params::bounded("limit", query.limit, DEFAULT_TOP, MAX_TOP)?;
    let rows: Vec<(String, i64, Decimal)> = sqlx::query_as(
        "SELECT product_id, quantity, revenue FROM stats_products
         ORDER BY quantity DESC, product_id LIMIT $1",
    )
    .bind(limit as i64)
    .fetch_all(app.store.pool())
    .await?;
    let products = rows
        .into_iter()
        .map(|(product_id, quantity, revenue)| ProductSales {
            product_id,
            quantity,
            revenue: money(revenue),
        })
        .collect();
    Ok(Json(products))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn ranges_default_to_the_last_day_and_are_checked() {
        let now = at("2026-01-02T10:30:00Z");
        assert_eq!(
            range(None, None, now).unwrap(),
            (at("2026-01-01T10:30:00Z"), now)
        );
        assert!(
            range(
                Some("2026-01-03T00:00:00Z"),
                Some("2026-01-02T00:00:00Z"),
                now
            )
            .is_err()
        );
        assert!(
            range(
                Some("2025-11-01T00:00:00Z"),
                Some("2026-01-02T00:00:00Z"),
                now
            )
            .is_err()
        );
        // A `from` alone runs up to now, at most 31 days, and a future one is empty.
        let from = at("2025-06-01T00:00:00Z");
        assert_eq!(
            range(Some("2025-06-01T00:00:00Z"), None, now).unwrap(),
            (from, from + Duration::days(31))
        );
        let soon = at("2026-01-02T11:00:00Z");
        assert_eq!(
            range(Some("2026-01-02T11:00:00Z"), None, now).unwrap(),
            (soon, soon)
        );
        assert!(matches!(
            range(Some("yesterday"), None, now),
            Err(ApiError::InvalidParam { param: "from", .. })
        ));
    }

    #[test]
    fn averages_round_half_away_from_zero() {
        assert_eq!(money(average(Decimal::new(1000, 2), 3)), "3.33");
        assert_eq!(money(average(Decimal::new(1001, 2), 2)), "5.01");
        assert_eq!(money(average(Decimal::ZERO, 0)), "0.00");
    }
}
