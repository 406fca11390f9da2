//! The fulfilment read model's writer: stock levels and saga stages, coalesced per key and
//! written in one statement per table every few hundred milliseconds. Rows are absolute
//! states, so a batch that fails is kept and written again, and replaying the logs after a
//! restart writes the same rows.

use crate::health::Health;
use chrono::Utc;
use orderflow_domain::inventory::Stock;
use orderflow_fulfilment_model::{SagaRow, StockLevel, upsert_sagas, upsert_stock};
use orderflow_platform::Backoff;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A change for the read model.
#[derive(Debug)]
pub enum Update {
    Stock(StockLevel),
    Saga(SagaRow),
}

/// The read model's row of a stock.
pub fn stock_level(stock: &Stock) -> StockLevel {
    let (on_hand, reserved) = (stock.on_hand as i64, stock.reserved() as i64);
    StockLevel {
        product_id: stock.product_id.clone(),
        on_hand,
        reserved,
        available: on_hand - reserved,
        version: stock.version as i64,
        updated_at: Utc::now(),
    }
}

/// Writes the updates until `stop`, then once more what is left.
pub async fn run(
    pool: PgPool,
    mut updates: mpsc::UnboundedReceiver<Update>,
    health: Arc<Health>,
    stop: CancellationToken,
) {
    let mut stock: HashMap<String, StockLevel> = HashMap::new();
    let mut sagas: HashMap<String, SagaRow> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    let mut resume_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(update) = updates.recv() => match update {
                Update::Stock(level) => { stock.insert(level.product_id.clone(), level); }
                Update::Saga(row) => { sagas.insert(row.order_id.clone(), row); }
            },
            _ = tick.tick() => {
                if tokio::time::Instant::now() < resume_at {
                    continue;
                }
                match write(&pool, &mut stock, &mut sagas).await {
                    Ok(()) => { health.set_database_up(true); backoff.reset(); }
                    Err(e) => {
                        health.set_database_up(false);
                        resume_at = tokio::time::Instant::now() + backoff.advance();
                        tracing::warn!(error = %e, "the fulfilment read model waits for Postgres");
                    }
                }
            }
        }
    }
    let _ = write(&pool, &mut stock, &mut sagas).await;
}

/// Writes and clears what is pending; keeps it on failure.
async fn write(
    pool: &PgPool,
    stock: &mut HashMap<String, StockLevel>,
    sagas: &mut HashMap<String, SagaRow>,
) -> Result<(), sqlx::Error> {
    if !stock.is_empty() {
        let levels: Vec<StockLevel> = stock.values().cloned().collect();
        upsert_stock(pool, &levels).await?;
        stock.clear();
    }
    if !sagas.is_empty() {
        let rows: Vec<SagaRow> = sagas.values().cloned().collect();
        upsert_sagas(pool, &rows).await?;
        sagas.clear();
    }
    Ok(())
}
