//! What `/readyz` reports: each dependency as last seen by the loops that use it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Shared by the fold loop, the delivery workers and the health endpoint.
#[derive(Debug)]
pub struct Health {
    database_up: AtomicBool,
    registry_up: AtomicBool,
    kafka_up: AtomicBool,
    assigned: AtomicUsize,
    /// The outbox's tables, the topics and the outbound schema are in place.
    prepared: AtomicBool,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            database_up: AtomicBool::new(true),
            registry_up: AtomicBool::new(true),
            kafka_up: AtomicBool::new(true),
            assigned: AtomicUsize::new(0),
            prepared: AtomicBool::new(false),
        }
    }
}

impl Health {
    pub fn set_database_up(&self, up: bool) {
        self.database_up.store(up, Ordering::Relaxed);
    }

    pub fn set_registry_up(&self, up: bool) {
        self.registry_up.store(up, Ordering::Relaxed);
    }

    /// Publishing to `notifications.outbound` or the dead-letter topic.
    pub fn set_kafka_up(&self, up: bool) {
        self.kafka_up.store(up, Ordering::Relaxed);
    }

    pub fn set_assigned(&self, partitions: usize) {
        self.assigned.store(partitions, Ordering::Relaxed);
    }

    pub fn set_prepared(&self) {
        self.prepared.store(true, Ordering::Relaxed);
    }

    pub fn prepared(&self) -> bool {
        self.prepared.load(Ordering::Relaxed)
    }

    pub fn database_up(&self) -> bool {
        self.database_up.load(Ordering::Relaxed)
    }

    pub fn registry_up(&self) -> bool {
        self.registry_up.load(Ordering::Relaxed)
    }

    pub fn kafka_up(&self) -> bool {
        self.kafka_up.load(Ordering::Relaxed)
    }

    pub fn assigned(&self) -> usize {
        self.assigned.load(Ordering::Relaxed)
    }
}
