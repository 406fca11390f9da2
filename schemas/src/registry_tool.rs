//! The online half of the schema workflow: ask a Schema Registry (Confluent's API, as
//! Confluent or Apicurio serve it) whether the newest versions are compatible, and register
//! them with their subject's compatibility level. Subjects follow TopicRecordNameStrategy.
//!
//! Asking is a read, which the local stack's registry answers anonymously; registering and
//! setting levels are writes, which it takes only with a credential (ADR 0011). HTTPS is
//! verified against the system's trust store.

use crate::compatibility::CompatibilityLevel;
use crate::history::SchemaHistory;
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A registry the tool talks to: its Confluent-compatible base URL and the `user:password`
/// sent with every request (basic auth), if any.
#[derive(Clone)]
pub struct RegistryEndpoint {
    client: reqwest::Client,
    url: String,
    auth: Option<(String, String)>,
}

impl RegistryEndpoint {
    /// The registry at `url`; `auth` is `user:password`.
    pub fn new(url: &str, auth: Option<&str>) -> Result<Self, RegistryToolError> {
        let auth = match auth {
            Some(a) => {
                let (user, password) = a.split_once(':').ok_or(RegistryToolError::BadAuth)?;
                Some((user.to_owned(), password.to_owned()))
            }
            None => None,
        };
        Ok(RegistryEndpoint {
            client: reqwest::Client::new(),
            url: url.trim_end_matches('/').to_owned(),
            auth,
        })
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("content-type", MEDIA_TYPE);
        match &self.auth {
            Some((user, password)) => request.basic_auth(user, Some(password)),
            None => request,
        }
    }
}

/// Names the user, never the password.
impl std::fmt::Debug for RegistryEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryEndpoint")
            .field("url", &self.url)
            .field("user", &self.auth.as_ref().map(|(user, _)| user))
            .finish_non_exhaustive()
    }
}

/// Why the registry could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RegistryToolError {
    /// The registry is unreachable or answered unexpectedly. Handling: report, exit non-zero.
    /// Its cause (refused connection, untrusted certificate, ...) is the source.
    #[error("registry request failed")]
    Http(#[from] reqwest::Error),
    /// The registry answered with an error body. Handling: report, exit non-zero.
    #[error("registry refused ({status}): {body}")]
    Refused { status: u16, body: String },
    /// The registry wants a credential (401) or a stronger one (403) for the request.
    /// Handling: report, exit non-zero; the operator sets `--registry-auth`.
    #[error(
        "the registry wants a writer's credential for this ({status}): set `user:password` \
         in --registry-auth or ORDERFLOW_SCHEMA_REGISTRY_AUTH"
    )]
    Unauthorized { status: u16 },
    /// The credential is not `user:password`. Handling: fix the setting.
    #[error("the registry credential must be `user:password`")]
    BadAuth,
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
    registry: &RegistryEndpoint,
    topic: &str,
    history: &SchemaHistory,
) -> Result<Vec<String>, RegistryToolError> {
    let subject = subject(topic, history)?;
    let path = format!("/compatibility/subjects/{subject}/versions/latest?verbose=true");
    let response = registry
        .request(Method::POST, &path)
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
        401 | 403 => Err(RegistryToolError::Unauthorized { status }),
        _ => Err(RegistryToolError::Refused {
            status,
            body: body.to_string(),
        }),
    }
}

/// Sets the subject's compatibility level and registers the newest version; returns its id.
pub async fn register(
    registry: &RegistryEndpoint,
    topic: &str,
    history: &SchemaHistory,
    level: CompatibilityLevel,
) -> Result<u64, RegistryToolError> {
    let subject = subject(topic, history)?;
    let config = registry
        .request(Method::PUT, &format!("/config/{subject}"))
        .json(&json!({ "compatibility": level.as_str() }))
        .send()
        .await?;
    refused(config).await?;
    let response = registry
        .request(Method::POST, &format!("/subjects/{subject}/versions"))
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
    } else if status == 401 || status == 403 {
        Err(RegistryToolError::Unauthorized { status })
    } else {
        Err(RegistryToolError::Refused {
            status,
            body: body.to_string(),
        })
    }
}
