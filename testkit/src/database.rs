//! A Postgres database of a test's own, on the server `TEST_DATABASE_URL` names (the
//! local stack's by default). `scripts/test.sh` drops what earlier runs left, by prefix.

use sqlx::{Connection, PgConnection};

/// The maintenance database tests connect to to create theirs.
pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://orderflow:orderflow@127.0.0.1:5432/postgres".into())
}

/// The URL of a new, empty database named `<prefix>_<uuid>`.
pub async fn fresh_database(prefix: &str) -> String {
    let admin = admin_database_url();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to Postgres");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create the test's database");
    let server = admin.rsplit_once('/').expect("bad TEST_DATABASE_URL").0;
    format!("{server}/{name}")
}
