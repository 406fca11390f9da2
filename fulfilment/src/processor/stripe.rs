//! Stripe's PaymentIntents API over HTTP: authorize (create and confirm with
//! `capture_method=manual`), capture, cancel (void) and refund.
//!
//! How answers are read: a 2xx is the call's success, except an authorization that needs
//! the customer (`requires_action`, 3-D Secure: nobody is there to answer it) or came back
//! `canceled`, which are declines; a 2xx whose body cannot be read is no answer (money may
//! be held: the saga asks again under the same key). A 402, or a 400 or 404 about the
//! card or the payment method, is a decline; any other 400 or 404 (a wrong URL, a request
//! this code got wrong) is refused, never a decline. 409 (the key in use), 429 and 5xx say
//! "try again later", as do timeouts and refused connections. 401 and 403 are this
//! service's configuration, and so refused.

use super::{Authorization, ProcessorError, minor_units};
use orderflow_domain::Decimal;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// Where Stripe is and how long a call may take.
#[derive(Clone)]
pub struct StripeSettings {
    /// `https://api.stripe.com`, or stripe-mock's address.
    pub url: String,
    /// The secret key (`sk_…`).
    pub secret_key: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for StripeSettings {
    /// Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSettings")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A client of Stripe's PaymentIntents API.
#[derive(Clone)]
pub struct Stripe {
    http: reqwest::Client,
    settings: StripeSettings,
}

/// One authorization to ask for.
pub struct AuthorizeRequest<'a> {
    pub order_id: &'a str,
    pub amount: Decimal,
    pub currency: &'a str,
    pub payment_method: &'a str,
    pub idempotency_key: &'a str,
}

impl Stripe {
    pub fn new(settings: StripeSettings) -> reqwest::Result<Stripe> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(2)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Stripe { http, settings })
    }

    /// Holds the amount on the payment method, to be captured when the order ships.
    pub async fn authorize(
        &self,
        request: &AuthorizeRequest<'_>,
    ) -> Result<Authorization, ProcessorError> {
        let Some(amount) = minor_units(request.amount, request.currency) else {
            let reason = format!("{} {} cannot be charged", request.amount, request.currency);
            return Ok(Authorization::Declined { reason });
        };
        let form = [
            ("amount", amount.to_string()),
            ("currency", request.currency.to_lowercase()),
            ("capture_method", "manual".into()),
            ("confirm", "true".into()),
            ("payment_method", request.payment_method.into()),
            ("payment_method_types[]", "card".into()),
            ("metadata[order_id]", request.order_id.into()),
        ];
        let answer = self
            .post("/v1/payment_intents", &form, request.idempotency_key)
            .await?;
        match answer {
            Answer::Ok(intent) => read_intent(&intent),
            Answer::Declined(reason) => Ok(Authorization::Declined { reason }),
        }
    }

    /// Collects `amount` of an authorization.
    pub async fn capture(
        &self,
        intent_id: &str,
        amount: i64,
        key: &str,
    ) -> Result<(), ProcessorError> {
        let path = format!("/v1/payment_intents/{intent_id}/capture");
        let form = [("amount_to_capture", amount.to_string())];
        self.settle(&path, &form, key).await
    }

    /// Releases an authorization that was never captured.
    pub async fn void(&self, intent_id: &str, key: &str) -> Result<(), ProcessorError> {
        let path = format!("/v1/payment_intents/{intent_id}/cancel");
        let form = [("cancellation_reason", "requested_by_customer".to_owned())];
        self.settle(&path, &form, key).await
    }

    /// Pays `amount` of a captured PaymentIntent back.
    pub async fn refund(
        &self,
        intent_id: &str,
        amount: i64,
        key: &str,
    ) -> Result<(), ProcessorError> {
        let form = [
            ("payment_intent", intent_id.to_owned()),
            ("amount", amount.to_string()),
        ];
        self.settle("/v1/refunds", &form, key).await
    }

    /// A call on an existing authorization: any refusal is the processor's last word.
    async fn settle(
        &self,
        path: &str,
        form: &[(&str, String)],
        key: &str,
    ) -> Result<(), ProcessorError> {
        match self.post(path, form, key).await? {
            Answer::Ok(_) => Ok(()),
            Answer::Declined(reason) => Err(ProcessorError::Refused(reason)),
        }
    }

    async fn post(
        &self,
        path: &str,
        form: &[(&str, String)],
        key: &str,
    ) -> Result<Answer, ProcessorError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let url = format!("{}{path}", self.settings.url.trim_end_matches('/'));
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.settings.secret_key)
            .header("Idempotency-Key", key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            // Without the URL: a query string could carry what it should not.
            .map_err(|e| ProcessorError::Unanswered(e.without_url().to_string()))?;
        let status = response.status();
        match response.json::<Value>().await {
            Ok(json) => read_answer(status, json),
            // A success whose body was lost may have done its work: not a decline.
            Err(e) if status.is_success() => Err(ProcessorError::Unanswered(format!(
                "{status} with an unreadable body: {}",
                e.without_url()
            ))),
            Err(_) => read_answer(status, Value::Null),
        }
    }
}

