//! Wiring: the state handlers share, the routes, the health endpoints, and `run`.

use crate::cache::Cache;
use crate::error::ApiError;
use crate::metrics;
use crate::settings::Settings;
use crate::store::Store;
use crate::streams::{self, Hub};
use crate::wait::{self, Waiters};
use crate::{fulfilment, list, notices, orders, pages, stats, subscriptions};
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use orderflow_auth::{Authenticator, principal_key};
use orderflow_platform::Problem;
use orderflow_platform::http::{RateLimitLayer, serve};
use orderflow_platform::redact;
use orderflow_platform::telemetry::TraceLayer;
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Largest request body (the subscriptions' JSON).
const BODY_LIMIT: usize = 64 * 1024;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Store,
    pub(crate) cache: Cache,
    pub(crate) waiters: Arc<Waiters>,
    /// The live streams; its token ends them on shutdown.
    pub(crate) hub: Arc<Hub>,
    pub(crate) authenticator: Authenticator,
    /// Each caller's request budget, inside authentication so it is per principal.
    pub(crate) rate_limit: RateLimitLayer,
}

impl AppState {
    /// State over a lazily connected pool and a not yet connected cache; nothing is
    /// contacted until a request or the background tasks of [`run`] need it.
    pub fn new(settings: &Settings, authenticator: Authenticator) -> Result<AppState, sqlx::Error> {
        Ok(AppState {
            store: Store::connect(settings)?,
            cache: Cache::new(settings.redis_ttl(), settings.redis_timeout()),
            waiters: Arc::new(Waiters::default()),
            hub: Arc::new(Hub::new(settings.streams(), CancellationToken::new())),
            authenticator,
            rate_limit: RateLimitLayer::new(&settings.http, principal_key),
        })
    }
}

/// The service's routes. Every route but the probes and `/metrics` needs a bearer token
/// (the auth layer answers 401 before a handler runs); who may read what is checked in the
/// handlers. `/metrics` is open like the probes: Prometheus scrapes without a token, and its
/// series name no order or customer.
pub fn router(state: AppState) -> Router {
    let authenticated = Router::new()
        .route("/orders", get(list::list))
        .route("/orders/{id}", get(orders::get_order))
        .route("/orders/{id}/history", get(orders::history))
        .route("/orders/{id}/events", get(streams::http::order_events))
        .route("/events", get(streams::http::all_events))
        .route("/stats/orders", get(stats::orders))
        .route("/stats/revenue/hourly", get(stats::hourly))
        .route("/stats/products/top", get(stats::top_products))
        .route(
            "/subscriptions",
            get(subscriptions::list).post(subscriptions::create),
        )
        .route(
            "/subscriptions/{id}",
            get(subscriptions::get).delete(subscriptions::delete),
        )
        .route("/notices", get(notices::list))
        .route("/stock", get(fulfilment::list_stock))
        .route("/stock/{product_id}", get(fulfilment::stock))
        .route("/fulfilment/sagas", get(fulfilment::sagas))
        .route(
            "/notices/{id}/deliveries/{subscription_id}/retry",
            post(notices::retry),
        )
        // The subscription bodies are small; anything larger is refused before it is read.
        .route_layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        // Layers run outside in: authentication first, then the principal's rate limit.
        .route_layer(state.rate_limit.clone())
        .route_layer(middleware::from_fn_with_state(
            state.authenticator.clone(),
            orderflow_auth::authenticate,
        ));
    Router::new()
        .merge(authenticated)
        .route("/healthz", get(alive))
        .route("/readyz", get(ready))
        // The pages hold no data; their scripts call the API with the reader's token.
        .merge(pages::routes())
        .merge(orderflow_platform::metrics::routes())
        // The contract and its page are open: a client needs them before it has a token.
        .merge(orderflow_platform::docs_page::routes(
            &crate::openapi(),
            "orderflow query API",
        ))
        .fallback(|| async {
            Problem::new(StatusCode::NOT_FOUND, "not-found", "No such resource.")
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(orderflow_platform::HttpMetricsLayer::new())
        .layer(TraceLayer)
        .with_state(state)
}

/// Alive while the process serves requests.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "alive",
    tag = "operations",
    responses((status = 200, description = "The process is up.", body = Object,
               example = json!({"status": "alive"}))),
)]
pub(crate) async fn alive() -> Json<serde_json::Value> {
    Json(json!({"status": "alive"}))
}

/// Ready when Postgres answers; Redis and the notification listener are reported but
/// optional (without them, reads are slower and waits end at their deadline).
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "ready",
    tag = "operations",
    responses(
        (status = 200, description = "Postgres answers; Redis, notifications and auth as stated.",
         body = Object, example = json!({"status": "ready", "postgres": "up", "redis": "up",
         "notifications": "listening", "auth": "enabled"})),
        (status = 503, description = "Postgres is unreachable.", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn ready(State(app): State<AppState>) -> Response {
    let (database, redis) = tokio::join!(app.store.ping(), app.cache.ping());
    metrics::dependency_up("postgres", database.is_ok());
    metrics::dependency_up("redis", redis);
    let redis = if redis { "up" } else { "down" };
    let listening = app.waiters.is_listening();
    let auth = app.authenticator.status();
    match database {
        Ok(()) if !app.authenticator.is_ready() => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "The identity provider's keys (JWKS) have not been loaded yet.",
        )
        .with("postgres", "up")
        .with("auth", auth)
        .retry_after(1)
        .into_response(),
        Ok(()) => Json(json!({
            "status": "ready",
            "postgres": "up",
            "redis": redis,
            "notifications": if listening { "listening" } else { "reconnecting" },
            "auth": auth,
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
            .with("auth", auth)
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
    // Before the router is built: its HTTP metrics layer looks for the recorder.
    orderflow_platform::metrics::install("query-api", &settings.metrics);
    let authenticator = Authenticator::start(&settings.auth)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // A URL that does not parse may be quoted in the error: never with its password.
    let state = AppState::new(&settings, authenticator)
        .map_err(|e| std::io::Error::other(redact::text(&e.to_string()).into_owned()))?;
    tracing::info!(
        database = %redact::url(&settings.database_url),
        redis = %redact::url(&settings.redis_url),
        "reading the read model"
    );
    let cache = tokio::spawn(state.cache.clone().connect(settings.redis_url.clone()));
    let notifications = tokio::spawn(wait::listen(
        state.store.clone(),
        state.waiters.clone(),
        state.cache.clone(),
        state.hub.clone(),
    ));
    let publisher = tokio::spawn(state.hub.clone().publish_all(state.store.clone()));
    // Streams never end by themselves: they end when the server starts to stop, or the
    // graceful shutdown would wait for them forever.
    let hub = state.hub.clone();
    let shutdown = async move {
        shutdown.await;
        hub.stop();
    };
    let sampler = tokio::spawn(metrics::sample(state.store.clone(), state.cache.clone()));
    // The limits per principal sit on the router; the server's own limits are `serve`'s.
    let served = serve(listener, router(state), shutdown, &settings.http).await;
    cache.abort();
    notifications.abort();
    publisher.abort();
    sampler.abort();
    served
}
