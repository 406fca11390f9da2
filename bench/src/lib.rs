//! orderflow's benchmark tool: it drives a running stack, measures it side by side with
//! the limits of the machine it runs on, and writes the report.
//!
//! `bench run` is the whole benchmark (see [`run`]): it starts the services from their
//! release binaries on a fresh topic, database and Redis prefix, measures each figure of
//! issue 6 and its limit, and writes Markdown and JSON under `bench/results/`.
//! `bench seed` only appends a backlog, for timing the projector by hand.
//!
//! Layout:
//! - `http`, `load`, `stats`: the load generator. Keep-alive HTTP/1.1 connections driven
//!   closed loop (N clients) or open loop (fixed rate, no coordinated omission), latencies
//!   in hdrhistograms.
//! - `workloads`: the operations (place-order, lifecycle, visibility, `GET` by id).
//! - `limits`: the bare-tool bounds (raw produce and consume, empty axum handler,
//!   Postgres `COPY`, Redis `GET`).
//! - `seed`: backlog generation and the pipelined producer.
//! - `services`: the services under test as child processes (readiness, memory).
//! - `run`, `backlog`, `startup`, `http_steps`, `ab_steps`, `notify_steps`, `scale_steps`,
//!   `fulfil_steps`: the steps of a run; `report`:
//!   its output.

pub mod ab_steps;
pub mod backlog;
pub mod fulfil_steps;
pub mod http;
pub mod http_steps;
pub mod limits;
pub mod load;
pub mod notify_steps;
pub mod report;
pub mod run;
pub mod scale_steps;
pub mod seed;
pub mod services;
pub mod startup;
pub mod stats;
pub mod workloads;
