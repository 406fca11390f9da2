//! A Postgres database of a test's own, on the server `TEST_DATABASE_URL` names (the
//! local stack's by default). `scripts/test.sh` drops what earlier runs left, by prefix.
//!
//! Tests log in with the stack's roles, none a superuser (docs/security.md): the admin
//! (`orderflow_admin`, CREATEDB) creates the databases, and a test that plays production's
//! privileges logs in as a service's role ([`ServiceRole`]). Each role's URL comes from
//! its variable, as `scripts/test.sh` exports them, or else from the stack's generated
//! passwords in `.stack/secrets/` (the scripts' default `STACK_DIR`).

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use std::str::FromStr;

/// A login role of the stack that a service connects as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceRole {
    /// `orderflow_projector`: owns the read-model database and everything in it.
    Projector,
    /// `orderflow_query`: a member of `orderflow_reader`, which may only read the views.
    Query,
    /// `orderflow_notifier`: owns the outbox's schema, nothing else.
    Notifier,
}

impl ServiceRole {
    /// The role's name in a stack the scripts made.
    pub fn name(self) -> &'static str {
        match self {
            ServiceRole::Projector => "orderflow_projector",
            ServiceRole::Query => "orderflow_query",
            ServiceRole::Notifier => "orderflow_notifier",
        }
    }

    /// The variable holding a URL that logs in as the role (its database does not matter).
    fn variable(self) -> &'static str {
        match self {
            ServiceRole::Projector => "TEST_PROJECTOR_DATABASE_URL",
            ServiceRole::Query => "TEST_QUERY_DATABASE_URL",
            ServiceRole::Notifier => "TEST_NOTIFIER_DATABASE_URL",
        }
    }

    /// A URL that logs in as the role.
    fn login_url(self) -> String {
        std::env::var(self.variable()).unwrap_or_else(|_| stack_url(self.name(), "postgres"))
    }
}

/// The maintenance database tests connect to to create theirs, as the stack's admin.
pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| stack_url("orderflow_admin", "postgres"))
}

/// The URL of a new, empty database named `<prefix>_<uuid>`, owned by the admin.
pub async fn fresh_database(prefix: &str) -> String {
    create_database(prefix, None).await
}

/// The URL of a new, empty database named `<prefix>_<uuid>` that the projector's role
/// owns, as it owns the stack's `orderflow`; the URL logs in as the projector.
pub async fn fresh_projector_database(prefix: &str) -> String {
    let projector = ServiceRole::Projector.login_url();
    let owner = PgConnectOptions::from_str(&projector)
        .expect("a valid TEST_PROJECTOR_DATABASE_URL")
        .get_username()
        .to_owned();
    let url = create_database(prefix, Some(&owner)).await;
    as_role(&url, ServiceRole::Projector)
}

/// `database_url`'s database, logged into as `role` instead.
pub fn as_role(database_url: &str, role: ServiceRole) -> String {
    let name = database_url.rsplit_once('/').expect("a database URL").1;
    let server = role.login_url();
    let server = server.rsplit_once('/').expect("a database URL").0;
    format!("{server}/{name}")
}

async fn create_database(prefix: &str, owner: Option<&str>) -> String {
    let admin = admin_database_url();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to Postgres as the admin (TEST_DATABASE_URL)");
    let owner = owner.map(|o| format!(" OWNER \"{}\"", o.replace('"', "\"\"")));
    let sql = format!("CREATE DATABASE {name}{}", owner.unwrap_or_default());
    sqlx::query(&sql)
        .execute(&mut conn)
        .await
        .expect("create the test's database");
    let server = admin.rsplit_once('/').expect("bad TEST_DATABASE_URL").0;
    format!("{server}/{name}")
}

/// The local stack's URL for `role`, with the password `scripts/lib.sh` generated (none if
/// it has not run: connecting then fails on authentication, which names the role).
fn stack_url(role: &str, database: &str) -> String {
    let file = format!(
        "{}/../.stack/secrets/postgres-{role}.password",
        env!("CARGO_MANIFEST_DIR")
    );
    let password = std::fs::read_to_string(file).unwrap_or_default();
    format!(
        "postgres://{role}:{}@127.0.0.1:5432/{database}",
        password.trim()
    )
}
