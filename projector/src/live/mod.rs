//! The live path: one event from the log to the read model.
//!
//! - this module: connecting a projection to its generation (the store, the log, the
//!   registry, the dead-letter topic, the cache) and starting its group members;
//!   [`project`] keeps the live projection going across generation switches;
//! - `consumer`: the group member, the rebalance callback that assigns at the stored
//!   offsets, and the polling thread that cuts batches;
//! - `stages`: the decoder before the batch loops and the cache writer after them;
//! - `batch_loop`: one batch loop (fold, write, dead-letter, commit, cache);
//!   `poison`: which records of a batch it dead-letters;
//! - `pipeline`: the members (consumer, decoder, batch loop each) wired together.

pub(crate) mod batch_loop;
pub(crate) mod consumer;
pub(crate) mod pipeline;
pub(crate) mod poison;
pub(crate) mod stages;

use crate::health::{Health, lag};
use crate::live::pipeline::{Ended, Member, Pipeline, Positions};
use crate::sinks::postgres::{self as store, Role};
use crate::sinks::{dlq, redis::Cache};
use crate::tools::generations::{Generation, Generations};
use crate::{ProjectorError, Settings};
use anyhow::Context;
use consumer::{Assignment, ConsumerSpec};
use orderflow_platform::ensure_log;
use orderflow_schemas::EventCodec;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Batches handed over but not yet folded: enough to overlap polling with writing, few
/// enough that a revocation drains quickly.
const FEED_CAPACITY: usize = 2;

