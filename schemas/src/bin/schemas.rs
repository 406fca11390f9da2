//! `schemas`: the event schema workflow.
//! - `schemas check`: offline, no server, every event's newest schema under `schemas/avro`
//!   against its older versions; with `--registry`, also what the registry says.
//! - `schemas register --registry URL`: sets each subject's level and registers the newest;
//!   a registry that takes writes only with a credential (the local stack's) needs
//!   `--registry-auth user:password` or `ORDERFLOW_SCHEMA_REGISTRY_AUTH`.

use clap::{Args, Parser};
use orderflow_schemas::{
    CompatibilityLevel, DEFAULT_LEVEL, RegistryEndpoint, SchemaHistory, check_with_registry,
    error_chain, load_histories, register,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "schemas", about = "orderflow event schema tool")]
enum Cli {
    /// Check every event's newest schema against its older versions.
    Check(Common),
    /// Register every event's newest schema, with its subject's compatibility level.
    Register(Common),
}

#[derive(Args)]
struct Common {
    /// Folder holding `<Event>/vN.avsc`.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/avro"))]
    dir: PathBuf,
    /// Level for every event without its own (`<Event>/compatibility` or `--level-for`);
    /// FULL_TRANSITIVE when not given.
    #[arg(long)]
    level: Option<CompatibilityLevel>,
    /// A level for one event, e.g. `OrderShipped=BACKWARD`; repeatable.
    #[arg(long = "level-for", value_parser = parse_override)]
    overrides: Vec<(String, CompatibilityLevel)>,
    /// Schema Registry base URL (required by `register`).
    #[arg(long, env = "ORDERFLOW_SCHEMA_REGISTRY_URL", hide_env_values = true)]
    registry: Option<String>,
    /// `user:password` for the registry's basic auth; registering on the local stack needs
    /// the writer's (`scripts/lib.sh` keeps it in `.stack/secrets/`).
    #[arg(
        long = "registry-auth",
        env = "ORDERFLOW_SCHEMA_REGISTRY_AUTH",
        hide_env_values = true
    )]
    registry_auth: Option<String>,
    /// Topic of the subjects (`<topic>-<record name>`).
    #[arg(long, env = "ORDERFLOW_TOPIC", default_value = "orders.events")]
    topic: String,
}

fn parse_override(s: &str) -> Result<(String, CompatibilityLevel), String> {
    let (event, level) = s.split_once('=').ok_or("expected EVENT=LEVEL")?;
    Ok((event.to_owned(), level.parse().map_err(|e| format!("{e}"))?))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let (registering, common) = match Cli::parse() {
        Cli::Check(c) => (false, c),
        Cli::Register(c) => (true, c),
    };
    let histories = match load_histories(&common.dir) {
        Ok(h) => h,
        Err(e) => return fail(&e.to_string()),
    };
    let overrides: HashMap<String, CompatibilityLevel> = common.overrides.iter().cloned().collect();
    let level_of = |h: &SchemaHistory| {
        overrides
            .get(&h.event)
            .copied()
            .or(h.level)
            .or(common.level)
            .unwrap_or(DEFAULT_LEVEL)
    };
    let registry = match common.registry.as_deref() {
        Some(url) => match RegistryEndpoint::new(url, common.registry_auth.as_deref()) {
            Ok(r) => Some(r),
            Err(e) => return fail(&e.to_string()),
        },
        None => None,
    };
    let mut failed = false;
    for history in &histories {
        let level = level_of(history);
        let mut problems = history.check(level);
        if let Some(registry) = &registry {
            match check_with_registry(registry, &common.topic, history).await {
                Ok(online) => problems.extend(online),
                Err(e) => problems.push(format!("{}: {}", history.event, error_chain(&e))),
            }
        }
        let newest = history.versions.last().map_or(0, |(v, _)| *v);
        for problem in &problems {
            println!("FAIL  {problem}");
        }
        failed |= !problems.is_empty();
        if problems.is_empty() && registering {
            let Some(registry) = &registry else {
                return fail("register needs --registry URL");
            };
            match register(registry, &common.topic, history, level).await {
                Ok(id) => println!(
                    "registered {} v{newest} as id {id} ({level})",
                    history.event
                ),
                Err(e) => {
                    failed = true;
                    println!("FAIL  {}: {}", history.event, error_chain(&e));
                }
            }
        } else if problems.is_empty() {
            println!("ok    {} v{newest} ({level})", history.event);
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::FAILURE
}
