//! The notifier against the real stack: the broker, the registry, Postgres, an SMTP server
//! (Mailpit) and webhook receivers over HTTP.

mod crash;
mod email;
mod instances;
mod mailpit;
mod refusals;
mod smtp;
mod support;
mod webhooks;
