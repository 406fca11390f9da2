//! `projector verify`: folds the whole log in memory with the domain's rule and compares
//! the result with the live generation's tables, row by row.
//!
//! The tables and their offsets are read in one snapshot first; the log is then folded up
//! to exactly those offsets, so verifying while the projector runs compares like with
//! like. Records the projector dead-letters (undecodable, keyed under another order) are
//! left out here too; events the fold rule refuses change nothing on either side.
//!
//! - `model`: the in-memory fold ([`Folder`]) and the comparison ([`compare`]);
//! - `load`: the snapshot of the stored tables.

mod load;
mod model;
#[cfg(test)]
mod model_tests;

pub use load::read_model as stored_read_model;
pub use model::{Folder, ReadModel, TableDifference, compare};

use crate::error::ProjectorError;
use crate::settings::Settings;
use crate::sinks::postgres::{Role, Store};
use crate::tools::generations::Generations;
use crate::tools::logscan::{Scan, partition_ends};
use orderflow_schemas::EventCodec;
use rdkafka::message::Message;
use std::fmt;

/// What `verify` found.
#[derive(Debug)]
pub struct VerifyReport {
    /// The generation compared.
    pub generation: i64,
    /// Records read from the log (up to the stored offsets).
    pub records: u64,
    /// Records left out as the projector dead-letters them.
    pub poison: u64,
    /// Events the fold rule ignored.
    pub ignored: usize,
    /// Orders the fold produced.
    pub orders: usize,
    /// Tables that differ; empty when the read model is right.
    pub differences: Vec<TableDifference>,
}

impl VerifyReport {
    /// Whether the stored read model equals the fold of the log.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "generation {}: {} records folded ({} ignored by the fold rule, {} poison), {} orders",
            self.generation, self.records, self.ignored, self.poison, self.orders
        )?;
        if self.is_clean() {
            return writeln!(f, "the read model matches the log");
        }
        for d in &self.differences {
            writeln!(
                f,
                "{}: {} rows differ ({} expected, {} stored)",
                d.table, d.count, d.expected_rows, d.actual_rows
            )?;
            for line in &d.first {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

/// Compares the live generation with a fold of the log.
pub async fn verify(settings: &Settings) -> Result<VerifyReport, ProjectorError> {
    let generations = Generations::connect(&settings.database_url, &settings.redis_prefix)?;
    generations.prepare().await?;
    let live = generations.require_live().await?;
    let store = Store::connect(
        &settings.database_url,
        &settings.log.topic,
        &live,
        Role::Rebuild,
        settings.connections(),
    )?;
    let mut tx = store.pool().begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let offsets = load::offsets(&mut tx, &settings.log.topic).await?;
    let actual = load::read_model(&mut tx).await?;
    tx.commit().await?;

    let bounds = partition_ends(&settings.kafka, &settings.log.topic)
        .await?
        .into_keys()
        .map(|p| (p, offsets.get(&p).copied().unwrap_or(0)))
        .collect();
    let codec = EventCodec::new(&settings.registry.settings(), &settings.log.topic)
        .map_err(ProjectorError::Registry)?;
    let mut scan = Scan::open(&settings.kafka, &settings.log.topic, &bounds)?;
    let mut folder = Folder::default();
    let (mut records, mut poison) = (0, 0);
    while let Some(message) = scan.next().await? {
        records += 1;
        match codec.decode(message.payload().unwrap_or_default()).await {
            Ok(event) if message.key() == Some(event.order_id.as_bytes()) => folder.push(&event),
            Ok(_) => poison += 1,
            Err(e) if e.is_poison() => poison += 1,
            // The registry's failures (an unknown schema id among them) stop the verify:
            // the projector does not pass over such a record either.
            Err(e) => {
                let (partition, offset) = (message.partition(), message.offset());
                return Err(ProjectorError::unreadable(partition, offset, e));
            }
        }
    }
    let ignored = folder.ignored;
    let expected = folder.finish();
    Ok(VerifyReport {
        generation: live.id,
        records,
        poison,
        ignored,
        orders: expected.orders.len(),
        differences: compare(&expected, &actual),
    })
}