/// A 2xx body, or a refusal's reason.
#[derive(Debug)]
enum Answer {
    Ok(Value),
    Declined(String),
}

fn read_answer(status: StatusCode, body: Value) -> Result<Answer, ProcessorError> {
    let error = &body["error"];
    let said = || {
        let code = error["decline_code"]
            .as_str()
            .or(error["code"].as_str())
            .unwrap_or("unknown");
        let message = error["message"].as_str().unwrap_or("no message");
        format!("{code}: {message}")
    };
    match status.as_u16() {
        200..=299 => Ok(Answer::Ok(body)),
        402 => Ok(Answer::Declined(said())),
        400 | 404 if about_the_card(error) => Ok(Answer::Declined(said())),
        409 | 429 | 500..=599 => Err(ProcessorError::Unanswered(format!("{status}: {}", said()))),
        // Never the message: it may quote the key that was sent.
        401 | 403 => Err(ProcessorError::Refused(format!(
            "{status}: the processor refused the secret key (ORDERFLOW_STRIPE_SECRET_KEY)"
        ))),
        _ => Err(ProcessorError::Refused(format!("{status}: {}", said()))),
    }
}

/// Whether a 400 or 404 is about what the customer paid with, rather than about the call.
fn about_the_card(error: &Value) -> bool {
    error["type"] == "card_error" || error["param"] == "payment_method"
}

fn read_intent(intent: &Value) -> Result<Authorization, ProcessorError> {
    let status = intent["status"].as_str().unwrap_or_default();
    Ok(match (intent["id"].as_str(), status) {
        (_, "requires_action") => Authorization::Declined {
            reason: "the card needs the customer to authenticate the payment".into(),
        },
        (_, "canceled") => Authorization::Declined {
            reason: "the payment was cancelled by the processor".into(),
        },
        (Some(id), _) => Authorization::Approved {
            intent_id: id.to_owned(),
        },
        (None, _) => {
            let why = "a success that names no PaymentIntent".to_owned();
            return Err(ProcessorError::Unanswered(why));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_are_read_by_their_status() {
        let decline = json!({"error": {"type": "card_error", "code": "card_declined",
            "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}});
        let answer = |status: u16, body: &Value| {
            read_answer(StatusCode::from_u16(status).unwrap(), body.clone())
        };
        assert!(matches!(answer(200, &json!({})), Ok(Answer::Ok(_))));
        assert!(matches!(
            answer(402, &decline),
            Ok(Answer::Declined(r)) if r == "insufficient_funds: Your card has insufficient funds."
        ));
        let bad_method =
            json!({"error": {"type": "invalid_request_error", "param": "payment_method"}});
        assert!(matches!(answer(400, &bad_method), Ok(Answer::Declined(_))));
        // A 404 from a wrong URL is not the customer's card.
        assert!(matches!(
            answer(404, &json!({})),
            Err(ProcessorError::Refused(_))
        ));
        for later in [409, 429, 500, 502, 503] {
            assert!(
                matches!(
                    answer(later, &json!({})),
                    Err(ProcessorError::Unanswered(_))
                ),
                "{later}"
            );
        }
        for refused in [401, 403] {
            assert!(
                matches!(answer(refused, &json!({})), Err(ProcessorError::Refused(_))),
                "{refused}"
            );
        }
    }

    #[test]
    fn an_intent_that_needs_the_customer_is_a_decline() {
        let approved = read_intent(&json!({"id": "pi_1", "status": "requires_capture"}));
        assert_eq!(
            approved,
            Ok(Authorization::Approved {
                intent_id: "pi_1".into()
            })
        );
        let needs_3ds = read_intent(&json!({"id": "pi_2", "status": "requires_action"}));
        assert!(matches!(needs_3ds, Ok(Authorization::Declined { .. })));
        let nameless = read_intent(&json!({"status": "requires_capture"}));
        assert!(matches!(nameless, Err(ProcessorError::Unanswered(_))));
    }
}
