//! What `/readyz` reports, as last seen by the loops that use each dependency.

use std::sync::atomic::{AtomicBool, Ordering};

/// Shared by the sagas, the read-model writer and the health endpoint.
#[derive(Debug, Default)]
pub struct Health {
    sagas_live: AtomicBool,
    database_down: AtomicBool,
}

impl Health {
    /// The order log and both ledgers were read to their ends: the sagas run.
    pub fn set_sagas_live(&self) {
        self.sagas_live.store(true, Ordering::Relaxed);
    }

    pub fn sagas_live(&self) -> bool {
        self.sagas_live.load(Ordering::Relaxed)
    }

    /// Whether the read model's last write failed.
    pub fn set_database_up(&self, up: bool) {
        self.database_down.store(!up, Ordering::Relaxed);
    }

    pub fn database_up(&self) -> bool {
        !self.database_down.load(Ordering::Relaxed)
    }
}
