//! The online half of the schema workflow: ask a Schema Registry (Confluent's, or the dev
//! one) whether the newest versions are compatible, and register them with their subject's
//! compatibility level. Subjects follow TopicRecordNameStrategy.

use crate::compatibility::CompatibilityLevel;
use crate::history::SchemaHistory;
use serde_json::{Value, json};

const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// Why the registry could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RegistryToolError {
    /// The registry is unreachable or answered unexpectedly. Handling: report, exit non-zero.
    #[error("registry request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The registry answered with an error body. Handling: report, exit non-zero.
    #[error("registry refused ({status}): {body}")]
    Refused { status: u16, body: String },
    /// The schema on disk is not a named record. Handling: fix the file.
    #[error("{0} has no record name")]
    Unnamed(String),
}

fn subject(topic: &str, history: &SchemaHistory) -> Result<String, RegistryToolError> {
    let name = history
        .record_name()
        .ok_or_else(|| RegistryToolError::Unnamed(history.event.clone()))?;
    Ok(format!("{topic}-{name}"))
}

/// The registry's verdict on the newest version against its subject (under the subject's
/// level there): an empty list when compatible or when the subject is not registered yet.
pub async fn check_with_registry(
    client: &reqwest::Client,
    url: &str,
    topic: &str,
    history: &SchemaHistory,
) -> Result<Vec<String>, RegistryToolError> {
    let subject = subject(topic, history)?;
    let response = client
        .post(format!(
            "{url}/compatibility/subjects/{subject}/versions/latest?verbose=true"
        ))
        .header("content-type", MEDIA_TYPE)
        .json(&json!({ "schema": history.newest_source }))
        .send()
        .await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match status {
        200 if body["is_compatible"] == true => Ok(Vec::new()),
        200 => {
            let messages = body["messages"].as_array().cloned().unwrap_or_default();
            let mut out: Vec<String> = messages
                .iter()
                .filter_map(|m| m.as_str())
                .map(|m| format!("{}: {m}", history.event))
                .collect();
            if out.is_empty() {
                out.push(format!(
                    "{}: the registry says the newest version is incompatible",
                    history.event
                ));
            }
            Ok(out)
        }
        404 if body["error_code"] == 40401 => Ok(Vec::new()),
        _ => Err(RegistryToolError::Refused {
            status,
            body: body.to_string(),
        }),
    }
}

/// Sets the subject's compatibility level and registers the newest version; returns its id.
pub async fn register(
    client: &reqwest::Client,
    url: &str,
    topic: &str,
    history: &SchemaHistory,
    level: CompatibilityLevel,
) -> Result<u64, RegistryToolError> {
    let subject = subject(topic, history)?;
    let config = client
        .put(format!("{url}/config/{subject}"))
        .header("content-type", MEDIA_TYPE)
        .json(&json!({ "compatibility": level.as_str() }))
        .send()
        .await?;
    refused(config).await?;
    let response = client
        .post(format!("{url}/subjects/{subject}/versions"))
        .header("content-type", MEDIA_TYPE)
        .json(&json!({ "schema": history.newest_source }))
        .send()
        .await?;
    let body: Value = refused(response).await?;
    Ok(body["id"].as_u64().unwrap_or_default())
}

async fn refused(response: reqwest::Response) -> Result<Value, RegistryToolError> {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(RegistryToolError::Refused {
            status,
            body: body.to_string(),
        })
    }
}
