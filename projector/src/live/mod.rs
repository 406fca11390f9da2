//! The live path: one event from the log to the read model.
//!
//! - this module: connecting a projection to its generation (the store, the log, the
//!   registry, the dead-letter topic, the cache) and starting its group members;
//!   [`project`] keeps the live projection going across generation switches;
//! - `role`: what a pipeline writes ([`Target`]) and what its role chooses (how
//!   partitions are assigned, where poison goes, whether to follow a switch);
//! - `consumer`: the group member and the rebalance callback that assigns at the stored
//!   offsets; `poll`: its polling thread, which cuts [`record::Record`]s into batches;
//! - `stages`: the decoder before the batch loops and the cache writer after them;
//! - `batch_loop`: one batch loop (fold, write, dead-letter, commit, cache), which
//!   reaches the store, the dead-letter topic, the registry and the cache only through
//!   `ports`; `poison`: which records of a batch it dead-letters;
//! - `pipeline`: the members (consumer, decoder, batch loop each) wired together.
//!
//! Stopping is one token tree: the process's token (`crate::run`), a child per run of a
//! generation ([`Parts::run`]; a switch cancels only that run, and [`project`] connects
//! again), and a token per polling thread, cancelled by its member once the batch loop has
//! ended (the thread answers the revocation and closes the consumer, so it goes last).

pub(crate) mod batch_loop;
#[cfg(test)]
mod batch_loop_tests;
pub(crate) mod batch_span;
pub(crate) mod consumer;
pub(crate) mod pipeline;
pub(crate) mod poison;
pub(crate) mod poll;
pub(crate) mod ports;
pub(crate) mod record;
pub(crate) mod role;
pub(crate) mod stages;
#[cfg(test)]
mod test_ports;

use crate::health::{Health, lag, metrics};
use crate::live::pipeline::{Ended, Member, Pipeline, Positions};
use crate::live::role::{Follower, RoleChoices};
use crate::sinks::postgres::{self as store, Role};
use crate::sinks::redis::Cache;
use crate::tools::generations::{Generation, Generations};
use crate::{ProjectorError, Settings};
use anyhow::Context;
use consumer::ConsumerSpec;
use orderflow_platform::{Backoff, ensure_log};
use orderflow_schemas::EventCodec;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub(crate) use role::Target;

/// Batches handed over but not yet folded: enough to overlap polling with writing, few
/// enough that a revocation drains quickly.
const FEED_CAPACITY: usize = 2;

/// Projects into the live generation until `stop` is cancelled, moving to the new live
/// generation whenever a switch happens. A log refused at the first connect is returned
/// (the projector refuses to start); refused later, it leaves the projector not ready.
pub(crate) async fn project(
    settings: Settings,
    health: Arc<Health>,
    stop: CancellationToken,
) -> Result<(), ProjectorError> {
    // The gauges of `/readyz`'s state, for as long as the projection runs.
    let exporting = stop.child_token();
    tokio::spawn(metrics::export(health.clone(), exporting.clone()));
    let _exporting = exporting.drop_guard();
    let mut first = true;
    loop {
        let parts = match connect_retrying(&settings, &health, &stop, None).await {
            Ok(Some(parts)) => parts,
            Ok(None) => return Ok(()),
            Err(refused) if first => return Err(refused),
            Err(refused) => {
                health.fail(refused.to_string());
                return Ok(());
            }
        };
        first = false;
        let (ended, _) = parts.run(&settings, &stop).await;
        if ended == Ended::Stopped {
            tracing::info!("projector stopped");
            return Ok(());
        }
        tracing::info!("moving to the new live generation");
    }
}

