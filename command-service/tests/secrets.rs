//! Secrets in the environment never show: not in `--help`, not in the log of a service
//! that cannot reach the registry its URL (with a password in it) names.

use orderflow_testkit::secrets::{self, SECRET};
use std::process::Command;
use std::time::Duration;

fn command() -> Command {
    secrets::command(
        env!("CARGO_BIN_EXE_command-service"),
        &[
            (
                "ORDERFLOW_KAFKA_PROPERTIES",
                format!("sasl.password=kafka-{SECRET}"),
            ),
            (
                "ORDERFLOW_SCHEMA_REGISTRY_URL",
                format!("http://registry-user:registry-{SECRET}@127.0.0.1:9/apis/ccompat/v7"),
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
    assert!(shown.contains("--registry-url"), "{shown}");
    assert!(!shown.contains(SECRET), "{shown}");
}

#[test]
fn the_log_of_a_service_that_cannot_reach_its_registry_does_not_show_the_password() {
    let brokers = std::env::var("ORDERFLOW_KAFKA_BROKERS").unwrap_or("127.0.0.1:9092".into());
    let mut command = command();
    command
        .env("ORDERFLOW_COMMAND_LISTEN", "127.0.0.1:0")
        .env("ORDERFLOW_KAFKA_BROKERS", brokers)
        .env(
            "ORDERFLOW_TOPIC",
            format!("orders.events.test-secrets-{}", std::process::id()),
        )
        .env("ORDERFLOW_AUTH", "disabled");
    let child = secrets::spawn(command);
    // Long enough to reach the registry step and retry it.
    std::thread::sleep(Duration::from_secs(8));
    let log = secrets::output_of(child);
    assert!(
        log.contains("schema registry"),
        "the registry was never tried: {log}"
    );
    assert!(log.contains("registry-user:***@127.0.0.1:9"), "{log}");
    assert!(!log.contains(SECRET), "{log}");
}
