//! `projector rebuild`: builds a new generation of the read model from offset 0 of every
//! partition, beside the live one, then switches readers to it atomically (ADR 0007).
//!
//! The rebuild runs the live projector's own pipeline (same batches, same transaction
//! per batch with the offsets, same cache write-through) into the new generation's schema
//! and Redis prefix, with its own stored offsets: killed at any point and run again, it
//! resumes from them. Once every partition has reached the end of the log and the new
//! generation is close to the live one, the switch:
//!
//! 1. locks the live pointer (the live projector's next batch waits);
//! 2. waits until the new generation has folded at least everything the live one has, so
//!    no order is ever served at a lower version after the switch;
//! 3. stops the rebuild's pipeline and flushes its cache writes;
//! 4. re-points the pointer and the reader views, and notifies, in the same transaction.
//!
//! The live projector's waiting batch then finds its generation retired, rolls back, and
//! moves to the new one at its stored offsets. The old generation is dropped after a grace
//! period, or kept (retired) for a rollback.

mod run;
mod switch;

use crate::Cache;
use crate::error::ProjectorError;
use crate::live::pipeline::Positions;
use crate::settings::Settings;
use crate::sinks::postgres::{Role, Store};
use crate::tools::generations::{Generation, GenerationState, Generations};
use crate::tools::logscan::partition_ends;
use crate::tools::progress::{Progress, ProgressMode};
use orderflow_platform::Backoff;
use run::Run;
use sqlx::{Connection, PgConnection};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use switch::{Attempt, try_switch};
/// What stops a rebuild, re-exported so callers need no `tokio-util` of their own.
pub use tokio_util::sync::CancellationToken;

/// Key of the advisory lock a running rebuild holds.
const REBUILD_LOCK: i64 = 0x6f72_6465_7272_6562;
/// How often progress and the switch condition are looked at.
const TICK: Duration = Duration::from_millis(200);

/// How a rebuild runs.
#[derive(Debug, Clone)]
pub struct RebuildOptions {
    /// Keep the previous generation (retired) instead of dropping it after the switch.
    pub keep_old: bool,
    /// Discard an interrupted rebuild instead of resuming it.
    pub fresh: bool,
    /// Catch up this existing generation and switch to it (a rollback to a retired one).
    pub generation: Option<i64>,
    /// Time between the switch and dropping the previous generation, for requests that
    /// started before the switch to finish.
    pub drop_grace: Duration,
    pub progress: ProgressMode,
}

/// How a rebuild ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RebuildReport {
    /// The generation built.
    pub generation: i64,
    /// The generation live before, if any.
    pub previous: Option<i64>,
    /// Whether readers now see the new generation (false: interrupted, run again).
    pub switched: bool,
    /// Whether the previous generation was dropped.
    pub dropped_previous: bool,
    /// Records this run folded (a resumed run counts only its own).
    pub records: u64,
    /// From the start to the switch (or the interruption).
    pub elapsed: Duration,
}

impl RebuildReport {
    /// Records per second of this run.
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-3)
    }
}

/// Rebuilds the read model (see the module docs). Returns early, not switched, when
/// `stop` is cancelled (the binary's Ctrl-C); running it again resumes.
pub async fn rebuild(
    settings: &Settings,
    options: &RebuildOptions,
    stop: CancellationToken,
) -> Result<RebuildReport, ProjectorError> {
    let started = Instant::now();
    let generations = Generations::connect(&settings.database_url, &settings.redis_prefix)?
        .with_reader_role(&settings.reader_role);
    generations.prepare().await?;
    let _lock = RebuildLock::acquire(&settings.database_url).await?;
    let building = Building::prepare(settings, &generations, options).await?;
    let (target, resumed_at) = (&building.target, building.resumed_at);

    let mut run = Run::start(settings, target, &stop).await?;
    let total = building.ends.values().sum::<i64>().max(resumed_at) as u64;
    let mut progress = Progress::start(options.progress, total, resumed_at.max(0) as u64);
    let folded = fold_until_switched(
        settings,
        &generations,
        &building,
        &mut run,
        &mut progress,
        &stop,
    );
    let previous = match folded.await? {
        Folded::Switched(previous) => previous,
        Folded::Interrupted(snapshot) => {
            run.stop().await;
            progress.finish("interrupted");
            let elapsed = started.elapsed();
            return Ok(report(target, None, false, &snapshot, resumed_at, elapsed));
        }
    };
    // The rate is the fold's: the grace period before dropping the old generation is not
    // part of it.
    let elapsed = started.elapsed();
    let snapshot = run.positions();
    progress.update(snapshot.folded());
    progress.finish("switched");
    tracing::info!(generation = target.id, previous = ?previous.as_ref().map(|p| p.id), "the new generation is live");
    let dropped = match &previous {
        Some(old) if !options.keep_old => {
            tokio::time::sleep(options.drop_grace).await;
            drop_generation(settings, &generations, old).await?;
            true
        }
        _ => false,
    };
    let previous = previous.map(|p| p.id);
    let mut done = report(target, previous, true, &snapshot, resumed_at, elapsed);
    done.dropped_previous = dropped;
    Ok(done)
}

/// The generation being built, migrated, and what it has to fold.
struct Building {
    target: Generation,
    /// The end of each partition of the log when the rebuild started.
    ends: BTreeMap<i32, i64>,
    /// Records folded by earlier runs of an interrupted rebuild.
    resumed_at: i64,
}

