//! Partition ownership across command-service instances (ADR 0015, issue 19, in progress).
//!
//! - `partitions`: what this instance does with each partition (not owned, replaying,
//!   serving), changed by the group's rebalances, read before every acknowledgement;
//! - `directory`: which instance owns which partition, from the consumer group's
//!   description (over `assignment`, the consumer protocol's bytes).
//!
//! Still to come (ADR 0015): forwarding a command to the instance that owns its order.

pub mod assignment;
pub mod directory;
pub mod partitions;
