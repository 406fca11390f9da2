//! Least privilege (ADR 0014, docs/security.md): the notifier's role creates and owns the
//! outbox, and the query API's role may manage subscriptions, read what was sent and make
//! a parked delivery due again; nothing else. Each logs in as the stack's role.

use orderflow_outbox::{Channel, NewSubscription, RetryError};
use orderflow_testkit::{ServiceRole, as_role, fresh_database};
use sqlx::{Connection, PgConnection, PgPool};

/// Insufficient privilege.
const DENIED: &str = "42501";

#[tokio::test]
async fn the_query_role_manages_subscriptions_and_reads_deliveries_and_writes_nothing_else() {
    let admin_url = fresh_database("nt_test").await;
    let database = admin_url.rsplit_once('/').unwrap().1.to_owned();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    // What scripts/lib.sh grants the notifier on the read model's database.
    let grant = format!("GRANT CONNECT, CREATE ON DATABASE {database} TO orderflow_notifier");
    sqlx::query(&grant).execute(&mut admin).await.unwrap();
    let notifier = PgPool::connect(&as_role(&admin_url, ServiceRole::Notifier))
        .await
        .unwrap();
    let warning = orderflow_outbox::migrate(&notifier, "orderflow_query")
        .await
        .unwrap();
    assert_eq!(warning, None);

    let query = PgPool::connect(&as_role(&admin_url, ServiceRole::Query))
        .await
        .unwrap();
    let new = NewSubscription {
        channel: Channel::Email,
        customer_id: Some("c-1".into()),
        target: "ann@example.com".into(),
        created_by: "c-1".into(),
    };
    let (created, _) = orderflow_outbox::create(&query, &new).await.unwrap();
    let listed = orderflow_outbox::list(&query, Some("c-1"), None, 10)
        .await
        .unwrap();
    assert_eq!(listed, std::slice::from_ref(&created));
    let page = orderflow_outbox::list_notices(&query, Some("c-1"), None, None, 10)
        .await
        .unwrap();
    assert!(page.notices.is_empty());
    let retried = orderflow_outbox::retry_parked(&query, uuid::Uuid::new_v4(), created.id).await;
    assert!(matches!(retried, Err(RetryError::NotFound)), "{retried:?}");
    assert!(orderflow_outbox::delete(&query, created.id).await.unwrap());

    for statement in [
        "SELECT * FROM notifier.offsets",
        "UPDATE notifier.offsets SET next_offset = 0",
        "INSERT INTO notifier.orders (order_id, version) VALUES ('o', 1)",
        "DELETE FROM notifier.notices",
        "UPDATE notifier.deliveries SET order_id = 'o'",
        "INSERT INTO notifier.attempts (notice_id, subscription_id, attempt, outcome)
         VALUES (gen_random_uuid(), gen_random_uuid(), 1, 'delivered')",
        "DROP TABLE notifier.subscriptions",
        "CREATE TABLE notifier.sneaky (a int)",
    ] {
        let error = sqlx::query(statement).execute(&query).await.unwrap_err();
        let code = error
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned());
        assert_eq!(code.as_deref(), Some(DENIED), "{statement}: {error}");
    }
}
