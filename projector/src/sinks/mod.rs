//! Where the batch loops write: Postgres (the read model and the offsets, one transaction
//! per batch), Redis (the write-through order cache) and the dead-letter topic.
//!
//! - `postgres`: the store of one generation, its migrations and offsets;
//!   `postgres_batch`: the set-based statements of one batch;
//! - `redis`: the order cache;
//! - `dlq`: the dead-letter topic.

pub(crate) mod dlq;
pub(crate) mod postgres;
pub(crate) mod postgres_batch;
pub(crate) mod redis;
