//! Least privilege (issue 15, docs/security.md): the query API's Postgres role reads the
//! reader views the projector made and granted, and can change nothing. The read model is
//! built by the projector's own code logged in as the projector's role, in a database that
//! role owns, as in production: migrated, written, and switched live (the switch makes the
//! views and the grants), so the query role meets exactly what it would in production.

use crate::helpers::issuer;
use orderflow_domain::{Decimal, Event, EventKind, EventMeta, LineItem, OrderPlaced, Timestamp};
use orderflow_projector::tools::generations::{Generation, Generations};
use orderflow_projector::tools::rebuild::drop_generation;
use orderflow_projector::{
    BatchPlan, Cache, DecodedRecord, Position, ProjectorError, Role, Store, fold_batch,
};
use orderflow_read_model::{READ_SCHEMA, order_cache_key};
use orderflow_testkit::{ServiceRole, as_role, fresh_projector_database, service_redis_url};
use redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use std::time::Duration;
use tokio::net::TcpListener;
use uuid::Uuid;

/// The group role the stack's query role is a member of (scripts/lib.sh).
const READER_ROLE: &str = "orderflow_reader";
/// Insufficient privilege.
const DENIED: &str = "42501";

#[tokio::test]
async fn the_query_role_reads_the_views_and_nothing_else() {
    let read_model = ReadModel::live().await;
    let mut query = read_model.connect_as_query().await;

    let orders = load(&mut query, "o-1").await;
    assert_eq!(orders, ["o-1"], "the order, through the reader views");
    let (prefix,): (String,) = sqlx::query_as("SELECT redis_prefix FROM orderflow_read.generation")
        .fetch_one(&mut query)
        .await
        .unwrap();
    assert_eq!(prefix, read_model.first.redis_prefix);

    let generation = &read_model.first.schema;
    expect_denied(&mut query, &writes_to(READ_SCHEMA)).await;
    expect_denied(&mut query, &writes_to(generation)).await;
    expect_denied(
        &mut query,
        &[
            format!("SELECT * FROM {generation}.orders"),
            format!("SELECT * FROM {generation}.projection_offsets"),
            "SELECT * FROM orderflow_meta.generations".into(),
            "UPDATE orderflow_meta.live SET generation = 0".into(),
            "DROP VIEW orderflow_read.orders".into(),
            "CREATE SCHEMA sneaky".into(),
            "CREATE TABLE public.sneaky (a int)".into(),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_switch_to_a_new_generation_grants_its_views_again() {
    let read_model = ReadModel::live().await;
    let second = read_model.generations.create().await.unwrap();
    read_model.fill(&second, "o-2").await;
    let switch = read_model.generations.begin_switch().await.unwrap();
    switch.commit_to(&second).await.unwrap();

    let mut query = read_model.connect_as_query().await;
    assert_eq!(load(&mut query, "o-2").await, ["o-2"]);
    assert!(
        load(&mut query, "o-1").await.is_empty(),
        "the old generation"
    );
    expect_denied(&mut query, &writes_to(READ_SCHEMA)).await;
    expect_denied(&mut query, &writes_to(&second.schema)).await;
}

#[tokio::test]
async fn a_read_model_switched_without_grants_gets_them_when_the_projector_starts() {
    let read_model = ReadModel::switched_by(Generations::connect).await;
    let mut query = read_model.connect_as_query().await;
    let select = format!("SELECT * FROM {READ_SCHEMA}.orders");
    expect_denied(&mut query, &[select]).await;

    // What a projector of this version does first on start.
    Generations::connect(&read_model.database_url, "orderflow:test:")
        .unwrap()
        .with_reader_role(READER_ROLE)
        .prepare()
        .await
        .unwrap();
    assert_eq!(load(&mut query, "o-1").await, ["o-1"]);
}

#[tokio::test]
async fn a_missing_reader_role_is_skipped_and_the_switch_goes_on() {
    let database_url = fresh_projector_database("qa_test_priv").await;
    let generations = Generations::connect(&database_url, "orderflow:test:")
        .unwrap()
        .with_reader_role("orderflow_no_such_role");
    generations.prepare().await.unwrap();
    let first = generations.create().await.unwrap();
    migrate(&database_url, &first).await;
    let live = generations.adopt_if_none_live(&first).await.unwrap();
    assert_eq!(live.id, first.id);
}

#[tokio::test]
async fn the_query_api_serves_everything_as_its_own_postgres_and_redis_users() {
    let read_model = ReadModel::live().await;
    let api = spawn_as_query(&read_model).await;

    for path in ["/orders", "/orders/o-1/history", "/stats/orders"] {
        let response = api.get(api.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let cache = |response: &reqwest::Response| response.headers()["x-cache"].clone();
    let first = api.get(api.url("/orders/o-1")).send().await.unwrap();
    assert_eq!(
        (first.status(), cache(&first)),
        (StatusCode::OK, "miss".parse().unwrap())
    );
    // The miss was filled with the guarded script, through the query user's ACL.
    let second = api.get(api.url("/orders/o-1")).send().await.unwrap();
    assert_eq!(cache(&second), "hit");
    let body: Value = second.json().await.unwrap();
    assert_eq!(body["order_id"], "o-1");
}

#[tokio::test]
async fn the_projector_writes_and_drops_a_generations_cache_as_its_own_redis_user() {
    let read_model = ReadModel::live().await;
    let redis_url = service_redis_url(ServiceRole::Projector);
    let first = &read_model.first;
    let (ttl, timeout) = (Duration::from_secs(60), Duration::from_secs(2));
    let mut cache = Cache::new(
        &redis_url,
        &first.redis_prefix,
        ttl,
        timeout,
        Default::default(),
    )
    .unwrap();
    let plan = read_model.fill(first, "o-3").await;
    cache
        .write(&plan.orders.iter().map(|o| &o.view).collect::<Vec<_>>())
        .await;
    assert!(
        cache.is_clean(),
        "the write-through as orderflow_projector failed"
    );
    let key = order_cache_key(&first.redis_prefix, "o-3");
    assert!(cached(&key).await, "{key} written");

    let second = read_model.generations.create().await.unwrap();
    read_model.fill(&second, "o-3").await;
    let switch = read_model.generations.begin_switch().await.unwrap();
    switch.commit_to(&second).await.unwrap();
    let mut settings = orderflow_projector::Settings::for_stack(
        "127.0.0.1:1",
        "http://127.0.0.1:1",
        "orders.events",
        &read_model.database_url,
        &redis_url,
    );
    settings.redis_prefix = first.redis_prefix.clone();
    drop_generation(&settings, &read_model.generations, first)
        .await
        .unwrap();
    assert!(
        !cached(&key).await,
        "{key} dropped with its generation (SCAN + UNLINK)"
    );
}

/// A query API logged into Postgres and Redis as the query API's users.
struct QueryApi {
    address: String,
    client: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl QueryApi {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    fn get(&self, url: impl reqwest::IntoUrl) -> reqwest::RequestBuilder {
        self.client.get(url)
    }
}

/// Starts the query API over `read_model` as the query role and Redis user, and waits
/// until it is ready with Redis up and its notification listener connected.
async fn spawn_as_query(read_model: &ReadModel) -> QueryApi {
    let database_url = as_role(&read_model.database_url, ServiceRole::Query);
    let redis_url = service_redis_url(ServiceRole::Query);
    let mut settings = orderflow_query_api::Settings::for_stack(&database_url, &redis_url);
    settings.auth = issuer().settings();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let api = QueryApi {
        address: format!("http://{}", listener.local_addr().unwrap()),
        client: issuer().operator_client(),
        _stop: stop,
    };
    tokio::spawn(orderflow_query_api::run(settings, listener, async {
        let _ = stopped.await;
    }));
    for _ in 0..100 {
        if let Ok(r) = api.get(api.url("/readyz")).send().await
            && let Ok(body) = r.json::<Value>().await
            && body["notifications"] == "listening"
            && body["redis"] == "up"
        {
            return api;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the query API did not become ready as the query role");
}

/// Whether `key` exists, as the Redis admin sees it.
async fn cached(key: &str) -> bool {
    let client = redis::Client::open(orderflow_testkit::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    conn.exists(key).await.unwrap()
}

/// A read model in a database of the projector's role, with generation `first` live
/// holding order `o-1`.
struct ReadModel {
    database_url: String,
    generations: Generations,
    first: Generation,
}

impl ReadModel {
    async fn live() -> ReadModel {
        Self::switched_by(|url, prefix| {
            Generations::connect(url, prefix).map(|g| g.with_reader_role(READER_ROLE))
        })
        .await
    }

    /// The read model as switched live by the `Generations` of `connect`.
    async fn switched_by(
        connect: impl Fn(&str, &str) -> Result<Generations, ProjectorError>,
    ) -> ReadModel {
        let database_url = fresh_projector_database("qa_test_priv").await;
        // Under `orderflow:`, the only keys the services' Redis users may touch.
        let prefix = format!("orderflow:test-{}:", Uuid::new_v4().simple());
        let generations = connect(&database_url, &prefix).unwrap();
        generations.prepare().await.unwrap();
        let first = generations.create().await.unwrap();
        let read_model = ReadModel {
            database_url,
            generations,
            first: first.clone(),
        };
        read_model.fill(&first, "o-1").await;
        let live = read_model
            .generations
            .adopt_if_none_live(&first)
            .await
            .unwrap();
        assert_eq!(live.id, first.id);
        read_model
    }

    /// Migrates `generation` and writes one placed order into it, as a rebuild does.
    async fn fill(&self, generation: &Generation, order_id: &str) -> BatchPlan {
        let store = migrate(&self.database_url, generation).await;
        let records = vec![DecodedRecord {
            position: Position {
                partition: 0,
                offset: 0,
            },
            event: placed(order_id),
        }];
        let mut tx = store.begin().await.unwrap();
        let plan = fold_batch(Default::default(), &records);
        tx.write(&plan, &[(0, 1)], &[None]).await.unwrap();
        tx.write_stats(&plan).await.unwrap();
        tx.commit().await.unwrap();
        plan
    }

    /// A session of the query API's role, whose unqualified names are the reader views.
    async fn connect_as_query(&self) -> PgConnection {
        let url = as_role(&self.database_url, ServiceRole::Query);
        let mut conn = PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("SET search_path TO {READ_SCHEMA}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    }
}

async fn migrate(database_url: &str, generation: &Generation) -> Store {
    let store =
        Store::connect(database_url, "orders.events", generation, Role::Rebuild, 1).unwrap();
    store.migrate().await.unwrap();
    store
}

/// The ids of the orders `load_orders` (the query API's read) finds among `order_id`.
async fn load(conn: &mut PgConnection, order_id: &str) -> Vec<String> {
    let orders = orderflow_read_model::load_orders(conn, &[order_id.to_owned()])
        .await
        .unwrap();
    orders.into_iter().map(|o| o.order_id).collect()
}

/// Every kind of change to the tables (or views) of `schema`.
fn writes_to(schema: &str) -> Vec<String> {
    vec![
        format!("INSERT INTO {schema}.orders (order_id) VALUES ('o-9')"),
        format!("UPDATE {schema}.orders SET status = 'cancelled'"),
        format!("DELETE FROM {schema}.order_items"),
        format!("INSERT INTO {schema}.stats_status (status, order_count) VALUES ('x', 1)"),
        format!("CREATE TABLE {schema}.sneaky (a int)"),
        format!("CREATE VIEW {schema}.sneaky AS SELECT 1 AS a"),
    ]
}

/// Runs each statement, each of which must fail for want of privilege.
async fn expect_denied(conn: &mut PgConnection, statements: &[String]) {
    for sql in statements {
        match sqlx::query(sql).execute(&mut *conn).await {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(DENIED) => {}
            other => panic!("{sql}: expected permission denied, got {other:?}"),
        }
    }
}

fn placed(order_id: &str) -> Event {
    let item = LineItem {
        product_id: "sku-1".into(),
        quantity: 2,
        unit_price: "25.99".parse().unwrap(),
    };
    let total_amount = item.unit_price * Decimal::from(item.quantity);
    Event {
        order_id: order_id.into(),
        version: 1,
        meta: EventMeta {
            event_id: Uuid::new_v4(),
            occurred_at: Timestamp(1_768_046_400_123),
            idempotency_key: None,
            correlation_id: None,
        },
        kind: EventKind::Placed(OrderPlaced {
            customer_id: "cust-1".into(),
            items: vec![item],
            shipping_address: "1 Main St".into(),
            currency: "USD".into(),
            total_amount,
            confirmation: orderflow_domain::Confirmation::Implied,
            payment_method: None,
        }),
    }
}
