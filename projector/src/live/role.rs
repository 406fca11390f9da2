//! What a pipeline writes, and the choices that differ between the live projector and a
//! rebuild, kept in one place: [`Role`] itself lives with the store (it also decides what
//! a batch transaction checks and announces), and [`RoleChoices`] adds what it decides
//! about the wiring, so `connect` asks the role instead of matching on it.

use crate::Settings;
use crate::live::consumer::Assignment;
use crate::sinks::dlq::{DeadLetters, PoisonRoute};
use crate::sinks::postgres::Role;
use crate::tools::generations::{Generation, Generations};
use anyhow::Context;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a live projector looks at the pointer besides its batches: an instance with
/// nothing to fold must move to a new generation too.
const FOLLOW_INTERVAL: Duration = Duration::from_secs(1);

/// Which generation a pipeline writes, and how.
#[derive(Clone)]
pub(crate) struct Target {
    pub generation: Generation,
    pub role: Role,
    pub group: String,
}

impl Target {
    pub fn new(role: Role, generation: Generation, settings: &Settings) -> Target {
        Target {
            group: role.group(settings, &generation),
            generation,
            role,
        }
    }
}

/// The wiring a role chooses.
pub(crate) trait RoleChoices {
    /// The consumer group its members join.
    fn group(self, settings: &Settings, generation: &Generation) -> String;
    /// Who decides which partitions a member reads.
    fn assignment(self) -> Assignment;
    /// Where the pipeline's poison records go.
    async fn poison_route(self, settings: &Settings) -> anyhow::Result<PoisonRoute>;
    /// What watches the live pointer for a switch while the pipeline runs, if anything.
    fn follower(
        self,
        settings: &Settings,
        generation: &Generation,
    ) -> anyhow::Result<Option<Follower>>;
}

impl RoleChoices for Role {
    fn group(self, settings: &Settings, generation: &Generation) -> String {
        match self {
            Role::Live => settings.group.clone(),
            // A group of its own, which it never joins (it reads every partition): the
            // offsets it commits for monitoring are the rebuild's alone.
            Role::Rebuild => format!("{}.rebuild.g{}", settings.group, generation.id),
        }
    }

    fn assignment(self) -> Assignment {
        match self {
            Role::Live => Assignment::Group,
            Role::Rebuild => Assignment::AllPartitions,
        }
    }

    async fn poison_route(self, settings: &Settings) -> anyhow::Result<PoisonRoute> {
        match self {
            Role::Live => {
                let topic = &settings.log.topic;
                let dead_letters = DeadLetters::start(&settings.kafka, &settings.dlq_log(), topic)
                    .await
                    .context("creating the dead-letter topic")?;
                Ok(PoisonRoute::DeadLetters(dead_letters))
            }
            // The live projector has dead-lettered them already.
            Role::Rebuild => Ok(PoisonRoute::Skip),
        }
    }

    fn follower(
        self,
        settings: &Settings,
        generation: &Generation,
    ) -> anyhow::Result<Option<Follower>> {
        match self {
            Role::Live => Ok(Some(Follower {
                generations: Generations::connect(&settings.database_url, &settings.redis_prefix)?,
                generation: generation.id,
            })),
            // A rebuild switches to its generation itself, and stops before it does.
            Role::Rebuild => Ok(None),
        }
    }
}

/// Watches the live pointer for a live projector: one that has nothing to fold learns of
/// a switch here rather than from a batch.
pub(crate) struct Follower {
    generations: Generations,
    /// The generation written.
    generation: i64,
}

impl Follower {
    /// Looks at the live pointer every [`FOLLOW_INTERVAL`] until `run` is cancelled. When
    /// another generation became live, it cancels `run` (only this generation's run) and
    /// returns true.
    pub async fn follow(self, run: CancellationToken) -> bool {
        let moved = async {
            loop {
                tokio::time::sleep(FOLLOW_INTERVAL).await;
                if let Ok(Some(live)) = self.generations.live().await
                    && live.id != self.generation
                {
                    return;
                }
            }
        };
        let switched = run.run_until_cancelled(moved).await.is_some();
        if switched {
            run.cancel();
        }
        switched
    }
}
