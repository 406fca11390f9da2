//! Commands to the command API as an operator: what the service asks to retry (503 and
//! 429, after their `Retry-After`, or a connection that failed) is retried a few times.

use orderflow_platform::Backoff;
use serde_json::Value;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Attempts per command.
const ATTEMPTS: u32 = 5;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The service refused it (4xx), with its problem. Handling: the order is left.
    #[error("{status}: {problem}")]
    Refused { status: u16, problem: Value },
    /// The service stayed unavailable, or could not be reached, for every attempt.
    #[error("unavailable after {ATTEMPTS} attempts: {0}")]
    Unavailable(String),
}

/// The command API, with an operator's token.
#[derive(Clone)]
pub struct CommandClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl CommandClient {
    pub fn new(base: &str, token: String) -> CommandClient {
        CommandClient {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// POSTs `body` to `path`; the answer's body on success.
    pub async fn send(
        &self,
        path: &str,
        body: &Value,
        key: Option<&str>,
    ) -> Result<Value, CommandError> {
        self.post(&self.base, path, body, key).await
    }

    /// POSTs `body` to `path` of another service (the fulfilment service's stock API).
    pub async fn send_to(
        &self,
        base: &str,
        path: &str,
        body: &Value,
    ) -> Result<Value, CommandError> {
        self.post(base.trim_end_matches('/'), path, body, None)
            .await
    }

    /// The status of a pending order once fulfilment has decided (`confirmed`,
    /// `rejected`, or `cancelled`), or `None` if it does not within a minute.
    pub async fn settled(&self, order_id: &str, stop: &CancellationToken) -> Option<String> {
        for _ in 0..240 {
            let answer = self
                .http
                .get(format!("{}/orders/{order_id}", self.base))
                .bearer_auth(&self.token)
                .send()
                .await;
            let status = match answer {
                Ok(r) if r.status().is_success() => r.json::<Value>().await.ok()?["status"].clone(),
                _ => Value::Null,
            };
            match status.as_str() {
                Some("pending") | None => {}
                Some(settled) => return Some(settled.to_owned()),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
                () = stop.cancelled() => return None,
            }
        }
        None
    }

    async fn post(
        &self,
        base: &str,
        path: &str,
        body: &Value,
        key: Option<&str>,
    ) -> Result<Value, CommandError> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            let mut request = self
                .http
                .post(format!("{base}{path}"))
                .bearer_auth(&self.token)
                .json(body);
            if let Some(key) = key {
                request = request.header("idempotency-key", key);
            }
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    return Ok(response.json().await.unwrap_or(Value::Null));
                }
                Ok(response) if matches!(response.status().as_u16(), 429 | 503) => {
                    let after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                        .map(Duration::from_secs);
                    last = format!("{}", response.status());
                    tokio::time::sleep(after.unwrap_or_else(|| backoff.advance())).await;
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let problem = response.json().await.unwrap_or(Value::Null);
                    return Err(CommandError::Refused { status, problem });
                }
                Err(e) => {
                    last = e.to_string();
                    backoff.wait().await;
                }
            }
        }
        Err(CommandError::Unavailable(last))
    }
}
