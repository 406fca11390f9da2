//! Wiring: the state handlers share, the routes, the health endpoints, and `run`.

use crate::cache::Cache;
use crate::error::ApiError;
use crate::settings::Settings;
use crate::store::Store;
use crate::wait::{self, Waiters};
use crate::{list, orders, stats};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use orderflow_platform::Problem;
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Store,
    pub(crate) cache: Cache,
    pub(crate) waiters: Arc<Waiters>,
}

impl AppState {
    /// State over a lazily connected pool and a not yet connected cache; nothing is
    /// contacted until a request or the background tasks of [`run`] need it.
    pub fn new(settings: &Settings) -> Result<AppState, sqlx::Error> {
        Ok(AppState {
            store: Store::connect(settings)?,
            cache: Cache::new(settings.redis_ttl(), settings.redis_timeout()),
            waiters: Arc::new(Waiters::default()),
        })
    }
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/orders", get(list::list))
        .route("/orders/{id}", get(orders::get_order))
        .route("/orders/{id}/history", get(orders::history))
        .route("/stats/orders", get(stats::orders))
        .route("/stats/revenue/hourly", get(stats::hourly))
        .route("/stats/products/top", get(stats::top_products))
        .route(
            "/healthz",
            get(|| async { Json(json!({"status": "alive"})) }),
        )
        .route("/readyz", get(ready))
        .fallback(|| async {
            Problem::new(StatusCode::NOT_FOUND, "not-found", "No such resource.")
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
}

/// Ready when Postgres answers; Redis and the notification listener are reported but
/// optional (without them, reads are slower and waits end at their deadline).
async fn ready(State(app): State<AppState>) -> Response {
    let (database, redis) = tokio::join!(app.store.ping(), app.cache.ping());
    let redis = if redis { "up" } else { "down" };
    let listening = app.waiters.is_listening();
    match database {
        Ok(()) => Json(json!({
            "status": "ready",
            "postgres": "up",
            "redis": redis,
            "notifications": if listening { "listening" } else { "reconnecting" },
        }))
        .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: Postgres unreachable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "The read-model database is unreachable.",
            )
            .with("postgres", "down")
            .with("redis", redis)
            .retry_after(1)
            .into_response()
        }
    }
}

/// Serves the API on `listener` until `shutdown` completes. The Redis connection and the
/// notification listener come up in the background, retrying with backoff; requests are
/// served from Postgres meanwhile.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let state = AppState::new(&settings).map_err(std::io::Error::other)?;
    let cache = tokio::spawn(state.cache.clone().connect(settings.redis_url.clone()));
    let notifications = tokio::spawn(wait::listen(
        state.store.clone(),
        state.waiters.clone(),
        state.cache.clone(),
    ));
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    cache.abort();
    notifications.abort();
    served
}
