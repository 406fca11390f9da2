//! `schemas check`: checks offline, without any server, that the newest version of every
//! event schema under `schemas/avro` is compatible with its older versions.

use clap::Parser;
use orderflow_schemas::{CompatibilityLevel, load_histories};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "schemas", about = "orderflow event schema tool")]
enum Cli {
    /// Check every event's newest schema against its older versions.
    Check {
        /// Folder holding `<Event>/vN.avsc`.
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/avro"))]
        dir: PathBuf,
        /// Level for every event without its own.
        #[arg(long, default_value = "FULL_TRANSITIVE")]
        level: CompatibilityLevel,
        /// A level for one event, e.g. `OrderShipped=BACKWARD`; repeatable.
        #[arg(long = "level-for", value_parser = parse_override)]
        overrides: Vec<(String, CompatibilityLevel)>,
    },
}

fn parse_override(s: &str) -> Result<(String, CompatibilityLevel), String> {
    let (event, level) = s.split_once('=').ok_or("expected EVENT=LEVEL")?;
    Ok((event.to_owned(), level.parse().map_err(|e| format!("{e}"))?))
}

fn main() -> ExitCode {
    let Cli::Check {
        dir,
        level,
        overrides,
    } = Cli::parse();
    let overrides: HashMap<String, CompatibilityLevel> = overrides.into_iter().collect();
    let histories = match load_histories(&dir) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut failed = false;
    for history in &histories {
        let level = overrides.get(&history.event).copied().unwrap_or(level);
        let problems = history.check(level);
        let newest = history.versions.last().map_or(0, |(v, _)| *v);
        if problems.is_empty() {
            println!("ok    {} v{newest} ({level})", history.event);
        }
        for problem in problems {
            failed = true;
            println!("FAIL  {problem}");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
