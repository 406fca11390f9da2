//! The projector's `/metrics`: what a projected log moves. One recorder serves the whole
//! test process, and other tests project at the same time, so counters read on `/metrics`
//! are compared as deltas of at least what this projector did; the per-partition and
//! state gauges, which every projector sets, are read from a recorder of the test's own.

use crate::helpers::{
    PARTITIONS, Stack, TestProjector, event, order_id, order_ids_in_each_partition, packed, placed,
    spawn_projector, wait_until,
};
use metrics_exporter_prometheus::PrometheusBuilder;
use orderflow_domain::EventKind;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const EVENTS: &str = "orderflow_projector_events_total";

#[tokio::test]
async fn projected_events_move_the_counters_by_outcome_and_reason_and_fill_the_batch_histograms() {
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    projector.wait_ready().await;
    let before = Scrape::of(&projector).await;

    given_applied_ignored_and_poison_records(&mut stack).await;
    stack.wait_projected().await;

    let status = projector.status().await;
    assert_eq!(
        (status["applied"].as_f64(), status["ignored"].as_f64()),
        (Some(3.0), Some(1.0)),
        "{status}"
    );
    // (outcome, reason, at least): a batch is recorded just after the commit the stored
    // offsets show, once its orders are handed to the cache writer.
    let expected = [
        ("applied", "", 3.0),
        ("ignored", "version_conflict", 1.0),
        ("dead_lettered", "malformed", 1.0),
        ("dead_lettered", "key_mismatch", 1.0),
        ("dead_lettered", "transition_not_allowed", 1.0),
    ];
    let moved = |after: &Scrape, outcome: &str, reason: &str| {
        let labels = [("outcome", outcome), ("reason", reason)];
        after.value(EVENTS, &labels) - before.value(EVENTS, &labels)
    };
    wait_until(
        "the events counted by outcome and reason",
        Duration::from_secs(30),
        || async {
            let after = Scrape::of(&projector).await;
            expected
                .iter()
                .all(|(o, r, at_least)| moved(&after, o, r) >= *at_least)
        },
    )
    .await;
    let after = Scrape::of(&projector).await;
    for histogram in [
        "orderflow_projector_batch_records",
        "orderflow_projector_batch_duration_seconds",
        "orderflow_projector_commit_duration_seconds",
    ] {
        let count = format!("{histogram}_count");
        assert!(
            after.value(&count, &[]) > before.value(&count, &[]),
            "{histogram} counted the batches"
        );
    }
    let records = "orderflow_projector_batch_records_sum";
    assert!(after.value(records, &[]) - before.value(records, &[]) >= 7.0);
    projector.shutdown().await;
}

#[tokio::test]
async fn every_partition_reports_its_lag_which_is_zero_once_caught_up() {
    // Every test's projector has partitions 0 to 2, so this one reads what its own
    // projector records, in a recorder of its own: the test's runtime runs the
    // projector's tasks on this thread, where the local recorder takes precedence.
    let recorder = PrometheusBuilder::new().build_recorder();
    let own = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let mut stack = Stack::start().await;
    let projector = spawn_projector(stack.settings()).await;
    projector.wait_ready().await;
    let appended_at = unix_seconds();
    for ids in order_ids_in_each_partition(1) {
        stack
            .append(&[event(&ids[0], 1, 0, placed(&[("sku-1", 1, "10")]))])
            .await;
    }
    stack.wait_projected().await;

    // The lag reporter looks every 10 s.
    let lag_of = |scrape: &Scrape, p: i32| {
        let partition = p.to_string();
        scrape.get(
            "orderflow_projector_consumer_lag_records",
            &[("partition", partition.as_str())],
        )
    };
    // The reporter sets a partition's seconds since its last event once it has seen one
    // committed, which may be a report after the lag first reads 0.
    let since_of = |scrape: &Scrape, p: i32| {
        let partition = p.to_string();
        scrape.get(
            "orderflow_projector_seconds_since_last_event",
            &[("partition", partition.as_str())],
        )
    };
    wait_until(
        "every partition's lag is 0 and its last event timed",
        Duration::from_secs(60),
        || {
            let scrape = Scrape::from(own.render());
            async move {
                (0..PARTITIONS)
                    .all(|p| lag_of(&scrape, p) == Some(0.0) && since_of(&scrape, p).is_some())
            }
        },
    )
    .await;
    let scrape = Scrape::from(own.render());
    for p in 0..PARTITIONS {
        let partition = p.to_string();
        let labels = [("partition", partition.as_str())];
        let newest = scrape.get("orderflow_projector_last_event_timestamp_seconds", &labels);
        assert!(
            newest.is_some_and(|t| t >= appended_at - 1.0 && t <= unix_seconds()),
            "partition {p}'s newest event was appended just now, not at {newest:?}"
        );
        let since = scrape.get("orderflow_projector_seconds_since_last_event", &labels);
        assert!(
            since.is_some_and(|s| (0.0..=60.0).contains(&s)),
            "partition {p}'s newest event is recent: {since:?}"
        );
    }
    then_the_state_gauges_say_ready_and_connected(&scrape);
    projector.shutdown().await;
}

