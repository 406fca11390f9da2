//! Tracing set-up shared by the binaries.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `RUST_LOG` filters (default `info`, Postgres notices
/// at `warn`), and
/// `ORDERFLOW_LOG_FORMAT=json` switches to one JSON object per line for log shippers.
/// Logs go to standard error, so the tools' reports on standard output stay clean (and
/// container runtimes collect both).
pub fn init_tracing() {
    // Postgres notices ("schema ... already exists, skipping") are not worth a line each.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let json = std::env::var("ORDERFLOW_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second call (tests) finds a subscriber installed; that is fine.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
