//! The notifier (issue 18, in progress): a consumer of the order log, in a group of its
//! own, that turns every accepted status change into a notification for the order's
//! customer (email) and the webhooks subscribed to it.
//!
//! Built so far, pure and tested, what the service will stand on:
//! - `notice`: what one event notifies, decided with the shared fold rule (an event the
//!   fold ignores never notifies);
//! - `signature`: the webhook signature (HMAC-SHA256 over the timestamp and the body) and
//!   its verification, as a receiver does it;
//! - `retry`: when a failed delivery is tried again (exponential, with full jitter);
//! - `message`: what a notice says: the email of each status and the webhook body;
//! - `smtp`: sending an email over SMTP, STARTTLS or TLS required unless told otherwise.
//!
//! Still to come (see the issue note): the consumer and its offsets, webhook delivery,
//! subscriptions and delivery records in Postgres, the DLQ, and `notifications.outbound`.

pub mod message;
pub mod notice;
pub mod retry;
pub mod signature;
pub mod smtp;
