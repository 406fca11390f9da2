//! The running pipeline of a rebuild: the live projector's own pipeline, in the rebuild's
//! role, started and stopped by the rebuild's loop.

use crate::Cache;
use crate::error::ProjectorError;
use crate::health::Health;
use crate::live::pipeline::{Ended, Positions};
use crate::live::{Target, connect_retrying};
use crate::settings::Settings;
use crate::sinks::postgres::Role;
use crate::tools::generations::Generation;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The running pipeline of a rebuild.
pub(super) struct Run {
    positions: Arc<Mutex<Positions>>,
    /// The root of the pipeline's own tree, not a child of the interruption: the rebuild's
    /// loop stops the pipeline itself, so a switch under way is finished or rolled back
    /// before it stops, never cut short while the live pointer is locked.
    stop: CancellationToken,
    task: Option<JoinHandle<(Ended, Cache)>>,
}

impl Run {
    pub(super) async fn start(
        settings: &Settings,
        target: &Generation,
        interrupted: &CancellationToken,
    ) -> Result<Run, ProjectorError> {
        let stop = CancellationToken::new();
        let health = Arc::new(Health::rebuild());
        let target = Target::new(Role::Rebuild, target.clone(), settings);
        // Connecting retries while the stack is away; Ctrl-C meanwhile ends it.
        let connecting = connect_retrying(settings, &health, &stop, Some(&target));
        let parts = tokio::select! {
            parts = connecting => parts?,
            _ = interrupted.cancelled() => None,
        }
        .ok_or(ProjectorError::Interrupted {
            during: "connecting",
        })?;
        let positions = parts.pipeline.positions.clone();
        let settings = settings.clone();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move { parts.run(&settings, &stop).await }
        });
        Ok(Run {
            positions,
            stop,
            task: Some(task),
        })
    }

    pub(super) fn positions(&self) -> Positions {
        self.positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn check_alive(&self) -> Result<(), ProjectorError> {
        match &self.task {
            Some(task) if !task.is_finished() => Ok(()),
            _ => Err(ProjectorError::PipelineStopped {
                pipeline: "the rebuild's pipeline",
            }),
        }
    }

    /// Stops the pipeline between batches and hands back its cache writer.
    pub(super) async fn stop(&mut self) -> Option<Cache> {
        self.stop.cancel();
        let task = self.task.take()?;
        task.await.ok().map(|(_, cache)| cache)
    }
}

impl Drop for Run {
    /// A rebuild that ends on an error leaves no pipeline behind: a batch in flight rolls
    /// back.
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
