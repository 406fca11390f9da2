//! `spawn_app()` and fixtures: a query API on port 0 over a fresh database and a unique
//! Redis prefix. The reader schema the API reads holds tables made by the read model's
//! migrations (where the projector would put views over its live generation), filled with
//! SQL, not with the projector's code, and a `generation` row naming the Redis prefix.

use chrono::{DateTime, Utc};
use orderflow_query_api::{Settings, run};
use orderflow_read_model::{GENERATION_VIEW, MIGRATOR, ORDERS_CHANNEL, READ_SCHEMA};
use orderflow_testkit::TestIssuer;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The stack's Redis, as its admin (`ORDERFLOW_REDIS_URL`, see `orderflow_testkit::redis_url`).
pub fn redis_url() -> String {
    orderflow_testkit::redis_url()
}

/// The issuer of the tokens of this test process: every service a test starts trusts it.
pub fn issuer() -> &'static TestIssuer {
    TestIssuer::shared()
}

/// A running query API and the stores behind it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The test's own database; its reader schema is `db`'s search path.
    pub database_url: String,
    pub db: PgPool,
    pub prefix: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// A query API over a fresh, migrated database and a fresh Redis prefix, ready.
pub async fn spawn_app() -> TestApp {
    spawn_with_redis(&redis_url()).await
}

/// Like [`spawn_app`], with Redis at `redis_url` (a closed port for "Redis down").
pub async fn spawn_with_redis(redis_url: &str) -> TestApp {
    let redis_url = redis_url.to_owned();
    spawn_tuned(move |settings| settings.redis_url = redis_url).await
}

/// Like [`spawn_app`], with `tune` adjusting the settings first.
pub async fn spawn_tuned(tune: impl FnOnce(&mut Settings)) -> TestApp {
    orderflow_platform::init_tracing();
    let database_url = orderflow_testkit::fresh_database("qa_test").await;
    let prefix = format!("qa-test-{}:", Uuid::new_v4().simple());
    let db = reader_schema(&database_url, &prefix).await;
    let mut settings = Settings::for_stack(&database_url, &redis_url());
    settings.auth = issuer().settings();
    tune(&mut settings);
    let redis_up = settings.redis_url == redis_url();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(settings, listener, async {
        let _ = stopped.await;
    }));
    let app = TestApp {
        address,
        client: issuer().operator_client(),
        database_url,
        db,
        prefix,
        stop: Some(stop),
        task: Some(task),
    };
    app.wait_ready(redis_up).await;
    app
}

/// Creates the reader schema with the read-model tables and the `generation` row, and
/// returns a pool whose unqualified names resolve there.
async fn reader_schema(database_url: &str, redis_prefix: &str) -> PgPool {
    let options = PgConnectOptions::from_str(database_url)
        .unwrap()
        .options([("search_path", READ_SCHEMA)]);
    let db = PgPoolOptions::new().connect_with(options).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {READ_SCHEMA}"))
        .execute(&db)
        .await
        .unwrap();
    MIGRATOR.run(&db).await.unwrap();
    // The prefix is a test-made UUID string: safe to inline.
    let sql = format!(
        "CREATE TABLE {GENERATION_VIEW} AS SELECT 1::bigint AS id, '{redis_prefix}'::text AS redis_prefix"
    );
    sqlx::query(&sql).execute(&db).await.unwrap();
    db
}

impl TestApp {
    /// Waits until `/readyz` is 200 with the notification listener connected (and Redis
    /// up, when `redis` is set), so tests do not race the background connections.
    async fn wait_ready(&self, redis: bool) {
        for _ in 0..100 {
            if let Ok(r) = self.client.get(self.url("/readyz")).send().await
                && r.status() == StatusCode::OK
                && let Ok(body) = r.json::<Value>().await
                && body["notifications"] == "listening"
                && (!redis || body["redis"] == "up")
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("query API at {} did not become ready", self.address);
    }

    /// The issuer whose tokens this service trusts.
    pub fn issuer(&self) -> &'static TestIssuer {
        issuer()
    }

