//! Confluent's own Python client against the dev registry.
//!
//! Not skippable: if the interpreter or `confluent_kafka` is missing the test fails,
//! because a silently skipped compatibility test is how drift goes unnoticed.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const SUBJECT: &str = "orders.events-com.orderflow.events.Probe";

/// `ORDERFLOW_PYTHON`, else the project's venv, else `python3`.
fn python() -> PathBuf {
    if let Some(explicit) = std::env::var_os("ORDERFLOW_PYTHON") {
        return explicit.into();
    }
    if let Some(home) = std::env::var_os("HOME") {
        let venv = PathBuf::from(home).join(".cache/orderflow/venv/bin/python");
        if venv.exists() {
            return venv;
        }
    }
    "python3".into()
}

fn require_confluent_client(python: &Path) {
    let why = match Command::new(python)
        .args(["-c", "import confluent_kafka.schema_registry.avro"])
        .output()
    {
        Ok(output) if output.status.success() => return,
        Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        Err(e) => format!("cannot run it: {e}"),
    };
    panic!(
        "Confluent's Python client is required and missing.\n\
         Interpreter: {} ({why})\n\
         Install it with the project's stack scripts, or create a venv with \
         `pip install 'confluent-kafka[avro,schemaregistry]'` and set ORDERFLOW_PYTHON \
         to its interpreter (default: ~/.cache/orderflow/venv/bin/python, then python3).",
        python.display()
    );
}

#[tokio::test]
async fn confluent_python_client_round_trips_through_the_registry() {
    let python = python();
    require_confluent_client(&python);
    let app = spawn_app().await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python/confluent_client_roundtrip.py");

    // The registry runs on this test's runtime, so the blocking child process must not.
    let address = app.address.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(&python).arg(&script).arg(&address).output()
    })
    .await
    .unwrap()
    .expect("spawn the Python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "Python client failed ({}).\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let summary: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("summary is not JSON ({e}): {stdout}"));

    // What the client saw must be what the registry reports.
    let v1 = app.get(&format!("/subjects/{SUBJECT}/versions/1")).await;
    assert_eq!(
        expect_json(v1, StatusCode::OK).await["id"],
        summary["v1_id"]
    );
    let latest = expect_json(
        app.get(&format!("/subjects/{SUBJECT}/versions/latest"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(latest["id"], summary["v2_id"]);
    assert_eq!(latest["version"], summary["latest_version"]);
    assert_ne!(summary["v1_id"], summary["v2_id"]);
    let versions = expect_json(
        app.get(&format!("/subjects/{SUBJECT}/versions")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(versions, summary["versions"]);
    assert_eq!(versions, json!([1, 2]));
    let level = expect_json(app.get(&format!("/config/{SUBJECT}")).await, StatusCode::OK).await;
    assert_eq!(level["compatibilityLevel"], summary["compatibility"]);
    assert_eq!(summary["incompatible_status"], json!([409, 409]));
    assert_eq!(
        summary["decoded"],
        json!({"order_id": "o-1", "quantity": 3, "note": "fragile"})
    );
}
