//! Wiring: `run` starts the fold loop, the delivery worker and the health endpoints.

use crate::consume::{self, FoldLoop};
use crate::deliver::Worker;
use crate::deliver::publish::Publisher;
use crate::deliver::send::Sender;
use crate::health::Health;
use crate::retry::Policy;
use crate::settings::Settings;
use crate::smtp::Mailer;
use crate::store::Store;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use orderflow_platform::{Backoff, LogSettings, Problem, ensure_topic, redact, serve};
use orderflow_schemas::{EventCodec, OutboundCodec};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct AppState {
    pool: PgPool,
    health: Arc<Health>,
}

fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({"status": "alive"})) }),
        )
        .route("/readyz", get(ready))
        .merge(orderflow_platform::metrics::routes())
        .fallback(|| async {
            Problem::new(StatusCode::NOT_FOUND, "not-found", "No such resource.")
        })
        .layer(orderflow_platform::HttpMetricsLayer::new())
        .with_state(state)
}

/// Ready once the outbox, the topics and the outbound schema are in place, while Postgres
/// answers and the registry and the broker were reachable when last used: a notifier that
/// cannot fold or publish says so.
async fn ready(State(app): State<AppState>) -> Response {
    let database = sqlx::query("SELECT 1").execute(&app.pool).await.is_ok();
    let health = &app.health;
    let (registry, kafka) = (health.registry_up(), health.kafka_up());
    let up = |b: bool| if b { "up" } else { "down" };
    let prepared = health.prepared();
    if database && registry && kafka && prepared {
        return Json(
            json!({"status": "ready", "postgres": "up", "registry": "up",
                           "kafka": "up", "partitions": health.assigned()}),
        )
        .into_response();
    }
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not-ready",
        "A dependency of the notifier is unreachable.",
    )
    .with("postgres", up(database))
    .with("registry", up(registry))
    .with("kafka", up(kafka))
    .retry_after(1)
    .into_response()
}

/// Runs the notifier until `shutdown` completes. Postgres, the broker and the registry
/// are waited for (with backoff) at start-up; settings that cannot work fail at once.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    orderflow_platform::metrics::install("notifier", &settings.metrics);
    let stop = CancellationToken::new();
    let health = Arc::new(Health::default());
    let pool = pool(&settings)?;
    let sender = Sender::new(Mailer::new(&settings.smtp())?, settings.send_timeout())?;
    let registry = settings.registry.settings();
    let codec = Arc::new(EventCodec::new(&registry, &settings.topic)?);
    let outbound = OutboundCodec::new(&registry, &settings.outbound_topic)?;
    let state = AppState {
        pool: pool.clone(),
        health: health.clone(),
    };
    let (http, stopped) = (settings.http.clone(), stop.clone().cancelled_owned());
    let server = tokio::spawn(async move { serve(listener, router(state), stopped, &http).await });
    tokio::spawn({
        let stop = stop.clone();
        async move {
            shutdown.await;
            stop.cancel();
        }
    });
    let sampler = tokio::spawn(crate::metrics::sample(pool.clone(), health.clone()));
    if prepare(&settings, &pool, &outbound, &stop).await {
        health.set_prepared();
        let publisher = Publisher::new(
            &settings.kafka,
            outbound,
            &settings.outbound_topic,
            &settings.dlq_topic,
        )?;
        let (consumer, assignments) = consume::subscribe(
            &settings.kafka,
            &settings.topic,
            &settings.group,
            health.clone(),
        )?;
        let wake = Arc::new(Notify::new());
        let fold = FoldLoop {
            consumer,
            assignments,
            topic: settings.topic.clone(),
            store: Store::new(pool.clone(), &settings.tracking_base),
            codec,
            health: health.clone(),
            wake: wake.clone(),
            max_records: settings.batch_max_records.max(1),
        };
        let worker = Arc::new(worker(&settings, pool, sender, publisher, health, wake));
        let workers = (0..settings.workers.max(1)).map(|_| worker.clone().run(stop.clone()));
        tokio::join!(fold.run(stop.clone()), futures::future::join_all(workers));
    }
    sampler.abort();
    server.await??;
    Ok(())
}

/// The outbox's pool: a connection for each worker's claim and record, the fold's
/// transaction, the gauges and `/readyz`, so readiness never queues behind the work.
/// Connected lazily: a Postgres that is down is waited for by `prepare`.
fn pool(settings: &Settings) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(&settings.database_url)
        .map_err(|e| anyhow::anyhow!("the database URL: {}", redact::text(&e.to_string())))?
        .options([("statement_timeout", "10000")]);
    Ok(PgPoolOptions::new()
        .max_connections(settings.workers.max(1) as u32 + 3)
        // A Postgres that is down is noticed in seconds (by `/readyz` too), not after
        // sqlx's 30 s default.
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options))
}

/// The delivery workers' shared setup.
fn worker(
    settings: &Settings,
    pool: PgPool,
    sender: Sender,
    publisher: Publisher,
    health: Arc<Health>,
    wake: Arc<Notify>,
) -> Worker {
    Worker {
        pool,
        sender,
        publisher: Arc::new(publisher),
        policy: Policy {
            max_attempts: settings.max_attempts.max(1),
            base: settings.retry_base(),
            cap: settings.retry_cap(),
        },
        health,
        wake,
        claim: settings.claim.max(1),
        lease: settings.lease(),
        poll: settings.poll(),
    }
}

/// The outbox's tables, the topics written to and the outbound schema, each retried until
/// it works; false when stopped first.
async fn prepare(
    settings: &Settings,
    pool: &PgPool,
    outbound: &OutboundCodec,
    stop: &CancellationToken,
) -> bool {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        let ready = async {
            if let Some(warning) = orderflow_outbox::migrate(pool, &settings.api_role).await? {
                tracing::warn!("{warning}");
            }
            for topic in [&settings.outbound_topic, &settings.dlq_topic] {
                ensure_topic(&settings.kafka, &LogSettings::new(topic)).await?;
            }
            outbound.register().await?;
            anyhow::Ok(())
        };
        match ready.await {
            Ok(()) => return true,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the notifier waits for its dependencies")
            }
        }
        if !backoff.wait_unless(stop).await {
            return false;
        }
    }
}
