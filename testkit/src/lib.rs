//! Test support shared by the integration tests of every crate (a dev-dependency only).
//!
//! - [`registry`]: the stack's Schema Registry (Apicurio, started by `scripts/test.sh`),
//!   and registries a test starts and stops itself to play an outage or a lost registry;
//! - [`framed`]: a record as a producer of another schema version writes it;
//! - [`fresh_database`]: a Postgres database of the test's own, and the stack's service
//!   roles to log into it as ([`ServiceRole`]);
//! - [`redis_url`]: the stack's Redis;
//! - [`TestIssuer`]: bearer tokens signed by a key of the test's own, and the auth
//!   settings that trust it;
//! - [`secrets`]: a service binary run with secrets in its environment.
//! - [`prometheus`]: `/metrics` scraped and parsed into samples;
//! - [`stripe`]: stripe-mock, and a proxy in front of it that injects faults and counts
//!   the calls per idempotency key;
//! - [`WebhookReceiver`]: a webhook endpoint over HTTP that fails as told and keeps what
//!   it got;
//! - [`eventually`]: a condition polled until it holds;
//! - [`installed_tool`]: a tool `scripts/test.sh` installs (Schemathesis, Chromium).

mod database;
pub mod prometheus;
mod redis;
pub mod registry;
pub mod secrets;
pub mod stripe;
pub mod tokens;
mod webhooks;

pub use database::{
    ServiceRole, admin_database_url, as_role, fresh_database, fresh_projector_database,
};
pub use redis::{redis_url, service_redis_url};
pub use registry::Registry;
pub use tokens::TestIssuer;
pub use webhooks::{Received, WebhookReceiver};

/// The path of a tool `scripts/test.sh` installs and names in `variable`; `None` outside
/// CI (the test then says it skipped), and a failure in CI, where skipping would hide it.
pub fn installed_tool(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(path) => Some(path),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("{variable} is not set: run the suite with scripts/test.sh")
        }
        Err(_) => None,
    }
}

/// Polls `check` every 50 ms until it gives a value, or panics naming `what` after
/// `within`.
pub async fn eventually<T, F, Fut>(within: std::time::Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Confluent-framed bytes: the magic byte, schema `id` (big endian), and `value` written
/// with `schema`, as a producer with that schema writes them.
pub fn framed(id: u32, schema: &str, value: apache_avro::types::Value) -> Vec<u8> {
    let schema = apache_avro::Schema::parse_str(schema).expect("a valid schema");
    let writer = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
        .build()
        .expect("a writer");
    let mut bytes = vec![0];
    bytes.extend_from_slice(&id.to_be_bytes());
    bytes.extend(
        writer
            .write_value_to_vec(value)
            .expect("a value of the schema"),
    );
    bytes
}
