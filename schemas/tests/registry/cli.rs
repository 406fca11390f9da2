//! The `schemas` binary against the registry, as a release workflow runs it.

use crate::helpers::*;
use std::process::{Command, Output};

/// Runs `schemas <args> --registry <url> --topic <topic>`.
fn schemas(subject: &Subject, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schemas"))
        .args(args)
        .args([
            "--registry",
            &subject.registry.url,
            "--topic",
            &subject.topic,
        ])
        .output()
        .expect("run schemas")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What a failed run said, for the assertion message.
fn said(output: &Output) -> String {
    format!(
        "{}: {}{}",
        output.status,
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn the_projects_own_schemas_register_and_then_check_clean() {
    let subject = Subject::new();
    let registered = schemas(&subject, &["register"]);
    assert!(registered.status.success(), "{}", said(&registered));
    assert_eq!(stdout(&registered).matches("registered ").count(), 8);
    let checked = schemas(&subject, &["check"]);
    assert!(checked.status.success(), "{}", said(&checked));
    // The fulfilment logs' histories (issue 20) register and check the same way.
    for dir in ["inventory", "payments"] {
        let dir = format!("{}/{dir}", env!("CARGO_MANIFEST_DIR"));
        let registered = schemas(&subject, &["register", "--dir", &dir]);
        assert!(registered.status.success(), "{}", said(&registered));
        assert_eq!(
            stdout(&registered).matches("registered ").count(),
            1,
            "{dir}"
        );
        let checked = schemas(&subject, &["check", "--dir", &dir]);
        assert!(checked.status.success(), "{}", said(&checked));
    }
    let shipped = format!(
        "/config/{}-com.orderflow.events.OrderShipped",
        subject.topic
    );
    let level = subject.get(&shipped).await;
    assert_eq!(level["compatibilityLevel"], "FULL_TRANSITIVE");
}

#[tokio::test]
async fn check_reports_the_registrys_refusal_and_register_keeps_the_subject_unchanged() {
    let subject = Subject::new();
    let v1 = probe(&[ID]);
    let dir = history_dir(std::slice::from_ref(&v1)).display().to_string();
    let first = schemas(&subject, &["register", "--dir", &dir]);
    assert!(first.status.success(), "{}", said(&first));
    assert!(stdout(&first).contains("registered Probe v1 as id"));

    // Offline the edit passes at NONE; the registry holds the subject at FULL_TRANSITIVE.
    let bad = history_dir(&[v1.clone(), probe(&[ID, EXTRA])])
        .display()
        .to_string();
    let checked = schemas(&subject, &["check", "--dir", &bad, "--level", "NONE"]);
    assert!(!checked.status.success());
    assert!(
        stdout(&checked).contains("FAIL  Probe"),
        "{}",
        stdout(&checked)
    );

    let good = history_dir(&[v1, probe(&[ID, NOTE_DEFAULT])])
        .display()
        .to_string();
    let second = schemas(&subject, &["register", "--dir", &good]);
    assert!(second.status.success(), "{}", said(&second));
    assert!(stdout(&second).contains("registered Probe v2"));
    let versions = subject
        .get(&format!("/subjects/{}/versions", subject.name()))
        .await;
    assert_eq!(versions, serde_json::json!([1, 2]));
}
