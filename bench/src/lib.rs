//! orderflow's benchmark tool. It drives a running stack and measures it.
//!
//! This first part seeds backlogs. `bench seed` appends complete order lifecycles to the
//! topic in the Confluent wire format, through the registry, as fast as the broker takes
//! them. The records are the same ones the command service writes. The projector's
//! catch-up and `projector rebuild` are then timed on a log of a known size.
//!
//! Layout:
//! - `seed`: the lifecycle generator and the pipelined producer.

pub mod seed;
