//! The stack's Redis for tests. Tests write and inspect keys under prefixes of their own,
//! outside the services' `orderflow:`, as the admin; a test that plays production's
//! privileges logs in as a service's user instead (docs/security.md).

use crate::ServiceRole;

/// `ORDERFLOW_REDIS_URL` (as `scripts/test.sh` exports it), or else the local stack's admin.
pub fn redis_url() -> String {
    std::env::var("ORDERFLOW_REDIS_URL").unwrap_or_else(|_| stack_url("orderflow_admin"))
}

/// The Redis URL of `role`'s user, who may only touch keys under `orderflow:`, and only with
/// the commands its service sends: `TEST_PROJECTOR_REDIS_URL` / `TEST_QUERY_REDIS_URL`, or
/// else the local stack's.
pub fn service_redis_url(role: ServiceRole) -> String {
    let variable = match role {
        ServiceRole::Projector => "TEST_PROJECTOR_REDIS_URL",
        ServiceRole::Query => "TEST_QUERY_REDIS_URL",
        ServiceRole::Notifier => panic!("the notifier has no Redis user: it uses no Redis"),
    };
    std::env::var(variable).unwrap_or_else(|_| stack_url(role.name()))
}

/// The local stack's URL for `user`, with the password `scripts/lib.sh` generated in
/// `.stack/secrets/` (none if it has not run: connecting then fails on authentication).
fn stack_url(user: &str) -> String {
    let file = format!(
        "{}/../.stack/secrets/redis-{user}.password",
        env!("CARGO_MANIFEST_DIR")
    );
    let password = std::fs::read_to_string(file).unwrap_or_default();
    format!("redis://{user}:{}@127.0.0.1:6379", password.trim())
}
