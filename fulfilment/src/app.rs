//! Wiring: `run` prepares the read model, the topics and the schemas, starts the two
//! ledgers, the read-model writer and the sagas, and serves the HTTP API.

use crate::health::Health;
use crate::http::{AppState, router};
use crate::ledger::{self, LedgerConfig};
use crate::orders::OrderCommands;
use crate::processor::Stripe;
use crate::projection::{self, Update, stock_level};
use crate::saga::steps::Steps;
use crate::saga::{Runner, RunnerConfig};
use crate::settings::Settings;
use anyhow::Context;
use orderflow_auth::Authenticator;
use orderflow_domain::inventory::Stock;
use orderflow_domain::payment::Payment;
use orderflow_platform::{Backoff, LogSettings, ensure_topic, redact, serve};
use orderflow_schemas::EventCodec;
use orderflow_schemas::ledger::{LedgerCodec, PaymentEvent, StockEvent};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Runs the fulfilment service until `shutdown` completes. Postgres, the broker and the
/// registry are waited for (with backoff) at start-up; settings that cannot work fail at
/// once.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    orderflow_platform::metrics::install("fulfilment", &settings.metrics);
    let authenticator = Authenticator::start(&settings.auth).context("the token verifier")?;
    let stop = CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            shutdown.await;
            stop.cancel();
        }
    });
    let pool = pool(&settings)?;
    let health = Arc::new(Health::default());
    let registry = settings.registry.settings();
    let stock_codec = Arc::new(LedgerCodec::<StockEvent>::new(
        &registry,
        &settings.inventory_topic,
    )?);
    let payment_codec = Arc::new(LedgerCodec::<PaymentEvent>::new(
        &registry,
        &settings.payments_topic,
    )?);
    let order_codec = Arc::new(EventCodec::new(&registry, &settings.orders_topic)?);
    if !prepare(&settings, &pool, &stock_codec, &payment_codec, &stop).await {
        return Ok(());
    }
    let (updates, updates_in) = mpsc::unbounded_channel();
    let stock_updates = updates.clone();
    let inventory = ledger::spawn(
        LedgerConfig::<Stock> {
            name: "inventory",
            kafka: &settings.kafka,
            topic: &settings.inventory_topic,
            codec: stock_codec,
            timeout: settings.ledger_timeout(),
            health: health.clone(),
            on_accepted: Some(Box::new(move |stock: &Stock| {
                let _ = stock_updates.send(Update::Stock(stock_level(stock)));
            })),
        },
        stop.clone(),
    )?;
    let payments = ledger::spawn(
        LedgerConfig::<Payment> {
            name: "payments",
            kafka: &settings.kafka,
            topic: &settings.payments_topic,
            codec: payment_codec,
            timeout: settings.ledger_timeout(),
            health: health.clone(),
            on_accepted: None,
        },
        stop.clone(),
    )?;
    tokio::spawn(crate::health::watch_broker(
        settings.kafka.clone(),
        settings.orders_topic.clone(),
        health.clone(),
        stop.clone(),
    ));
    let writer = tokio::spawn(projection::run(
        pool.clone(),
        updates_in,
        health.clone(),
        stop.clone(),
    ));
    let steps = Arc::new(Steps {
        inventory: inventory.clone(),
        payments: payments.clone(),
        stripe: Stripe::new(settings.stripe()).context("the Stripe client")?,
        orders: OrderCommands::new(
            &settings.command_url,
            settings.token_file.clone(),
            settings.call_timeout(),
        )
        .context("the command service's client")?,
    });
    let runner = RunnerConfig {
        topic: settings.orders_topic.clone(),
        codec: order_codec,
        steps,
        authorize_deadline: settings.authorize_deadline(),
        stuck_after: settings.stuck_after(),
        health: health.clone(),
        updates,
    };
    let sagas = tokio::spawn(Runner::run(
        runner,
        crate::log::reader(&settings.kafka)?,
        stop.clone(),
    ));
    let state = AppState {
        inventory,
        payments,
        health,
        pool,
        authenticator,
    };
    tracing::info!(
        stripe = %redact::url(&settings.stripe_url),
        command_service = %redact::url(&settings.command_url),
        "fulfilment serving"
    );
    serve(
        listener,
        router(state),
        stop.clone().cancelled_owned(),
        &settings.http,
    )
    .await?;
    stop.cancel();
    let _ = tokio::join!(sagas, writer);
    Ok(())
}

/// The read model's pool, connected lazily: a Postgres that is down is waited for.
fn pool(settings: &Settings) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(&settings.database_url)
        .map_err(|e| anyhow::anyhow!("the database URL: {}", redact::text(&e.to_string())))?
        .options([("statement_timeout", "10000")]);
    Ok(PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options))
}

/// The read model's tables, the two logs and their schemas, each retried until it works;
/// false when stopped first.
async fn prepare(
    settings: &Settings,
    pool: &PgPool,
    stock: &LedgerCodec<StockEvent>,
    payment: &LedgerCodec<PaymentEvent>,
    stop: &CancellationToken,
) -> bool {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        let ready = async {
            if let Some(warning) =
                orderflow_fulfilment_model::migrate(pool, &settings.api_role).await?
            {
                tracing::warn!("{warning}");
            }
            for topic in [&settings.inventory_topic, &settings.payments_topic] {
                ensure_topic(&settings.kafka, &LogSettings::new(topic)).await?;
            }
            stock.register().await?;
            payment.register().await?;
            anyhow::Ok(())
        };
        match ready.await {
            Ok(()) => return true,
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "the fulfilment service waits for its dependencies")
            }
        }
        if !backoff.wait_unless(stop).await {
            return false;
        }
    }
}
