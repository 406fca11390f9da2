//! The operator's tools, beside the live path: read-model generations, building a new one
//! (`rebuild`) and switching to it, comparing the live one with the log (`verify`), and
//! repairing one order (`repair`); `logscan` and `progress` are the log reads and the
//! progress reports they share, `cli` their command line.

pub mod cli;
pub mod generations;
pub(crate) mod logscan;
pub mod progress;
pub mod rebuild;
pub mod repair;
pub mod verify;
