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
use orderflow_read_model::{money, timestamp};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The statuses reported by `/stats/orders`, each present even at zero.
const STATUSES: [&str; 5] = ["placed", "packed", "shipped", "delivered", "cancelled"];
/// Widest range of `/stats/revenue/hourly`.
const MAX_RANGE_DAYS: i64 = 31;
/// Default and largest `limit` of `/stats/products/top`.
const DEFAULT_TOP: u64 = 10;
const MAX_TOP: u64 = 100;

/// `GET /stats/orders`: `{total_orders, total_revenue, by_status}`.
pub async fn orders(
    State(app): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<Value>, ApiError> {
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
    let mut by_status: Map<String, Value> =
        STATUSES.iter().map(|s| (s.to_string(), json!(0))).collect();
    let mut total = 0;
    for (status, count) in counts {
        total += count;
        by_status.insert(status, json!(count));
    }
    Ok(Json(json!({
        "total_orders": total,
        "total_revenue": money(revenue),
        "by_status": by_status,
    })))
}

/// The query of `GET /stats/revenue/hourly`.
#[derive(Debug, Deserialize)]
pub struct HourlyQuery {
    from: Option<String>,
    to: Option<String>,
}

/// `GET /stats/revenue/hourly`: the hours from the hour containing `from` up to `to`
/// (default: the last 24 hours) that had placements, oldest first.
pub async fn hourly(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<HourlyQuery>,
) -> Result<Json<Value>, ApiError> {
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
    let hours: Vec<Value> = rows
        .into_iter()
        .map(|(hour, count, revenue)| {
            json!({
                "hour": timestamp(hour),
                "order_count": count,
                "revenue": money(revenue),
                "avg_order_value": money(average(revenue, count)),
            })
        })
        .collect();
    Ok(Json(Value::Array(hours)))
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
    let to = to.map(|v| parse("to", v)).transpose()?.unwrap_or(now);
    let from = from
        .map(|v| parse("from", v))
        .transpose()?
        .unwrap_or(to - Duration::hours(24));
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
#[derive(Debug, Deserialize)]
pub struct TopQuery {
    limit: Option<u64>,
}

/// `GET /stats/products/top`: products by quantity placed, most first.
pub async fn top_products(
    State(app): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<TopQuery>,
) -> Result<Json<Value>, ApiError> {
    access::operators_only(&caller)?;
    let limit = params::bounded("limit", query.limit, DEFAULT_TOP, MAX_TOP)?;
    let rows: Vec<(String, i64, Decimal)> = sqlx::query_as(
        "SELECT product_id, quantity, revenue FROM stats_products
         ORDER BY quantity DESC, product_id LIMIT $1",
    )
    .bind(limit as i64)
    .fetch_all(app.store.pool())
    .await?;
    let products: Vec<Value> = rows
        .into_iter()
        .map(|(product_id, quantity, revenue)| {
            json!({"product_id": product_id, "quantity": quantity, "revenue": money(revenue)})
        })
        .collect();
    Ok(Json(Value::Array(products)))
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
