//! The command service, for the two commands only fulfilment gives: confirm and reject a
//! pending order (`POST /orders/{id}/confirm`, `/reject`, role `fulfilment`). Each carries
//! an `Idempotency-Key` made from the order id and the step, so a retry after a timeout is
//! answered as the first call was.

use reqwest::StatusCode;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// What the command service said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Appended (or an identical retry's replay).
    Done,
    /// Refused for good (409: the order moved on; 404; 422). The log shows why.
    Refused(String),
}

/// Why a command got no answer the saga can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OrdersError {
    /// Timeouts, 5xx, 503 while the owner replays, 401 (a token being rotated). Handling:
    /// retry with backoff.
    #[error("the command service did not take the command: {0}")]
    Unavailable(String),
}

/// A client of the command service.
#[derive(Clone)]
pub struct OrderCommands {
    http: reqwest::Client,
    base_url: String,
    /// A file holding the bearer token (role `fulfilment`), read at every call so a token
    /// rotated on disk is picked up.
    token_file: Option<PathBuf>,
}

impl OrderCommands {
    pub fn new(
        base_url: &str,
        token_file: Option<PathBuf>,
        timeout: Duration,
    ) -> reqwest::Result<Self> {
        Ok(OrderCommands {
            http: reqwest::Client::builder().timeout(timeout).build()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token_file,
        })
    }

    /// Confirms a pending order.
    pub async fn confirm(&self, order_id: &str) -> Result<Answer, OrdersError> {
        self.send(order_id, "confirm", json!({})).await
    }

    /// Rejects a pending order, telling the customer why.
    pub async fn reject(&self, order_id: &str, reason: &str) -> Result<Answer, OrdersError> {
        self.send(order_id, "reject", json!({ "reason": reason }))
            .await
    }

    async fn send(
        &self,
        order_id: &str,
        verb: &str,
        body: serde_json::Value,
    ) -> Result<Answer, OrdersError> {
        let unavailable = |e: String| OrdersError::Unavailable(e);
        let mut request = self
            .http
            .post(format!("{}/orders/{order_id}/{verb}", self.base_url))
            .header("Idempotency-Key", format!("fulfilment-{verb}-{order_id}"))
            .json(&body);
        if let Some(file) = &self.token_file {
            let token = std::fs::read_to_string(file).map_err(|e| {
                unavailable(format!("reading the token file {}: {e}", file.display()))
            })?;
            request = request.bearer_auth(token.trim());
        }
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(Answer::Done);
        }
        let detail = response.text().await.unwrap_or_default();
        match status {
            StatusCode::CONFLICT | StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => {
                Ok(Answer::Refused(format!("{status}: {detail}")))
            }
            _ => Err(unavailable(format!("{status}: {detail}"))),
        }
    }
}
