//! Spawning a registry on a throwaway database, plus small request helpers.

use std::str::FromStr;

use orderflow_dev_registry::{Error, run};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Admin connection used to create and drop the per-test databases.
const DEFAULT_ADMIN_URL: &str = "postgres://orderflow:orderflow@127.0.0.1:5432/postgres";

pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A registry served over real HTTP from a database created for this test alone.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub address: String,
    pub client: reqwest::Client,
    /// A pool on the test database, for assertions on stored state.
    pub db: PgPool,
    database: TestDatabase,
    server: Option<Server>,
}

struct Server {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), Error>>,
}

/// Creates a fresh database, binds `127.0.0.1:0` and runs the registry in the background.
pub async fn spawn_app() -> TestApp {
    let database = TestDatabase::create().await;
    let db = database.pool().await;
    let server = start(&database).await;
    TestApp {
        address: server.0,
        client: reqwest::Client::new(),
        db,
        database,
        server: Some(server.1),
    }
}

async fn start(database: &TestDatabase) -> (String, Server) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let pool = database.pool().await;
    let task = tokio::spawn(run(listener, pool, async {
        let _ = stopped.await;
    }));
    let app = (address, Server { stop, task });
    wait_until_ready(&app.0).await;
    app
}

/// `run` migrates before it accepts connections; wait for that instead of racing it.
async fn wait_until_ready(address: &str) {
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(response) = client.get(format!("{address}/healthz")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("registry at {address} did not become healthy");
}

impl TestApp {
    /// Stops the server gracefully and waits for `run` to return.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop.send(());
            server
                .task
                .await
                .expect("server task panicked")
                .expect("run returned an error");
        }
    }

    /// Stops the server and starts a new one (on a new port) over the same database.
    pub async fn restart(&mut self) {
        self.stop().await;
        let (address, server) = start(&self.database).await;
        self.address = address;
        self.server = Some(server);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client.delete(self.url(path)).send().await.unwrap()
    }

    /// Sends `body` the way Confluent clients do.
    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .header("content-type", CONTENT_TYPE)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.client
            .put(self.url(path))
            .header("content-type", CONTENT_TYPE)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// `POST /subjects/{subject}/versions`, returning the raw response.
    pub async fn register(&self, subject: &str, schema: &str) -> Response {
        self.post(
            &format!("/subjects/{subject}/versions"),
            &json!({ "schema": schema }),
        )
        .await
    }

    /// Registers and returns the id, failing the test on any error.
    pub async fn register_ok(&self, subject: &str, schema: &str) -> i64 {
        let body = expect_json(self.register(subject, schema).await, StatusCode::OK).await;
        body["id"].as_i64().expect("id in register response")
    }

    pub async fn set_level(&self, subject: &str, level: &str) {
        let response = self
            .put(
                &format!("/config/{subject}"),
                &json!({ "compatibility": level }),
            )
            .await;
        expect_json(response, StatusCode::OK).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.task.abort();
        }
    }
}

/// Asserts the status and Confluent content type, returning the body.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert_eq!(content_type.as_deref(), Some(CONTENT_TYPE), "body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// Asserts a Confluent error body with the given status and `error_code`; returns the message.
pub async fn expect_error(response: Response, status: StatusCode, error_code: i64) -> String {
    let body = expect_json(response, status).await;
    assert_eq!(body["error_code"], json!(error_code), "body: {body}");
    body["message"].as_str().expect("message").to_owned()
}

/// An Avro record `com.orderflow.test.Probe` with the given JSON field objects.
pub fn probe(fields: &[&str]) -> String {
    format!(
        r#"{{"type":"record","name":"Probe","namespace":"com.orderflow.test","fields":[{}]}}"#,
        fields.join(",")
    )
}

pub const ID: &str = r#"{"name":"id","type":"string"}"#;
pub const QTY: &str = r#"{"name":"qty","type":"int"}"#;
pub const QTY_DEFAULT: &str = r#"{"name":"qty","type":"int","default":0}"#;
pub const NOTE_DEFAULT: &str = r#"{"name":"note","type":["null","string"],"default":null}"#;
pub const EXTRA: &str = r#"{"name":"extra","type":"long"}"#;

/// A database that exists for one test and is dropped with it, even when the test panics.
struct TestDatabase {
    admin: PgConnectOptions,
    name: String,
}

impl TestDatabase {
    async fn create() -> Self {
        let admin_url =
            std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let admin = PgConnectOptions::from_str(&admin_url).expect("TEST_DATABASE_URL");
        let name = format!("dev_registry_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("connect to the admin database (is Postgres running?)");
        sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
            .execute(&mut conn)
            .await
            .expect("create test database");
        TestDatabase { admin, name }
    }

    async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(10)
            .connect_with(self.admin.clone().database(&self.name))
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime may be unwinding; a private runtime on
        // a helper thread does the cleanup. FORCE ends the registry's leftover connections.
        let admin = self.admin.clone();
        let name = self.name.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut conn = PgConnection::connect_with(&admin).await?;
                sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
                    .execute(&mut conn)
                    .await
                    .map(drop)
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}
