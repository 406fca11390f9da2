//! Partition ownership across command-service instances (ADR 0015, issue 19, in progress).
//!
//! Built so far, and tested: reading which instance owns which partition from the consumer
//! group's description (`directory`, over `assignment`, the consumer protocol's bytes).
//! The instances' group membership, the revocation guard and forwarding follow ADR 0015.

pub mod assignment;
pub mod directory;