/// The live generation; on a database without one, a new generation made live (empty,
/// so this projector fills it from offset 0).
async fn live_generation(settings: &Settings) -> anyhow::Result<Generation> {
    let generations = Generations::connect(&settings.database_url, &settings.redis_prefix)?
        .with_reader_role(&settings.reader_role);
    generations
        .prepare()
        .await
        .context("preparing the generations table")?;
    if let Some(live) = generations.live().await? {
        return Ok(live);
    }
    let created = generations.create().await?;
    store::Store::connect(
        &settings.database_url,
        &settings.log.topic,
        &created,
        Role::Live,
        settings.connections(),
    )?
    .migrate()
    .await
    .context("migrating the first generation")?;
    let live = generations.adopt_if_none_live(&created).await?;
    if live.id != created.id {
        // Another instance bootstrapped at the same time and won.
        generations.drop_generation(&created).await?;
    } else {
        tracing::info!(generation = live.id, schema = %live.schema, "created the first generation of the read model");
    }
    Ok(live)
}

/// Connects to `target`, or to the live generation (looked up on each attempt) when
/// `None`, retrying with backoff until it succeeds (`Some`) or `stop` is cancelled
/// (`None`, at once: a wait between attempts ends early). A log that is refused
/// ([`ProjectorError::LogRefused`]) is not retried.
pub(crate) async fn connect_retrying(
    settings: &Settings,
    health: &Arc<Health>,
    stop: &CancellationToken,
    target: Option<&Target>,
) -> Result<Option<Parts>, ProjectorError> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        if stop.is_cancelled() {
            return Ok(None);
        }
        let attempt = async {
            let target = match target {
                Some(target) => target.clone(),
                None => Target::new(Role::Live, live_generation(settings).await?, settings),
            };
            connect(settings, health, target).await
        };
        match attempt.await {
            Ok(parts) => {
                health.allowed();
                return Ok(Some(parts));
            }
            Err(e) => {
                health.connect_failed(&settings.log.topic, &settings.dlq_topic(), &e);
                if let Some(ProjectorError::LogRefused(refused)) = e.downcast_ref() {
                    tracing::error!(error = %refused, "the log is refused");
                    return Err(ProjectorError::LogRefused(refused.clone()));
                }
                tracing::warn!(
                    error = format!("{e:#}"),
                    "projector not connected yet; retrying in {:?}",
                    backoff.delay()
                );
                // Stopping need not wait out the delay: the next turn returns `None`.
                tokio::select! {
                    () = backoff.wait() => {}
                    () = stop.cancelled() => {}
                }
            }
        }
    }
}

/// A connected pipeline with its members (see [`pipeline`]).
pub(crate) struct Parts {
    pub pipeline: Pipeline,
    members: Vec<Member>,
    /// Watches for a switch while the run goes on (for the live role).
    follow: Option<Follower>,
}

impl Parts {
    /// Runs the batch loops until they end; every member has left the group by then. The
    /// run has a token of its own under `stop`: a switch the follower sees cancels only
    /// this run ([`Ended::NotLive`]), so the caller can reconnect, while cancelling `stop`
    /// ends it as [`Ended::Stopped`].
    pub async fn run(self, settings: &Settings, stop: &CancellationToken) -> (Ended, Cache) {
        let run = stop.child_token();
        let lag = self.members.first().map(|member| {
            tokio::spawn(lag::report(
                member.consumer.clone(),
                settings.log.topic.clone(),
                self.pipeline.positions.clone(),
                run.clone(),
            ))
        });
        let follow = (self.follow).map(|follower| tokio::spawn(follower.follow(run.clone())));
        let (ended, cache) = self.pipeline.run(self.members, run.clone()).await;
        // Ends the reporters of this run (the pipeline has ended it already).
        run.cancel();
        let switched = match follow {
            Some(follow) => follow.await.unwrap_or(false),
            None => false,
        };
        if let Some(lag) = lag {
            let _ = lag.await;
        }
        let ended = if switched && !stop.is_cancelled() {
            Ended::NotLive
        } else {
            ended
        };
        (ended, cache)
    }
}

