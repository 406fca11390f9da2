//! Secrets in the environment never show: not in `--help`, not in the log of a notifier
//! whose Postgres (with a password in its URL) cannot be reached.

use orderflow_testkit::secrets::{self, SECRET};
use std::process::Command;
use std::time::Duration;

fn command() -> Command {
    secrets::command(
        env!("CARGO_BIN_EXE_notifier"),
        &[
            (
                "ORDERFLOW_NOTIFIER_DATABASE_URL",
                format!("postgres://orderflow_notifier:pg-{SECRET}@127.0.0.1:9/orderflow"),
            ),
            (
                "ORDERFLOW_SMTP_URL",
                format!("smtp://mailer:smtp-{SECRET}@127.0.0.1:9?tls=required"),
            ),
            (
                "ORDERFLOW_KAFKA_PROPERTIES",
                format!("sasl.password=kafka-{SECRET}"),
            ),
            (
                "ORDERFLOW_SCHEMA_REGISTRY_AUTH",
                format!("user:auth-{SECRET}"),
            ),
        ],
    )
}

#[test]
fn help_does_not_show_secret_values_from_the_environment() {
    let shown = secrets::help(command());
    assert!(
        shown.contains("--database-url") && shown.contains("--smtp-url"),
        "{shown}"
    );
    assert!(!shown.contains(SECRET), "{shown}");
}

#[test]
fn the_log_of_a_notifier_that_cannot_reach_postgres_does_not_show_the_passwords() {
    let mut command = command();
    command
        .env("ORDERFLOW_NOTIFIER_LISTEN", "127.0.0.1:0")
        .env("ORDERFLOW_KAFKA_BROKERS", "127.0.0.1:9");
    let child = secrets::spawn(command);
    std::thread::sleep(Duration::from_secs(5));
    let log = secrets::output_of(child);
    assert!(log.contains("waits for its dependencies"), "{log}");
    assert!(!log.contains(SECRET), "{log}");
}
