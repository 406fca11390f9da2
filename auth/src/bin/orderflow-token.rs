//! Prints a development token: `orderflow-token --role operator --sub ops-1 --ttl 1h`.
//!
//! Creates the development issuer's key under `--dir` first if it is missing. Only the
//! token goes to stdout, so `TOKEN=$(cargo run -q -p orderflow-auth --bin orderflow-token
//! -- --role customer --sub c-1)` works.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use orderflow_auth::Role;
use orderflow_auth::dev::{self, DevIssuer};

/// Signs a token with the local development issuer (never trusted outside the local
/// stack). The signing key is created under --dir if it is missing.
#[derive(Parser)]
#[command(name = "orderflow-token")]
struct Args {
    /// A role the token grants (repeat for several)
    #[arg(long = "role", required = true)]
    roles: Vec<Role>,
    /// The subject: the customer id for a customer, a staff id otherwise
    #[arg(long)]
    sub: String,
    /// How long the token is valid: e.g. 90s, 15m, 1h, 7d
    #[arg(long, default_value = "1h", value_parser = dev::parse_ttl)]
    ttl: Duration,
    /// Where the development issuer keeps its key and JWKS
    #[arg(long, default_value = dev::DEFAULT_DIR)]
    dir: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let existed = args.dir.join(dev::KEY_FILE).exists();
    let issuer = DevIssuer::load_or_create(&args.dir).with_context(|| {
        format!(
            "setting up the development issuer in {}",
            args.dir.display()
        )
    })?;
    if !existed {
        // On stderr: stdout carries the token alone.
        eprintln!(
            "created the development signing key in {} (kid {})",
            args.dir.display(),
            issuer.kid()
        );
    }
    println!("{}", issuer.token(&args.sub, &args.roles, args.ttl));
    Ok(())
}
