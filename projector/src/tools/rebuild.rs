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

use crate::Cache;
use crate::error::ProjectorError;
use crate::health::Health;
use crate::live::consumer::ahead_of_log;
use crate::live::pipeline::{Ended, Positions};
use crate::live::{Target, connect_retrying};
use crate::settings::Settings;
use crate::sinks::postgres::{Role, Store};
use crate::tools::generations::{Generation, GenerationState, Generations};
use crate::tools::logscan::partition_ends;
use crate::tools::progress::{Progress, ProgressMode};
use sqlx::{Connection, PgConnection};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Key of the advisory lock a running rebuild holds.
const REBUILD_LOCK: i64 = 0x6f72_6465_7272_6562;
/// Longest the live pointer stays locked while the new generation folds its last records.
const SWITCH_WAIT: Duration = Duration::from_secs(8);
/// Longest the switch waits for the rebuild's pending cache writes.
const CACHE_FLUSH_WAIT: Duration = Duration::from_secs(10);
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
/// `stop` turns true; running it again resumes.
pub async fn rebuild(
    settings: &Settings,
    options: &RebuildOptions,
    stop: watch::Receiver<bool>,
) -> Result<RebuildReport, ProjectorError> {
    let started = Instant::now();
    let generations = Generations::connect(&settings.database_url, &settings.redis_prefix)?;
    generations.prepare().await?;
    let _lock = RebuildLock::acquire(&settings.database_url).await?;
    let target = choose(settings, &generations, options).await?;
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

    let mut run = Run::start(settings, &target, stop.clone()).await?;
    let total = ends.values().sum::<i64>().max(resumed_at) as u64;
    let mut progress = Progress::start(options.progress, total, resumed_at.max(0) as u64);
    let mut next_attempt = Instant::now();
    let mut backoff = Duration::from_secs(1);
    let previous = loop {
        tokio::time::sleep(TICK).await;
        let snapshot = run.positions();
        progress.update(snapshot.folded());
        if *stop.borrow() {
            run.stop().await;
            progress.finish("interrupted");
            let elapsed = started.elapsed();
            return Ok(report(&target, None, false, &snapshot, resumed_at, elapsed));
        }
        run.check_alive()?;
        if !ends.keys().all(|p| snapshot.at_end.contains(p)) || Instant::now() < next_attempt {
            continue;
        }
        match try_switch(settings, &generations, &target, &mut run).await {
            Ok(Attempt::Switched(previous)) => break previous,
            Ok(Attempt::NotYet) => {}
            Ok(Attempt::Aborted(why)) => {
                // The pipeline was stopped for the switch: start it again, then retry.
                tracing::warn!(%why, "the switch failed; trying again in {backoff:?}");
                run = Run::start(settings, &target, stop.clone()).await?;
            }
            Err(e) => {
                tracing::warn!(error = %e, "preparing the switch failed; trying again in {backoff:?}");
            }
        }
        // Each attempt may hold the live projector for a moment: never in a tight loop.
        next_attempt = Instant::now() + backoff;
        backoff = (backoff * 2).min(Duration::from_secs(30));
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
    let mut done = report(
        &target,
        previous.map(|p| p.id),
        true,
        &snapshot,
        resumed_at,
        elapsed,
    );
    done.dropped_previous = dropped;
    Ok(done)
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
            .ok_or_else(|| ProjectorError::Generation(format!("there is no generation {id}")))?;
        if generation.state == GenerationState::Live {
            return Err(ProjectorError::Generation(format!(
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

/// The running pipeline of a rebuild.
struct Run {
    positions: Arc<Mutex<Positions>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<(Ended, Cache)>>,
}

impl Run {
    async fn start(
        settings: &Settings,
        target: &Generation,
        interrupted: watch::Receiver<bool>,
    ) -> Result<Run, ProjectorError> {
        let (stop, stopped) = watch::channel(false);
        let health = Arc::new(Health::default());
        let target = Target {
            generation: target.clone(),
            role: Role::Rebuild,
            group: format!("{}.rebuild.g{}", settings.group, target.id),
        };
        // Connecting retries while the stack is away; Ctrl-C meanwhile ends it.
        let connecting = connect_retrying(settings, &health, &stopped, Some(&target));
        let mut interrupted = interrupted;
        let parts = tokio::select! {
            parts = connecting => parts?,
            _ = interrupted.wait_for(|s| *s) => None,
        }
        .ok_or_else(|| ProjectorError::Generation("interrupted while connecting".into()))?;
        let positions = parts.pipeline.positions.clone();
        let settings = settings.clone();
        let task = tokio::spawn(async move { parts.run(&settings, stopped).await });
        Ok(Run {
            positions,
            stop,
            task: Some(task),
        })
    }

    fn positions(&self) -> Positions {
        self.positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn check_alive(&self) -> Result<(), ProjectorError> {
        match &self.task {
            Some(task) if !task.is_finished() => Ok(()),
            _ => Err(ProjectorError::Generation(
                "the rebuild's pipeline stopped unexpectedly".into(),
            )),
        }
    }

    /// Stops the pipeline between batches and hands back its cache writer.
    async fn stop(&mut self) -> Option<Cache> {
        let _ = self.stop.send(true);
        let task = self.task.take()?;
        task.await.ok().map(|(_, cache)| cache)
    }
}

impl Drop for Run {
    /// A rebuild that ends on an error leaves no pipeline behind: a batch in flight rolls
    /// back.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What one attempt to switch came to.
enum Attempt {
    /// Readers see the new generation; the previous live one, if any.
    Switched(Option<Generation>),
    /// Not caught up yet; the pipeline goes on.
    NotYet,
    /// The pipeline was stopped but the switch did not commit.
    Aborted(String),
}

/// Switches to `target` if it has caught up with the live generation. Errors before the
/// pipeline is stopped are returned (and retried by the caller); after, the attempt is
/// `Aborted`.
async fn try_switch(
    settings: &Settings,
    generations: &Generations,
    target: &Generation,
    run: &mut Run,
) -> Result<Attempt, ProjectorError> {
    let slack = settings.batch_max_records as i64;
    // The log's end now, not at the rebuild's start: under traffic the live read model
    // has moved past that, and taking it for "ahead of the log" would switch before the
    // new generation holds what the live one shows.
    let log_end = || partition_ends(&settings.kafka, &settings.log.topic);
    if let Some(live) = generations.live().await? {
        let live_offsets = reachable(generations.offsets(&live).await?, &log_end().await?);
        if !covers(&run.positions().next, &live_offsets, slack) {
            return Ok(Attempt::NotYet);
        }
    }
    let mut switch = generations.begin_switch().await?;
    let frozen = reachable(switch.live_offsets().await?, &log_end().await?);
    let deadline = Instant::now() + SWITCH_WAIT;
    while !covers(&run.positions().next, &frozen, 0) {
        if Instant::now() > deadline {
            tracing::info!("the new generation did not catch up in time; trying again");
            switch.rollback().await?;
            return Ok(Attempt::NotYet);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let Some(mut cache) = run.stop().await else {
        return Ok(Attempt::Aborted("the rebuild's pipeline stopped".into()));
    };
    let flush_deadline = Instant::now() + CACHE_FLUSH_WAIT;
    while !cache.is_clean() {
        if Instant::now() > flush_deadline {
            return Ok(Attempt::Aborted(
                "the new generation's cache writes could not be flushed (is Redis up?)".into(),
            ));
        }
        cache.write(&[]).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Taken last: readers wait from here to the commit, which follows at once.
    if let Err(e) = switch.lock_views().await {
        return Ok(Attempt::Aborted(format!("locking the reader views: {e}")));
    }
    let previous = switch.live.clone();
    match switch.commit_to(target).await {
        Ok(()) => Ok(Attempt::Switched(previous)),
        Err(e) => Ok(Attempt::Aborted(format!("committing the switch: {e}"))),
    }
}

/// Whether `next` has folded every partition at least up to `other` minus `slack`.
/// The live offsets a rebuild must catch up with. A live offset past the end of the log
/// (the live read model was folded from a log that is gone; see `consumer::AheadOfLog`)
/// can never be reached: the end of the log, as read when the rebuild started, stands in
/// for it, so the rebuild can replace that read model.
fn reachable(mut live: HashMap<i32, i64>, ends: &BTreeMap<i32, i64>) -> HashMap<i32, i64> {
    for ahead in ahead_of_log(&live, |p| ends.get(&p).copied()) {
        live.insert(ahead.partition, ahead.log_end);
    }
    live
}

fn covers(next: &HashMap<i32, i64>, other: &HashMap<i32, i64>, slack: i64) -> bool {
    other
        .iter()
        .all(|(p, o)| next.get(p).copied().unwrap_or(0) >= o - slack)
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
            return Err(ProjectorError::Generation(
                "another rebuild is running on this database".into(),
            ));
        }
        Ok(RebuildLock(conn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_covers_another_only_when_every_partition_is_as_far() {
        let live: HashMap<i32, i64> = [(0, 10), (1, 5)].into();
        assert!(covers(&[(0, 10), (1, 7)].into(), &live, 0));
        assert!(!covers(&[(0, 9), (1, 7)].into(), &live, 0));
        assert!(
            !covers(&[(0, 10)].into(), &live, 0),
            "a partition not read yet"
        );
        assert!(covers(&[(0, 9), (1, 4)].into(), &live, 1));
        assert!(covers(&HashMap::new(), &HashMap::new(), 0));
    }

    #[test]
    fn a_live_offset_past_the_end_of_the_log_is_caught_up_at_the_end() {
        let live: HashMap<i32, i64> = [(0, 1_000_050), (1, 61), (2, 40)].into();
        let ends: BTreeMap<i32, i64> = [(0, 30), (1, 60), (2, 40)].into();
        let expected: HashMap<i32, i64> = [(0, 30), (1, 60), (2, 40)].into();
        assert_eq!(reachable(live, &ends), expected);
    }
}