async fn connect(
    settings: &Settings,
    health: &Arc<Health>,
    target: Target,
) -> anyhow::Result<Parts> {
    let topic = settings.log.topic.clone();
    let generation = &target.generation;
    let store = store::Store::connect(
        &settings.database_url,
        &topic,
        generation,
        target.role,
        settings.connections(),
    )?;
    store.migrate().await.context("migrating the read model")?;
    health.set_database_up(true);
    let log = ensure_log(&settings.kafka, &settings.log)
        .await
        .map_err(ProjectorError::from)?;
    store.claim_log(&log).await?;
    let codec =
        EventCodec::new(&settings.registry.settings(), &topic).context("registry client")?;
    let dead_letters = target.role.poison_route(settings).await?;
    let cache = Cache::new(
        &settings.redis_url,
        &generation.redis_prefix,
        settings.redis_ttl(),
        settings.redis_timeout(),
        health.cache.clone(),
    )?;
    let joined = start_members(settings, health, &target, &store).await?;
    let members = joined.len();
    if target.role == Role::Live {
        metrics::live_generation(generation.id);
    }
    tracing::info!(%topic, group = %target.group, generation = generation.id, schema = %generation.schema, role = ?target.role, members, "projector consuming");
    let pipeline = Pipeline {
        store,
        codec: Arc::new(codec),
        dead_letters,
        cache: stages::CacheWriter::spawn(cache),
        health: health.clone(),
        positions: Arc::new(Mutex::new(Positions::default())),
        batch_max_records: settings.batch_max_records.max(1),
    };
    Ok(Parts {
        pipeline,
        members: joined,
        follow: target.role.follower(settings, generation)?,
    })
}

/// Starts the process's members, all or none.
async fn start_members(
    settings: &Settings,
    health: &Arc<Health>,
    target: &Target,
    store: &store::Store,
) -> anyhow::Result<Vec<Member>> {
    let members = usize::from(settings.writers);
    let mut joined = Vec::with_capacity(members);
    for member in 0..members {
        let spec = MemberSpec {
            settings,
            health,
            target,
            store,
            member,
        };
        match start_member(spec).await {
            Ok(started) => joined.push(started),
            Err(e) => {
                // The members already polling would stay in the group without a loop.
                for started in joined {
                    started.abandon().await;
                }
                return Err(e);
            }
        }
    }
    Ok(joined)
}

/// What [`start_member`] needs.
struct MemberSpec<'a> {
    settings: &'a Settings,
    health: &'a Arc<Health>,
    target: &'a Target,
    store: &'a store::Store,
    member: usize,
}

/// Creates one member's consumer and starts its polling thread.
async fn start_member(spec: MemberSpec<'_>) -> anyhow::Result<Member> {
    let settings = spec.settings;
    let (feed_tx, feed) = mpsc::channel(FEED_CAPACITY);
    // Not under the run's token: the polling thread must outlive its batch loop (it
    // answers the revocation and holds the consumer's last handle), so the member
    // cancels it once the loop has ended (`Member::leave`).
    let poll_stop = CancellationToken::new();
    let consumer = consumer::consume(ConsumerSpec {
        kafka: &settings.kafka,
        topic: &settings.log.topic,
        group: &spec.target.group,
        store: spec.store.clone(),
        feed: feed_tx.clone(),
        stop: poll_stop.clone(),
        health: spec.health.clone(),
        assignment: spec.target.role.assignment(),
        member: spec.member,
        members: usize::from(settings.writers),
    })
    .await
    .context("creating the consumer")?;
    let consumer = Arc::new(consumer);
    let poller = {
        let consumer = consumer.clone();
        let (max, wait, stop) = (
            settings.batch_max_records.max(1),
            settings.batch_max_wait(),
            poll_stop.clone(),
        );
        std::thread::Builder::new()
            .name(format!("projector-poll-{}", spec.member))
            .spawn(move || poll::poll_loop(consumer, feed_tx, max, wait, stop))
            .context("starting the polling thread")?
    };
    Ok(Member {
        consumer,
        feed,
        poll_stop,
        poller,
    })
}
