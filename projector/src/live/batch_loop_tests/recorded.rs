//! What a batch loop records in the metrics: a committed batch once, by outcome and
//! reason; a rolled-back attempt never; a rebuild's batches only as the rebuild's.

use super::{Given, Staging, given_stored, of, placements, unreadable};
use crate::fold::tests::{packed, placed};
use crate::live::test_ports::{UNKNOWN_ID, World};
use orderflow_domain::EventKind;
use orderflow_schemas::CodecError;
use std::sync::Arc;

/// What handling `batch` records in a recorder of its own, in the Prometheus text format.
async fn metrics_of(given: Given, batch: Vec<Staging>) -> String {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    // The test's runtime runs every task on this thread.
    let _local = metrics::set_default_local_recorder(&recorder);
    given.when_handling(batch).await;
    handle.render()
}

#[tokio::test]
async fn a_committed_batch_is_counted_once_by_outcome_and_reason_with_its_sizes() {
    let placement = of((0, 0), "a", 1, placed(&[("sku-1", 1, "10")]));
    let again = of((0, 1), "a", 1, placed(&[("sku-1", 1, "10")]));
    let forbidden = of((0, 2), "a", 2, EventKind::Delivered);
    let undecodable = unreadable((0, 3), CodecError::Malformed("not Avro".into()));
    let batch = vec![placement, again, forbidden, undecodable];
    let rendered = metrics_of(given_stored(&[(0, 0)]), batch).await;
    for line in [
        r#"orderflow_projector_events_total{outcome="applied",reason=""} 1"#,
        r#"orderflow_projector_events_total{outcome="ignored",reason="version_conflict"} 1"#,
        r#"orderflow_projector_events_total{outcome="dead_lettered",reason="transition_not_allowed"} 1"#,
        r#"orderflow_projector_events_total{outcome="dead_lettered",reason="malformed"} 1"#,
        "orderflow_projector_batch_records_sum 4",
        "orderflow_projector_batch_records_count 1",
        "orderflow_projector_batch_duration_seconds_count 1",
        "orderflow_projector_commit_duration_seconds_count 1",
    ] {
        assert!(
            rendered.lines().any(|l| l == line),
            "{line} in:\n{rendered}"
        );
    }
}

#[tokio::test]
async fn a_batch_is_counted_only_by_the_attempt_that_commits_never_by_one_rolled_back() {
    let placement = of((0, 0), "a", 1, placed(&[("sku-1", 1, "10")]));
    let undecodable = unreadable((0, 1), CodecError::Malformed("not Avro".into()));
    let refused = given_stored(&[(0, 0)]).dead_letters_down();
    let rendered = metrics_of(refused, vec![placement.clone(), undecodable]).await;
    assert!(
        !rendered.contains("orderflow_projector_events_total"),
        "{rendered}"
    );
    assert!(
        !rendered.contains("orderflow_projector_batch_records"),
        "{rendered}"
    );

    let (record, known) = of((0, 1), "a", 2, packed());
    let waited = (record, Err(CodecError::UnknownSchema { id: UNKNOWN_ID }));
    let answers = vec![Err(CodecError::UnknownSchema { id: UNKNOWN_ID }), known];
    let retried = given_stored(&[(0, 0)]).registry(answers, 99);
    let rendered = metrics_of(retried, vec![placement, waited]).await;
    for line in [
        r#"orderflow_projector_events_total{outcome="applied",reason=""} 2"#,
        "orderflow_projector_batch_records_count 1",
    ] {
        assert!(
            rendered.lines().any(|l| l == line),
            "{line} in:\n{rendered}"
        );
    }
}

#[tokio::test]
async fn a_rebuild_counts_its_records_as_its_own_never_as_the_live_projectors() {
    let world = Arc::new(World {
        health: Arc::new(crate::health::Health::rebuild()),
        ..World::default()
    });
    let given = Given {
        world,
        lane: vec![(0, 0)],
    };
    let rendered = metrics_of(given, placements(0..3)).await;
    assert!(
        rendered
            .lines()
            .any(|l| l == "orderflow_projector_rebuild_events_total 3"),
        "{rendered}"
    );
    assert!(
        !rendered.contains("orderflow_projector_events_total"),
        "{rendered}"
    );
    assert!(
        !rendered.contains("orderflow_projector_batch_"),
        "{rendered}"
    );
}
