//! What this instance does with each partition of the log (ADR 0015): owned and serving,
//! owned and replaying, or not owned. The group's rebalance callback changes it; workers
//! read it before they acknowledge, so an instance never acknowledges for a partition it
//! no longer owns, and HTTP reads it to route a command.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// One partition, as this instance holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Another instance's (or no one's yet).
    NotOwned,
    /// Assigned here, and being replayed from offset 0: commands wait (503).
    Replaying,
    /// Assigned and replayed: its worker takes commands.
    Serving,
}

/// Every partition's [`Held`], and whether the instance has joined its group yet.
#[derive(Debug, Default)]
pub struct Partitions {
    held: RwLock<Vec<Held>>,
    /// Each partition's assignments so far: a replay that ends for an older one than the
    /// current serves nothing.
    assignments: RwLock<Vec<u64>>,
    joined: AtomicBool,
}

impl Partitions {
    /// A log of `count` partitions, none held yet (before the first assignment).
    pub fn expect(&self, count: usize) {
        *self.write() = vec![Held::NotOwned; count];
        *self.assignments.write().unwrap_or_else(|e| e.into_inner()) = vec![0; count];
        self.joined.store(false, Ordering::SeqCst);
    }

    /// Nothing held, not a member: the log side restarts and joins again.
    pub fn reset(&self) {
        self.write().fill(Held::NotOwned);
        self.joined.store(false, Ordering::SeqCst);
    }

    /// The group assigned `partitions` here: each is replayed before it serves. Returns
    /// each one's assignment number, for [`Partitions::replayed`].
    pub fn assigned(&self, partitions: &[i32]) -> Vec<u64> {
        let mut held = self.write();
        let mut assignments = self.assignments.write().unwrap_or_else(|e| e.into_inner());
        let mut numbers = Vec::with_capacity(partitions.len());
        for &p in partitions {
            if let (Some(h), Some(n)) = (held.get_mut(p as usize), assignments.get_mut(p as usize))
            {
                *h = Held::Replaying;
                *n += 1;
                numbers.push(*n);
            } else {
                numbers.push(0);
            }
        }
        self.joined.store(true, Ordering::SeqCst);
        numbers
    }

    /// The group took `partitions` away: from now on nothing is acknowledged for them.
    pub fn revoked(&self, partitions: &[i32]) {
        let mut held = self.write();
        for &p in partitions {
            if let Some(h) = held.get_mut(p as usize) {
                *h = Held::NotOwned;
            }
        }
    }

    /// `partition` has been replayed for its assignment `assignment`; whether every
    /// partition held is serving now. A partition revoked meanwhile stays not owned, and
    /// one assigned again since waits for the replay of its newer assignment.
    pub fn replayed(&self, partition: i32, assignment: u64) -> bool {
        let mut held = self.write();
        let current = self.assignments.read().unwrap_or_else(|e| e.into_inner());
        if current.get(partition as usize) == Some(&assignment)
            && let Some(h @ Held::Replaying) = held.get_mut(partition as usize)
        {
            *h = Held::Serving;
        }
        !held.contains(&Held::Replaying)
    }

    /// The log's partitions.
    pub fn count(&self) -> usize {
        self.read().len()
    }

    pub fn held(&self, partition: i32) -> Held {
        self.read()
            .get(partition as usize)
            .copied()
            .unwrap_or(Held::NotOwned)
    }

    /// Joined the group, and every partition held is serving (an instance holding none
    /// is ready too: it forwards).
    pub fn is_replayed(&self) -> bool {
        self.joined.load(Ordering::SeqCst) && !self.read().contains(&Held::Replaying)
    }

    /// `(serving, held)` partitions, for progress reports.
    pub fn progress(&self) -> (usize, usize) {
        let held = self.read();
        let serving = held.iter().filter(|h| **h == Held::Serving).count();
        let owned = held.iter().filter(|h| **h != Held::NotOwned).count();
        (serving, owned)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Held>> {
        self.held.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Held>> {
        self.held.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assigned_partition_serves_once_replayed_and_stops_when_revoked() {
        let partitions = Partitions::default();
        partitions.expect(3);
        assert!(!partitions.is_replayed(), "not a member yet");
        assert_eq!(partitions.assigned(&[0, 2]), [1, 1]);
        assert_eq!(
            [0, 1, 2].map(|p| partitions.held(p)),
            [Held::Replaying, Held::NotOwned, Held::Replaying]
        );
        assert!(!partitions.replayed(0, 1), "partition 2 still replays");
        assert!(partitions.replayed(2, 1));
        assert!(partitions.is_replayed());
        assert_eq!(partitions.progress(), (2, 2));
        partitions.revoked(&[2]);
        assert_eq!(partitions.held(2), Held::NotOwned);
        assert_eq!(partitions.progress(), (1, 1));
    }

    #[test]
    fn a_replay_that_ends_after_its_partition_was_revoked_serves_nothing() {
        let partitions = Partitions::default();
        partitions.expect(2);
        partitions.assigned(&[0, 1]);
        partitions.revoked(&[1]);
        assert!(!partitions.replayed(1, 1), "partition 0 still replays");
        assert_eq!(partitions.held(1), Held::NotOwned);
        assert!(partitions.replayed(0, 1));
    }

    #[test]
    fn the_end_of_an_older_assignments_replay_does_not_make_a_newer_one_serve() {
        let partitions = Partitions::default();
        partitions.expect(1);
        partitions.assigned(&[0]);
        partitions.revoked(&[0]);
        assert_eq!(partitions.assigned(&[0]), [2]);
        assert!(!partitions.replayed(0, 1), "the first assignment's end");
        assert_eq!(partitions.held(0), Held::Replaying);
        assert!(partitions.replayed(0, 2));
        assert_eq!(partitions.held(0), Held::Serving);
    }

    #[test]
    fn a_member_that_holds_nothing_is_ready_to_forward() {
        let partitions = Partitions::default();
        partitions.expect(2);
        partitions.assigned(&[]);
        assert!(partitions.is_replayed());
        assert_eq!(partitions.progress(), (0, 0));
    }
}
