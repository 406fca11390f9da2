//! Who may change the stack's registry: anyone reads (the services decode with anonymous
//! lookups), but registering, deleting and setting levels need the writer's credential,
//! and the global level the admin's (ADR 0011, "Credentials").

use crate::helpers::*;
use orderflow_schemas::{CompatibilityLevel as Level, RegistryEndpoint, RegistryToolError};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A request to the stack's registry, sent as `user:password` or anonymously.
async fn send(
    subject: &Subject,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
    auth: Option<(&str, &str)>,
) -> reqwest::Response {
    let url = format!("{}{path}", subject.registry.url);
    let mut request = subject.client.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    request.send().await.expect("the registry answers")
}

/// The writer's credential the test suite runs with.
fn writer(subject: &Subject) -> (&str, &str) {
    let auth = subject.registry.auth.as_deref().expect(
        "ORDERFLOW_SCHEMA_REGISTRY_AUTH is not set: run scripts/test.sh (it exports the \
         registry writer's user:password)",
    );
    auth.split_once(':').expect("user:password")
}

fn schema_body() -> serde_json::Value {
    json!({ "schema": probe(&[ID]) })
}

#[tokio::test]
async fn anonymous_writes_are_refused_and_nothing_changes() {
    let subject = Subject::new();
    let versions = format!("/subjects/{}/versions", subject.name());
    let config = format!("/config/{}", subject.name());
    let level = json!({ "compatibility": "NONE" });

    let register = send(&subject, Method::POST, &versions, Some(schema_body()), None).await;
    assert_eq!(
        register.status(),
        StatusCode::UNAUTHORIZED,
        "the registry takes anonymous writes: was it started before it had credentials? \
         (restart it: source scripts/lib.sh && stop_registry && start_registry)"
    );
    let set_level = send(&subject, Method::PUT, &config, Some(level), None).await;
    assert_eq!(set_level.status(), StatusCode::UNAUTHORIZED);
    let subject_path = format!("/subjects/{}", subject.name());
    let delete = send(&subject, Method::DELETE, &subject_path, None, None).await;
    assert_eq!(delete.status(), StatusCode::UNAUTHORIZED);
    // The level it has already: had the write got through, it would change nothing.
    let global = json!({ "compatibility": "BACKWARD" });
    let set_global = send(&subject, Method::PUT, "/config", Some(global), None).await;
    assert_eq!(set_global.status(), StatusCode::UNAUTHORIZED);

    let listed = send(&subject, Method::GET, &versions, None, None).await;
    assert_eq!(
        listed.status(),
        StatusCode::NOT_FOUND,
        "an anonymous registration got through"
    );
}

#[tokio::test]
async fn the_writer_registers_sets_levels_and_deletes_and_anyone_reads() {
    let subject = Subject::new();
    let auth = Some(writer(&subject));
    let versions = format!("/subjects/{}/versions", subject.name());
    let registered = send(&subject, Method::POST, &versions, Some(schema_body()), auth).await;
    assert_eq!(registered.status(), StatusCode::OK);
    let id = registered.json::<serde_json::Value>().await.unwrap()["id"].clone();

    // Reads stay open: by id, the subject list, the lookup and compatibility POSTs.
    let schema = subject.get(&format!("/schemas/ids/{id}")).await;
    assert!(schema["schema"].as_str().unwrap().contains("Probe"));
    // The list (Apicurio answers at most 1,000 subjects, `apicurio.ccompat.max-subjects`,
    // and the shared registry holds more) and this subject.
    assert!(subject.get("/subjects").await.is_array());
    assert_eq!(subject.get(&versions).await, json!([1]));
    let lookup_path = format!("/subjects/{}", subject.name());
    let lookup = send(
        &subject,
        Method::POST,
        &lookup_path,
        Some(schema_body()),
        None,
    )
    .await;
    assert_eq!(lookup.json::<serde_json::Value>().await.unwrap()["id"], id);
    assert!(subject.verdict(&[probe(&[ID])]).await.is_empty());

    let config = format!("/config/{}", subject.name());
    let level = json!({ "compatibility": "FULL" });
    let set_level = send(&subject, Method::PUT, &config, Some(level), auth).await;
    assert_eq!(set_level.status(), StatusCode::OK);
    assert_eq!(subject.get(&config).await["compatibilityLevel"], "FULL");
    let delete = send(&subject, Method::DELETE, &lookup_path, None, auth).await;
    assert_eq!(delete.status(), StatusCode::OK);
    assert_eq!(
        delete.json::<serde_json::Value>().await.unwrap(),
        json!([1])
    );
}

#[tokio::test]
async fn the_writer_cannot_change_the_global_level() {
    let subject = Subject::new();
    // The level it has already: had the write got through, it would change nothing.
    let global = json!({ "compatibility": "BACKWARD" });
    let set = send(
        &subject,
        Method::PUT,
        "/config",
        Some(global),
        Some(writer(&subject)),
    )
    .await;
    assert_eq!(set.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        subject.get("/config").await["compatibilityLevel"],
        "BACKWARD"
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_even_for_reads() {
    let subject = Subject::new();
    let (user, _) = writer(&subject);
    let wrong = Some((user, "not-the-password"));
    let versions = format!("/subjects/{}/versions", subject.name());
    let register = send(
        &subject,
        Method::POST,
        &versions,
        Some(schema_body()),
        wrong,
    )
    .await;
    assert_eq!(register.status(), StatusCode::UNAUTHORIZED);
    let read = send(&subject, Method::GET, "/subjects", None, wrong).await;
    assert_eq!(read.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_schemas_tool_without_a_credential_checks_but_cannot_register() {
    let subject = Subject::new();
    let anonymous = RegistryEndpoint::new(&subject.registry.url, None).unwrap();
    let history = history(&[probe(&[ID])]);
    let verdict = orderflow_schemas::check_with_registry(&anonymous, &subject.topic, &history);
    assert!(verdict.await.unwrap().is_empty());
    let refused =
        orderflow_schemas::register(&anonymous, &subject.topic, &history, Level::Full).await;
    assert!(
        matches!(
            refused,
            Err(RegistryToolError::Unauthorized { status: 401 })
        ),
        "{refused:?}"
    );
    let registered = subject.register(&[probe(&[ID])], Level::Full).await;
    assert!(registered.unwrap() > 0);
}