#[tokio::test]
async fn a_rebuild_counts_its_own_records_and_reports_its_progress() {
    let mut stack = Stack::start().await;
    let settings = stack.settings();
    let projector = spawn_projector(settings.clone()).await;
    projector.wait_ready().await;
    given_applied_ignored_and_poison_records(&mut stack).await;
    stack.wait_projected().await;
    let before = Scrape::of(&projector).await;

    let report = crate::rebuild::rebuilt(&settings, false).await;
    assert!(report.switched, "{report:?}");
    let after = Scrape::of(&projector).await;
    let rebuilt = "orderflow_projector_rebuild_events_total";
    assert!(
        after.value(rebuilt, &[]) - before.value(rebuilt, &[]) >= report.records as f64,
        "the rebuild's {} records are counted",
        report.records
    );
    let progress = after.get("orderflow_projector_rebuild_progress_ratio", &[]);
    assert!(
        progress.is_some_and(|p| (0.0..=1.0).contains(&p)),
        "{progress:?}"
    );
    projector.shutdown().await;
}

/// Seven records: an order placed and packed and another placed (applied), the packing
/// appended again (ignored), a delivery that skips shipping, a record that is not an event
/// and a valid event filed under another key (dead-lettered).
async fn given_applied_ignored_and_poison_records(stack: &mut Stack) {
    let (a, b) = (order_id(), order_id());
    stack
        .append(&[
            event(&a, 1, 0, placed(&[("sku-1", 1, "10")])),
            event(&a, 2, 1, packed()),
            event(&a, 2, 2, packed()),
            event(&a, 3, 3, EventKind::Delivered),
            event(&b, 1, 4, placed(&[("sku-2", 2, "4")])),
        ])
        .await;
    stack.produce(b"not-an-order", b"\x01garbage").await;
    let misfiled = stack
        .codec
        .encode(&event(&order_id(), 1, 5, placed(&[("sku-3", 1, "1")])))
        .await
        .unwrap();
    stack.produce(b"someone-else", &misfiled).await;
}

/// What a ready projector that owns every partition and wrote through to Redis says.
fn then_the_state_gauges_say_ready_and_connected(scrape: &Scrape) {
    for dependency in ["kafka", "postgres", "redis"] {
        let up = scrape.get("orderflow_dependency_up", &[("dependency", dependency)]);
        assert_eq!(up, Some(1.0), "{dependency} is up");
    }
    for (gauge, value) in [
        ("orderflow_projector_ready", 1.0),
        (
            "orderflow_projector_partitions_assigned",
            f64::from(PARTITIONS),
        ),
        ("orderflow_projector_partitions_ahead_of_log", 0.0),
        ("orderflow_projector_stalled_partitions", 0.0),
        ("orderflow_projector_cache_pending", 0.0),
        ("orderflow_projector_live_generation", 1.0),
    ] {
        assert_eq!(scrape.get(gauge, &[]), Some(value), "{gauge}");
    }
    let cache_ok = scrape.get(
        "orderflow_projector_cache_writes_total",
        &[("result", "ok")],
    );
    assert!(cache_ok.is_some_and(|n| n >= 1.0), "{cache_ok:?}");
}

fn unix_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// One scrape of `/metrics`, in the Prometheus text format.
struct Scrape {
    body: String,
}

impl From<String> for Scrape {
    fn from(body: String) -> Scrape {
        Scrape { body }
    }
}

impl Scrape {
    async fn of(projector: &TestProjector) -> Scrape {
        let response = reqwest::get(format!("{}/metrics", projector.address))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        Scrape {
            body: response.text().await.unwrap(),
        }
    }

    /// The sample of `name` whose labels include `labels`, if there is one.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.body
            .lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (series_name, series_labels) = match series.split_once('{') {
                    Some((n, rest)) => (n, rest.trim_end_matches('}')),
                    None => (series, ""),
                };
                let all = labels.iter().all(|(k, v)| has_label(series_labels, k, v));
                (series_name == name && all).then(|| value.parse().ok())?
            })
    }

    /// The sample's value, 0 when it is not there yet.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or(0.0)
    }
}

/// Whether a series' label text (`a="x",b="y"`) holds `key="value"`.
fn has_label(labels: &str, key: &str, value: &str) -> bool {
    labels
        .split(',')
        .any(|pair| pair == format!("{key}=\"{value}\""))
}