impl Building {
    async fn prepare(
        settings: &Settings,
        generations: &Generations,
        options: &RebuildOptions,
    ) -> Result<Building, ProjectorError> {
        let target = choose(settings, generations, options).await?;
        Store::connect(
            &settings.database_url,
            &settings.log.topic,
            &target,
            Role::Rebuild,
            settings.connections(),
        )?
        .migrate()
        .await?;
        let ends = partition_ends(&settings.kafka, &settings.log.topic).await?;
        let resumed_at: i64 = generations.offsets(&target).await?.values().sum();
        tracing::info!(generation = target.id, schema = %target.schema, redis_prefix = %target.redis_prefix, resumed_at, "rebuilding");
        Ok(Building {
            target,
            ends,
            resumed_at,
        })
    }
}

/// How the fold of a rebuild ended.
enum Folded {
    /// Readers see the new generation; the previous live one, if any.
    Switched(Option<Generation>),
    /// `stop` was cancelled; where the pipeline was when the rebuild noticed.
    Interrupted(Positions),
}

/// Watches the pipeline fold until every partition has reached the end of the log, then
/// tries to switch, with backoff, until it has switched or is interrupted.
async fn fold_until_switched(
    settings: &Settings,
    generations: &Generations,
    building: &Building,
    run: &mut Run,
    progress: &mut Progress,
    stop: &CancellationToken,
) -> Result<Folded, ProjectorError> {
    let target = &building.target;
    let mut next_attempt = Instant::now();
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        tokio::time::sleep(TICK).await;
        let snapshot = run.positions();
        progress.update(snapshot.folded());
        if stop.is_cancelled() {
            return Ok(Folded::Interrupted(snapshot));
        }
        run.check_alive()?;
        let at_end = building.ends.keys().all(|p| snapshot.at_end.contains(p));
        if !at_end || Instant::now() < next_attempt {
            continue;
        }
        match try_switch(settings, generations, target, run).await {
            Ok(Attempt::Switched(previous)) => return Ok(Folded::Switched(previous)),
            Ok(Attempt::NotYet) => {}
            Ok(Attempt::Aborted(why)) => {
                // The pipeline was stopped for the switch: start it again, then retry.
                tracing::warn!(%why, "the switch failed; trying again in {:?}", backoff.delay());
                *run = Run::start(settings, target, stop).await?;
            }
            Err(e) => {
                tracing::warn!(error = %e, "preparing the switch failed; trying again in {:?}", backoff.delay());
            }
        }
        // Each attempt may hold the live projector for a moment: never in a tight loop.
        next_attempt = Instant::now() + backoff.advance();
    }
}

fn report(
    target: &Generation,
    previous: Option<i64>,
    switched: bool,
    snapshot: &Positions,
    resumed_at: i64,
    elapsed: Duration,
) -> RebuildReport {
    RebuildReport {
        generation: target.id,
        previous,
        switched,
        dropped_previous: false,
        records: snapshot.folded().saturating_sub(resumed_at.max(0) as u64),
        elapsed,
    }
}

/// The generation to build: the one asked for, an interrupted one to resume, or a new one.
async fn choose(
    settings: &Settings,
    generations: &Generations,
    options: &RebuildOptions,
) -> Result<Generation, ProjectorError> {
    if let Some(id) = options.generation {
        let generation = generations
            .get(id)
            .await?
            .ok_or_else(|| ProjectorError::Refused(format!("there is no generation {id}")))?;
        if generation.state == GenerationState::Live {
            return Err(ProjectorError::Refused(format!(
                "generation {id} is already live"
            )));
        }
        return Ok(generation);
    }
    if let Some(building) = generations.building().await? {
        if !options.fresh {
            tracing::info!(generation = building.id, "resuming the interrupted rebuild");
            return Ok(building);
        }
        tracing::info!(
            generation = building.id,
            "discarding the interrupted rebuild"
        );
        drop_generation(settings, generations, &building).await?;
    }
    generations.create().await
}

/// Drops a generation that is not live, with its Redis keys.
pub async fn drop_generation(
    settings: &Settings,
    generations: &Generations,
    generation: &Generation,
) -> Result<(), ProjectorError> {
    generations.drop_generation(generation).await?;
    let mut cache = Cache::new(
        &settings.redis_url,
        &generation.redis_prefix,
        settings.redis_ttl(),
        Duration::from_secs(5),
        Default::default(),
    )?;
    if let Err(e) = cache.purge().await {
        // The keys expire with their TTL anyway; readers never use a dropped prefix.
        tracing::warn!(error = %e, prefix = %generation.redis_prefix, "could not delete the dropped generation's Redis keys; they expire with their TTL");
    }
    tracing::info!(generation = generation.id, "dropped generation");
    Ok(())
}

/// The advisory lock of a running rebuild, held by a session of its own: released when
/// the process ends, however it ends.
pub(crate) struct RebuildLock(#[allow(dead_code)] PgConnection);

impl RebuildLock {
    pub(crate) async fn acquire(database_url: &str) -> Result<RebuildLock, ProjectorError> {
        let mut conn = PgConnection::connect(database_url).await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(REBUILD_LOCK)
            .fetch_one(&mut conn)
            .await?;
        if !locked {
            return Err(ProjectorError::Refused(
                "another rebuild is running on this database".into(),
            ));
        }
        Ok(RebuildLock(conn))
    }
}
