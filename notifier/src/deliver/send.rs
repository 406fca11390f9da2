//! One attempt on its channel: an email through the SMTP server, or a signed POST to a
//! webhook. Nothing here decides what follows: it says how the attempt ended.

use crate::deliver::claims::{Claimed, Target};
use crate::message::Email;
use crate::retry::Outcome;
use crate::signature;
use crate::smtp::{MailError, Mailer};
use orderflow_schemas::error_chain;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The header naming the notice, so a receiver can drop a copy without parsing the body.
pub const NOTICE_ID_HEADER: &str = "Orderflow-Notice-Id";

/// Sends on every channel.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    mailer: Mailer,
    timeout: Duration,
}

impl Sender {
    pub fn new(mailer: Mailer, timeout: Duration) -> Result<Sender, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // A receiver answers where it is; a redirect is not followed (it could point the
            // signed body anywhere), and counts as a failure.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("orderflow-notifier/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender {
            http,
            mailer,
            timeout,
        })
    }

    /// Makes one attempt of `claimed`.
    pub async fn send(&self, claimed: &Claimed) -> Outcome {
        match &claimed.target {
            None => Outcome::Unsubscribed,
            Some(Target::Webhook { url, secret }) => self.post(claimed, url, secret).await,
            Some(Target::Email { address }) => self.mail(claimed, address).await,
        }
    }

    async fn post(&self, claimed: &Claimed, url: &str, secret: &str) -> Outcome {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let signed = signature::sign(secret.as_bytes(), now, claimed.body.as_bytes());
        let sent = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signature::HEADER, signed)
            .header(NOTICE_ID_HEADER, claimed.notice_id.to_string())
            .body(claimed.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Outcome::Delivered,
            Ok(response) => Outcome::Failed(format!("the receiver answered {}", response.status())),
            // The error's text names the URL, which the subscription's owner gave: no secret.
            Err(e) => {
                Outcome::Failed(orderflow_platform::redact::text(&error_chain(&e)).into_owned())
            }
        }
    }

    async fn mail(&self, claimed: &Claimed, address: &str) -> Outcome {
        let email = Email {
            subject: claimed.email_subject.clone(),
            text: claimed.email_text.clone(),
        };
        let sent = tokio::time::timeout(
            self.timeout,
            self.mailer.send(address, &email, claimed.notice_id),
        )
        .await;
        match sent {
            Ok(Ok(())) => Outcome::Delivered,
            Ok(Err(e @ MailError::Address(_))) => Outcome::Undeliverable(e.to_string()),
            Ok(Err(e)) => Outcome::Failed(error_chain(&e)),
            Err(_) => Outcome::Failed(format!(
                "no answer from the SMTP server in {:?}",
                self.timeout
            )),
        }
    }
}
