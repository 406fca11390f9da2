//! Secrets in the environment never show: not in `--help`, not in the log of an API whose
//! Postgres and Redis (with passwords in their URLs) cannot be reached, nor the token of a
//! request it refuses.

use orderflow_testkit::secrets::{self, SECRET};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

fn command() -> Command {
    secrets::command(
        env!("CARGO_BIN_EXE_query-api"),
        &[
            (
                "ORDERFLOW_DATABASE_URL",
                format!("postgres://orderflow:pg-{SECRET}@127.0.0.1:9/orderflow"),
            ),
            (
                "ORDERFLOW_REDIS_URL",
                format!("redis://:redis-{SECRET}@127.0.0.1:9"),
            ),
        ],
    )
}

#[test]
fn help_does_not_show_secret_values_from_the_environment() {
    let shown = secrets::help(command());
    assert!(shown.contains("--database-url"), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
}

#[tokio::test]
async fn the_log_of_an_api_that_cannot_reach_its_stores_does_not_show_the_passwords() {
    let address = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let issuer = orderflow_testkit::TestIssuer::shared();
    let mut command = command();
    command
        .env("ORDERFLOW_QUERY_LISTEN", address.to_string())
        .env("ORDERFLOW_AUTH_JWKS", &issuer.settings().jwks);
    let child = secrets::spawn(command);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A probe and a read make it use Postgres, and fail; a bad token is refused.
    let client = reqwest::Client::new();
    let _ = client.get(format!("http://{address}/readyz")).send().await;
    let read = client.get(format!("http://{address}/orders/o-1"));
    let _ = read.bearer_auth(issuer.operator()).send().await;
    let forged = client.get(format!("http://{address}/orders/o-1"));
    let _ = forged
        .bearer_auth(format!("{SECRET}.{SECRET}.{SECRET}"))
        .send()
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = secrets::output_of(child);
    assert!(
        log.contains("WARN") || log.contains("ERROR"),
        "nothing failed: {log}"
    );
    assert!(log.contains("orderflow:***@127.0.0.1:9"), "{log}");
    assert!(!log.contains(SECRET), "{log}");
}
