//! The mailer against a real SMTP server (Mailpit), over STARTTLS.

use crate::mailpit::{mailer, mailpit, messages};
use orderflow_notifier::message::Email;
use orderflow_notifier::smtp::{MailError, Mailer, SmtpSettings};
use uuid::Uuid;

#[tokio::test]
async fn an_email_reaches_a_real_smtp_server_over_starttls_under_its_notices_id() {
    let Some(mailpit) = mailpit().await else {
        return;
    };
    let url = format!("smtp://localhost:{}?tls=required", mailpit.smtp_port);
    let id = Uuid::new_v4();
    let email = Email {
        subject: "Your order o-1 is on its way".into(),
        text: "UPS carries it.\n".into(),
    };
    mailer(&mailpit, url)
        .send("alice@example.com", &email, id)
        .await
        .unwrap();

    let held = messages(&mailpit).await.unwrap();
    let message = &held["messages"][0];
    assert_eq!(held["total"], 1, "{held}");
    assert_eq!(message["Subject"], "Your order o-1 is on its way");
    assert_eq!(message["To"][0]["Address"], "alice@example.com");
    assert_eq!(message["MessageID"], format!("{id}@orderflow"));
}

#[tokio::test]
async fn a_server_whose_certificate_the_mailer_does_not_trust_gets_nothing() {
    let Some(mailpit) = mailpit().await else {
        return;
    };
    let email = Email {
        subject: "s".into(),
        text: "t".into(),
    };
    // The system's roots only: the test CA is not among them.
    let untrusting = Mailer::new(&SmtpSettings {
        url: format!("smtp://localhost:{}?tls=required", mailpit.smtp_port),
        from: "orders@example.com".into(),
        ca_file: None,
    })
    .unwrap();
    let refused = untrusting
        .send("alice@example.com", &email, Uuid::new_v4())
        .await;
    assert!(matches!(refused, Err(MailError::Send(_))), "{refused:?}");
    assert_eq!(messages(&mailpit).await.unwrap()["total"], 0);
}