/// Projects into the live generation until `stop`, moving to the new live generation
/// whenever a switch happens. A log refused at the first connect is returned (the
/// projector refuses to start); refused later, it leaves the projector not ready.
pub(crate) async fn project(
    settings: Settings,
    health: Arc<Health>,
    stop: watch::Receiver<bool>,
) -> Result<(), ProjectorError> {
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
        let (ended, _) = parts.run(&settings, stop.clone()).await;
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
    let generations = Generations::connect(&settings.database_url, &settings.redis_prefix)?;
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

/// Which generation a pipeline writes, and how.
#[derive(Clone)]
pub(crate) struct Target {
    pub generation: Generation,
    pub role: Role,
    pub group: String,
}

impl Target {
    fn live(generation: Generation, group: &str) -> Target {
        Target {
            generation,
            role: Role::Live,
            group: group.to_owned(),
        }
    }
}

/// Connects to `target`, or to the live generation (looked up on each attempt) when
/// `None`, retrying with backoff until it succeeds (`Some`) or `stop` (`None`). A log
/// that is refused ([`ProjectorError::LogRefused`]) is not retried.
pub(crate) async fn connect_retrying(
    settings: &Settings,
    health: &Arc<Health>,
    stop: &watch::Receiver<bool>,
    target: Option<&Target>,
) -> Result<Option<Parts>, ProjectorError> {
    let mut backoff = Duration::from_millis(200);
    loop {
        if *stop.borrow() {
            return Ok(None);
        }
        let attempt = async {
            let target = match target {
                Some(target) => target.clone(),
                None => Target::live(live_generation(settings).await?, &settings.group),
            };
            connect(settings, health, stop, target).await
        };
        match attempt.await {
            Ok(parts) => return Ok(Some(parts)),
            Err(e) => {
                if let Some(ProjectorError::LogRefused(refused)) = e.downcast_ref() {
                    tracing::error!(error = %refused, "the log is refused");
                    return Err(ProjectorError::LogRefused(refused.clone()));
                }
                tracing::warn!(
                    error = format!("{e:#}"),
                    "projector not connected yet; retrying in {backoff:?}"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// A connected pipeline with its members (see [`pipeline`]).
pub(crate) struct Parts {
    pub pipeline: Pipeline,
    members: Vec<Member>,
    /// For the live role: the generations and the one written, watched for a switch.
    follow: Option<(Generations, i64)>,
}

/// How often a live projector looks at the pointer besides its batches: an instance with
/// nothing to fold must move to a new generation too.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(1);

impl Parts {
    /// Runs the batch loops until they end; every member has left the group by then.
    pub async fn run(self, settings: &Settings, stop: watch::Receiver<bool>) -> (Ended, Cache) {
        let lag = self.members.first().map(|member| {
            tokio::spawn(lag::report(
                member.consumer.clone(),
                settings.log.topic.clone(),
                self.pipeline.positions.clone(),
                stop.clone(),
            ))
        });
        let (inner, inner_stop) = watch::channel(*stop.borrow());
        let moved = Arc::new(AtomicBool::new(false));
        let forward = tokio::spawn({
            let (mut outer, inner) = (stop.clone(), inner.clone());
            async move {
                let _ = outer.wait_for(|s| *s).await;
                let _ = inner.send(true);
            }
        });
        let follow = self.follow.map(|(generations, id)| {
            let moved = moved.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(FOLLOW_INTERVAL).await;
                    if let Ok(Some(live)) = generations.live().await
                        && live.id != id
                    {
                        moved.store(true, Ordering::SeqCst);
                        let _ = inner.send(true);
                        return;
                    }
                }
            })
        });
        let (ended, cache) = self.pipeline.run(self.members, inner_stop).await;
        let ended = if moved.load(Ordering::SeqCst) && !*stop.borrow() {
            Ended::NotLive
        } else {
            ended
        };
        forward.abort();
        if let Some(follow) = follow {
            follow.abort();
        }
        if let Some(lag) = lag {
            lag.abort();
            let _ = lag.await;
        }
        (ended, cache)
    }
}

async fn connect(
    settings: &Settings,
    health: &Arc<Health>,
    stop: &watch::Receiver<bool>,
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
    let dead_letters = match target.role {
        Role::Live => Some(
            dlq::DeadLetters::start(&settings.kafka, &settings.dlq_log(), &topic)
                .await
                .context("creating the dead-letter topic")?,
        ),
        Role::Rebuild => None,
    };
    let cache = Cache::new(
        &settings.redis_url,
        &generation.redis_prefix,
        settings.redis_ttl(),
        settings.redis_timeout(),
        health.cache.clone(),
    )?;
    let assignment = match target.role {
        Role::Live => Assignment::Group,
        Role::Rebuild => Assignment::AllPartitions,
    };
    let members = usize::from(settings.writers);
    let mut joined = Vec::with_capacity(members);
    for member in 0..members {
        let spec = MemberSpec {
            settings,
            health,
            stop,
            target: &target,
            store: &store,
            assignment,
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
    tracing::info!(%topic, group = %target.group, generation = generation.id, schema = %generation.schema, role = ?target.role, members, "projector consuming");
    let pipeline = Pipeline {
        topic,
        store,
        codec: Arc::new(codec),
        dead_letters,
        cache: stages::CacheWriter::spawn(cache),
        health: health.clone(),
        positions: Arc::new(Mutex::new(Positions::default())),
        batch_max_records: settings.batch_max_records.max(1),
    };
    let follow = match target.role {
        Role::Live => Some((
            Generations::connect(&settings.database_url, &settings.redis_prefix)?,
            generation.id,
        )),
        Role::Rebuild => None,
    };
    Ok(Parts {
        pipeline,
        members: joined,
        follow,
    })
}

/// What [`start_member`] needs.
struct MemberSpec<'a> {
    settings: &'a Settings,
    health: &'a Arc<Health>,
    stop: &'a watch::Receiver<bool>,
    target: &'a Target,
    store: &'a store::Store,
    assignment: Assignment,
    member: usize,
}

/// Creates one member's consumer and starts its polling thread.
async fn start_member(spec: MemberSpec<'_>) -> anyhow::Result<Member> {
    let settings = spec.settings;
    let (feed_tx, feed) = mpsc::channel(FEED_CAPACITY);
    let poll_stop = Arc::new(AtomicBool::new(*spec.stop.borrow()));
    let consumer = consumer::consume(ConsumerSpec {
        kafka: &settings.kafka,
        topic: &settings.log.topic,
        group: &spec.target.group,
        store: spec.store.clone(),
        feed: feed_tx.clone(),
        stop: poll_stop.clone(),
        health: spec.health.clone(),
        assignment: spec.assignment,
        member: spec.member,
        members: usize::from(settings.writers),
    })
    .await
    .context("creating the consumer")?;
    let consumer = Arc::new(consumer);
    let poller = {
        let consumer = consumer.clone();
        let (max, wait, flag) = (
            settings.batch_max_records.max(1),
            settings.batch_max_wait(),
            poll_stop.clone(),
        );
        std::thread::Builder::new()
            .name(format!("projector-poll-{}", spec.member))
            .spawn(move || consumer::poll_loop(consumer, feed_tx, max, wait, flag))
            .context("starting the polling thread")?
    };
    Ok(Member {
        consumer,
        feed,
        poll_stop,
        poller,
    })
}
