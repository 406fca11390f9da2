//! Email over SMTP (lettre). The server is a URL: `smtp://host:587?tls=required` (STARTTLS,
//! the default this module expects), `smtps://host:465` (TLS from the first byte), or
//! `smtp://127.0.0.1:1025` (plain, for a local catcher only). A private CA is trusted
//! with `ca_file`. Each message's `Message-ID` is the notice's id, so a copy sent twice
//! after a crash is recognisably the same message.

use crate::message::Email;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use uuid::Uuid;

/// Where and as whom email is sent.
#[derive(Clone)]
pub struct SmtpSettings {
    /// The server (see the module's documentation). Credentials may be in it
    /// (`smtp://user:password@host`): never logged.
    pub url: String,
    /// The sender, e.g. `orderflow <orders@example.com>`.
    pub from: String,
    /// A PEM file of the CA that signed the server's certificate, if not a public one.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for SmtpSettings {
    /// The server's host only: the URL may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &host_of(&self.url))
            .field("from", &self.from)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The settings do not describe a server or a sender. Handling: refused at start-up.
    #[error("SMTP settings: {0}")]
    Settings(String),
    /// An address of the message does not parse. Handling: the delivery is parked.
    #[error("an address does not parse: {0}")]
    Address(#[source] lettre::address::AddressError),
    /// The server refused the message or could not be reached. Handling: retried.
    #[error("sending failed: {0}")]
    Send(#[source] lettre::transport::smtp::Error),
}

/// Sends email through one SMTP server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(settings: &SmtpSettings) -> Result<Mailer, MailError> {
        let invalid = |e: &dyn std::fmt::Display| MailError::Settings(e.to_string());
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
            .map_err(|e| invalid(&e))?;
        if let Some(ca_file) = &settings.ca_file {
            let pem = std::fs::read(ca_file)
                .map_err(|e| invalid(&format!("{}: {e}", ca_file.display())))?;
            let ca = Certificate::from_pem(&pem).map_err(|e| invalid(&e))?;
            let parameters = TlsParameters::builder(host_of(&settings.url))
                .add_root_certificate(ca)
                .build()
                .map_err(|e| invalid(&e))?;
            builder = if settings.url.starts_with("smtps://") {
                builder.tls(Tls::Wrapper(parameters))
            } else {
                builder.tls(Tls::Required(parameters))
            };
        }
        let from = settings.from.parse().map_err(MailError::Address)?;
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    /// Sends `email` to `to` as the message `id`.
    pub async fn send(&self, to: &str, email: &Email, id: Uuid) -> Result<(), MailError> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.parse().map_err(MailError::Address)?)
            .message_id(Some(format!("<{id}@orderflow>")))
            .subject(&email.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(email.text.clone())
            .map_err(|e| MailError::Settings(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(MailError::Send)
    }
}

/// The host of an `smtp://` or `smtps://` URL (the name its certificate must carry).
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host_port
        .rsplit_once(':')
        .map_or(host_port, |(host, _)| host)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn settings_never_show_the_urls_password() {
        let settings = super::SmtpSettings {
            url: "smtps://mailer:s3cret@mail.example.com:465".into(),
            from: "orders@example.com".into(),
            ca_file: None,
        };
        let shown = format!("{settings:?}");
        assert!(
            shown.contains("mail.example.com") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn an_unreadable_url_is_refused_without_its_password() {
        for url in [
            "smtp://mailer:s3cret@mail.example.com:notaport",
            "ftp://mailer:s3cret@host",
        ] {
            let settings = super::SmtpSettings {
                url: url.into(),
                from: "orders@example.com".into(),
                ca_file: None,
            };
            let error = super::Mailer::new(&settings)
                .err()
                .expect("refused")
                .to_string();
            assert!(!error.contains("s3cret"), "{error}");
        }
    }

    #[test]
    fn the_certificate_name_is_the_urls_host() {
        assert_eq!(
            host_of("smtp://mail.example.com:587?tls=required"),
            "mail.example.com"
        );
        assert_eq!(host_of("smtps://user:secret@localhost:465"), "localhost");
        assert_eq!(host_of("smtp://127.0.0.1"), "127.0.0.1");
    }
}
