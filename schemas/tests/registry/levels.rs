//! Per-subject compatibility levels, set and obeyed through the `schemas` tool's functions.

use crate::helpers::*;
use orderflow_schemas::CompatibilityLevel as Level;

#[tokio::test]
async fn every_level_accepts_and_rejects_the_right_changes() {
    let base = probe(&[ID, QTY]);
    let add_optional = probe(&[ID, QTY, NOTE_DEFAULT]);
    // A new reader needs a value old data lacks: breaks backward.
    let add_required = probe(&[ID, QTY, EXTRA]);
    // An old reader needs a value new data lacks: breaks forward.
    let remove_required = probe(&[ID]);
    // (level, add_required compatible?, remove_required compatible?)
    let expectations = [
        (Level::None, true, true),
        (Level::Backward, false, true),
        (Level::BackwardTransitive, false, true),
        (Level::Forward, true, false),
        (Level::ForwardTransitive, true, false),
        (Level::Full, false, false),
        (Level::FullTransitive, false, false),
    ];
    for (level, add_ok, remove_ok) in expectations {
        let subject = Subject::new();
        subject
            .register(std::slice::from_ref(&base), level)
            .await
            .unwrap();
        let config = subject.get(&format!("/config/{}", subject.name())).await;
        assert_eq!(config["compatibilityLevel"], level.as_str());
        let compatible = async |candidate: &String| {
            let versions = [base.clone(), candidate.clone()];
            subject.verdict(&versions).await.is_empty()
        };
        assert!(compatible(&add_optional).await, "{level}");
        assert_eq!(compatible(&add_required).await, add_ok, "{level} add");
        assert_eq!(
            compatible(&remove_required).await,
            remove_ok,
            "{level} remove"
        );
    }
}

#[tokio::test]
async fn full_transitive_refuses_with_409_what_only_the_first_version_cannot_read() {
    let subject = Subject::new();
    let v1 = probe(&[ID, QTY]);
    let v2 = probe(&[ID, QTY_DEFAULT]);
    // Fully compatible with v2 (its default fills `qty`), but v1 cannot read it.
    let v3 = probe(&[ID]);
    subject
        .register(std::slice::from_ref(&v1), Level::Full)
        .await
        .unwrap();
    subject
        .register(&[v1.clone(), v2.clone()], Level::Full)
        .await
        .unwrap();

    let three = [v1, v2, v3];
    let refused = subject.register(&three, Level::FullTransitive).await;
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("409"), "{message}");
    let versions = subject
        .get(&format!("/subjects/{}/versions", subject.name()))
        .await;
    assert_eq!(versions, serde_json::json!([1, 2]), "nothing registered");

    subject.register(&three, Level::Full).await.unwrap();
}

#[tokio::test]
async fn backward_transitive_registration_checks_every_version() {
    let subject = Subject::new();
    let v1 = probe(&[ID]);
    let v2 = probe(&[ID, QTY_DEFAULT]);
    // Reads v2's data but not v1's, which has no `qty`.
    let v3 = probe(&[ID, QTY]);
    let level = Level::BackwardTransitive;
    subject
        .register(std::slice::from_ref(&v1), level)
        .await
        .unwrap();
    subject
        .register(&[v1.clone(), v2.clone()], level)
        .await
        .unwrap();
    let three = [v1, v2, v3];
    let refused = subject.register(&three, level).await;
    assert!(refused.unwrap_err().to_string().contains("409"));
    subject.register(&three, Level::Backward).await.unwrap();
}

#[tokio::test]
async fn a_subject_without_a_level_of_its_own_follows_the_global_backward() {
    let subject = Subject::new();
    assert_eq!(
        subject.get("/config").await["compatibilityLevel"],
        "BACKWARD"
    );
    let url = format!(
        "{}/subjects/{}/versions",
        subject.registry.url,
        subject.name()
    );
    let post = |schema: String| {
        let body = serde_json::json!({ "schema": schema });
        let request = subject.registry.authorized(subject.client.post(&url));
        request.json(&body).send()
    };
    assert!(post(probe(&[ID])).await.unwrap().status().is_success());
    let refused = post(probe(&[ID, QTY])).await.unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::CONFLICT);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error_code"], 409);
}

#[tokio::test]
async fn registering_a_schema_again_finds_its_id() {
    let subject = Subject::new();
    let v1 = [probe(&[ID, NOTE_DEFAULT])];
    let id = subject.register(&v1, Level::FullTransitive).await.unwrap();
    assert!(id > 0);
    assert_eq!(
        subject.register(&v1, Level::FullTransitive).await.unwrap(),
        id
    );
    let schema = subject.get(&format!("/schemas/ids/{id}")).await;
    let text = schema["schema"].as_str().expect("the schema text");
    assert!(text.contains("com.orderflow.test"), "{text}");
}