    /// Every kind of caller of the auth matrix, with its token, for orders of `owner`.
    pub fn callers(&self, owner: &str) -> Vec<(&'static str, Option<String>)> {
        issuer().callers(owner)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// A Redis connection, for looking at what the API cached.
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(redis_url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// An order row as the projector would have written it.
pub struct Fixture<'a> {
    pub order_id: &'a str,
    pub customer_id: &'a str,
    pub status: &'a str,
    pub version: i64,
    pub placed_at: &'a str,
    pub items: &'a [(&'a str, i32, &'a str)],
}

impl Fixture<'_> {
    /// A placed order of `customer_id` at `placed_at` with two lines totalling 57.48.
    pub fn placed<'a>(order_id: &'a str, customer_id: &'a str, placed_at: &'a str) -> Fixture<'a> {
        Fixture {
            order_id,
            customer_id,
            status: "placed",
            version: 1,
            placed_at,
            items: &[("sku-1", 2, "25.99"), ("sku-2", 1, "5.50")],
        }
    }
}

pub fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Inserts the order, its items and one history row per version.
pub async fn insert(db: &PgPool, f: &Fixture<'_>) {
    let total: rust_decimal::Decimal = f
        .items
        .iter()
        .map(|(_, q, p)| {
            p.parse::<rust_decimal::Decimal>().unwrap() * rust_decimal::Decimal::from(*q)
        })
        .sum();
    let placed_at = time(f.placed_at);
    sqlx::query(
        "INSERT INTO orders (order_id, customer_id, status, items_count, total_amount,
             shipping_address, warehouse, version, placed_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, '1 Main St', $6, $7, $8, $8 + interval '1 minute')",
    )
    .bind(f.order_id)
    .bind(f.customer_id)
    .bind(f.status)
    .bind(f.items.len() as i32)
    .bind(total)
    .bind((f.version > 1).then_some("AMS-1"))
    .bind(f.version)
    .bind(placed_at)
    .execute(db)
    .await
    .unwrap();
    for (i, (product, quantity, price)) in f.items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price)
             VALUES ($1, $2, $3, $4, $5::numeric)",
        )
        .bind(f.order_id)
        .bind(i as i32 + 1)
        .bind(product)
        .bind(quantity)
        .bind(price)
        .execute(db)
        .await
        .unwrap();
    }
    insert_history(db, f, placed_at).await;
}

/// One history row per version of the fixture, inserted newest first so the API's
/// ordering is what puts them in version order.
async fn insert_history(db: &PgPool, f: &Fixture<'_>, placed_at: DateTime<Utc>) {
    for version in (1..=f.version).rev() {
        let kind = if version == 1 {
            "OrderPlaced"
        } else {
            "OrderPacked"
        };
        sqlx::query(
            "INSERT INTO order_history (order_id, version, event_type, event_id, occurred_at, data)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(f.order_id)
        .bind(version)
        .bind(kind)
        .bind(Uuid::new_v4())
        .bind(placed_at + chrono::Duration::minutes(version - 1))
        .bind(json!({"n": version}))
        .execute(db)
        .await
        .unwrap();
    }
}

/// Moves an order to `version` and announces it, in one transaction, as the projector
/// does.
pub async fn advance(db: &PgPool, order_id: &str, version: i64) {
    let mut tx = db.begin().await.unwrap();
    sqlx::query("UPDATE orders SET version = $2, status = 'packed', warehouse = 'AMS-1' WHERE order_id = $1")
        .bind(order_id)
        .bind(version)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(ORDERS_CHANNEL)
        .bind(json!({"order_id": order_id, "version": version}).to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Asserts the status and a JSON body (problem+json for errors); returns the body.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "body: {text}");
    let expected = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    assert_eq!(content_type.as_deref(), Some(expected), "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}
