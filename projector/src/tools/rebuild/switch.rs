//! The switch of a rebuild: once the new generation has caught up, readers move to it in
//! one transaction (see the module docs of `rebuild`, steps 1 to 4).

use super::run::Run;
use crate::error::ProjectorError;
use crate::live::consumer::ahead_of_log;
use crate::settings::Settings;
use crate::tools::generations::{Generation, Generations};
use crate::tools::logscan::partition_ends;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Longest the live pointer stays locked while the new generation folds its last records.
const SWITCH_WAIT: Duration = Duration::from_secs(8);
/// Longest the switch waits for the rebuild's pending cache writes.
const CACHE_FLUSH_WAIT: Duration = Duration::from_secs(10);

/// What one attempt to switch came to.
pub(super) enum Attempt {
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
pub(super) async fn try_switch(
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

/// Whether `next` has folded every partition at least up to `other` minus `slack`.
fn covers(next: &HashMap<i32, i64>, other: &HashMap<i32, i64>, slack: i64) -> bool {
    other
        .iter()
        .all(|(p, o)| next.get(p).copied().unwrap_or(0) >= o - slack)
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
