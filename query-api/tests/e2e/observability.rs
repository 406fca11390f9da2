//! deploy/observability/ against the real tools of Debian's `prometheus` package: promtool
//! checks both scrape configs and the alert rules and runs the rules' unit tests; the rules
//! and the dashboard name only series the services export and parse as PromQL; and a real
//! Prometheus server scrapes a running stack, sees its series move and evaluates every rule.
//! Without the package the tests say so loudly and pass, except under CI, where they fail.

mod prometheus;

use crate::stack::Stack;
use prometheus::Prometheus;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use uuid::Uuid;

/// The series of docs/operations.md ("Metrics") that are counters or gauges.
const SERIES: &[&str] = &[
    "orderflow_build_info",
    "orderflow_http_requests_total",
    "orderflow_http_requests_shed_total",
    "orderflow_commands_total",
    "orderflow_commands_forwarded_total",
    "orderflow_replay_partitions",
    "orderflow_replay_events_total",
    "orderflow_aggregates",
    "orderflow_producer_queue_messages",
    "orderflow_log_partition_ready",
    "orderflow_projector_events_total",
    "orderflow_projector_cache_writes_total",
    "orderflow_projector_cache_pending",
    "orderflow_projector_consumer_lag_records",
    "orderflow_projector_last_event_timestamp_seconds",
    "orderflow_projector_seconds_since_last_event",
    "orderflow_projector_partitions_assigned",
    "orderflow_projector_partitions_ahead_of_log",
    "orderflow_projector_ready",
    "orderflow_projector_stalled_partitions",
    "orderflow_projector_live_generation",
    "orderflow_projector_rebuild_events_total",
    "orderflow_projector_rebuild_progress_ratio",
    "orderflow_query_cache_requests_total",
    "orderflow_query_waits_total",
    "orderflow_query_db_pool_connections",
    "orderflow_query_db_pool_max_connections",
    "orderflow_notifier_records_total",
    "orderflow_notifier_notices_total",
    "orderflow_notifier_deliveries_queued_total",
    "orderflow_notifier_deliveries_total",
    "orderflow_notifier_deliveries",
    "orderflow_notifier_oldest_due_seconds",
    "orderflow_fulfilment_sagas_open",
    "orderflow_fulfilment_sagas_stuck",
    "orderflow_fulfilment_steps_total",
    "orderflow_fulfilment_ignored_total",
    "orderflow_dependency_up",
];

/// The histograms among them: queried through their `_bucket`, `_count` and `_sum` series.
const HISTOGRAMS: &[&str] = &[
    "orderflow_http_request_duration_seconds",
    "orderflow_command_append_seconds",
    "orderflow_projector_batch_records",
    "orderflow_projector_batch_duration_seconds",
    "orderflow_projector_commit_duration_seconds",
    "orderflow_query_wait_duration_seconds",
];

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/observability")
}

fn read(relative: &str) -> String {
    let path = deploy_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `name` from the PATH, or `None` after a loud note when it is missing outside CI.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is not installed: Debian's prometheus package (scripts/lib.sh, install_prometheus)"
        );
        // Straight to stderr: the test harness captures eprintln! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: {name} is not installed (apt-get install prometheus; scripts/test.sh does)"
        );
    }
    found
}

/// Runs promtool in deploy/observability/, failing with its output unless it succeeds.
fn promtool(args: &[&str]) {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let out = Command::new(promtool)
        .args(args)
        .current_dir(deploy_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `orderflow_*` names in `text`, each with `_bucket`, `_count` or `_sum` of a histogram
/// taken off.
fn metric_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in text.match_indices("orderflow_") {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let base = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| HISTOGRAMS.contains(base))
            .map(str::to_owned);
        names.push(base.unwrap_or(name));
    }
    names
}

fn assert_exported(names: &[String], source: &str) {
    for name in names {
        assert!(
            SERIES.contains(&name.as_str()) || HISTOGRAMS.contains(&name.as_str()),
            "{source} names {name}, which no service exports (docs/operations.md, Metrics)"
        );
    }
}

/// The rules of alerts.yml: each alert's name and its lines.
fn alerts() -> Vec<(String, String)> {
    let rules = read("alerts.yml");
    let mut alerts: Vec<(String, String)> = Vec::new();
    for line in rules.lines() {
        if let Some(name) = line.trim().strip_prefix("- alert: ") {
            alerts.push((name.to_owned(), String::new()));
        } else if let Some((_, body)) = alerts.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    assert!(alerts.len() >= 10, "alerts.yml: {} alerts", alerts.len());
    alerts
}

#[test]
fn promtool_accepts_both_scrape_configs_and_the_alert_rules() {
    promtool(&["check", "config", "prometheus.yml"]);
    promtool(&["check", "config", "prometheus.compose.yml"]);
    promtool(&["check", "rules", "alerts.yml"]);
}

#[test]
fn every_alert_fires_and_stays_quiet_in_the_unit_tests_of_the_rules() {
    promtool(&["test", "rules", "alerts.test.yml"]);
    // promtool passes an alert no test names: each one needs a case of both kinds.
    let tests = read("alerts.test.yml");
    let lines: Vec<&str> = tests.lines().map(str::trim).collect();
    for (alert, _) in alerts() {
        let cases: Vec<&str> = lines
            .windows(3)
            .filter(|w| w[0] == format!("alertname: {alert}"))
            .map(|w| {
                if w[1] == "exp_alerts: []" {
                    "quiet"
                } else {
                    w[2]
                }
            })
            .collect();
        assert!(cases.contains(&"quiet"), "no test of {alert} staying quiet");
        assert!(
            cases.contains(&"- exp_labels:"),
            "no test of {alert} firing"
        );
    }
}

#[test]
fn every_alert_has_a_severity_and_a_section_of_the_operations_guide() {
    let guide = std::fs::read_to_string(deploy_dir().join("../../docs/operations.md")).unwrap();
    for (alert, body) in alerts() {
        assert!(
            body.contains("severity: critical") || body.contains("severity: warning"),
            "{alert} has no severity"
        );
        for annotation in ["summary: ", "description: "] {
            assert!(body.contains(annotation), "{alert} has no {annotation}");
        }
        let runbook = format!("runbook: \"docs/operations.md#{}\"", alert.to_lowercase());
        assert!(body.contains(&runbook), "{alert}: expected {runbook}");
        assert!(
            guide.lines().any(|l| l == format!("### {alert}")),
            "docs/operations.md has no section `### {alert}`"
        );
    }
    assert_exported(&metric_names(&read("alerts.yml")), "alerts.yml");
}

/// The PromQL of every panel of the dashboard, its Grafana variables replaced by durations.
fn dashboard_queries() -> Vec<String> {
    let dashboard: Value =
        serde_json::from_str(&read("grafana/dashboards/orderflow.json")).expect("dashboard JSON");
    let datasource = read("grafana/provisioning/datasources/prometheus.yml");
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let uid = target["datasource"]["uid"].as_str().unwrap();
            assert!(datasource.contains(&format!("uid: {uid}")), "{panel}");
            let expr = target["expr"].as_str().expect("an expr");
            queries.push(
                expr.replace("$__rate_interval", "1m")
                    .replace("$__range", "1h"),
            );
        }
    }
    assert!(queries.len() >= 20, "{} queries", queries.len());
    queries
}

#[test]
fn the_dashboard_queries_parse_and_name_only_series_the_services_export() {
    let queries = dashboard_queries();
    for query in &queries {
        assert_exported(&metric_names(query), "the dashboard");
    }
    // promtool parses PromQL only in rule files: each query becomes a recording rule.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, query) in queries.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: panel_{i}\n        expr: {}\n",
            json!(query)
        ));
    }
    let file = std::env::temp_dir().join(format!("orderflow-dashboard-{}.yml", Uuid::new_v4()));
    std::fs::write(&file, rules).unwrap();
    promtool(&["check", "rules", file.to_str().unwrap()]);
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn a_real_prometheus_scrapes_every_service_and_sees_the_series_move() {
    let Some(binary) = tool("prometheus") else {
        return;
    };
    let stack = Stack::start().await;
    let fulfilment = stack.start_fulfilment().await;
    let targets = [
        ("command-service", stack.commands_url()),
        ("projector", stack.projector_url()),
        ("query-api", stack.queries_url()),
        ("notifier", stack.notifier_url()),
        ("fulfilment", fulfilment.url()),
    ];
    let rules = deploy_dir().join("alerts.yml");
    let prometheus = Prometheus::start(&binary, &rules, &targets).await;
    prometheus
        .until_at_least(
            r#"sum(up{job=~"command-service|projector|query-api|notifier|fulfilment"})"#,
            5.0,
        )
        .await;
    // The services of one process share its recorder, and other tests' traffic counts too:
    // the counters move by at least this test's own.
    let moving = [
        (
            r#"sum(orderflow_commands_total{job="command-service", command="place", outcome="accepted"})"#,
            5.0,
        ),
        (
            r#"sum(orderflow_commands_total{job="command-service", command="pack", outcome="rejected", reason="not_found"})"#,
            1.0,
        ),
        (
            r#"sum(orderflow_projector_events_total{job="projector", outcome="applied"})"#,
            10.0,
        ),
        (
            r#"sum(orderflow_http_requests_total{job="query-api", method="GET", route="/orders/{id}", status="200"})"#,
            10.0,
        ),
        (
            r#"sum(orderflow_http_requests_total{job="command-service", method="POST", route="/orders/{id}/pack", status="404"})"#,
            1.0,
        ),
    ];
    let mut before = Vec::new();
    for (series, _) in moving {
        before.push(prometheus.value(series).await);
    }

    when_orders_are_placed_packed_and_read(&stack, 5).await;

    for ((series, by), before) in moving.into_iter().zip(before) {
        prometheus.until_at_least(series, before + by).await;
    }
    // Series the alerts and the dashboard read: present once traffic has flowed, histograms
    // with their buckets (the quantiles need them).
    for series in [
        r#"count(count by (job) (orderflow_build_info{job=~"command-service|projector|query-api|notifier|fulfilment"}))"#,
        r#"count(orderflow_http_request_duration_seconds_bucket{job="command-service", method="POST", le="0.05"})"#,
        r#"count(orderflow_command_append_seconds_bucket{job="command-service"})"#,
        r#"count(orderflow_replay_partitions{job="command-service", state="total"})"#,
        r#"count(orderflow_dependency_up{job="command-service", dependency="kafka"})"#,
        r#"count(orderflow_projector_batch_records_bucket{job="projector"})"#,
        r#"count(orderflow_projector_commit_duration_seconds_bucket{job="projector"})"#,
        r#"count(orderflow_projector_consumer_lag_records{job="projector"})"#,
        r#"count(orderflow_projector_seconds_since_last_event{job="projector"})"#,
        r#"count(orderflow_projector_partitions_assigned{job="projector"})"#,
        r#"count(orderflow_query_cache_requests_total{job="query-api"})"#,
        r#"count(orderflow_query_db_pool_max_connections{job="query-api"})"#,
        r#"count(orderflow_notifier_records_total{job="notifier", outcome="accepted"})"#,
        r#"count(orderflow_notifier_oldest_due_seconds{job="notifier"})"#,
        r#"count(orderflow_dependency_up{job="notifier", dependency="postgres"})"#,
        r#"count(orderflow_fulfilment_sagas_stuck{job="fulfilment"})"#,
    ] {
        prometheus.until_at_least(series, 1.0).await;
    }
    then_every_alert_rule_evaluates_without_error(&prometheus).await;
}

/// Places `orders` orders, packs each and reads it back, and packs one that does not exist.
async fn when_orders_are_placed_packed_and_read(stack: &Stack, orders: usize) {
    for i in 0..orders {
        let order = json!({
            "customer_id": format!("cust-obs-{i}"),
            "items": [{"product_id": "sku-1", "quantity": 1, "unit_price": "9.99"}],
            "shipping_address": "1 Main St",
        });
        let placed = stack.command("/orders", &order).await;
        let id = placed["order_id"].as_str().unwrap();
        let pack = json!({"warehouse": "AMS-1"});
        stack.command(&format!("/orders/{id}/pack"), &pack).await;
        stack.read_own_write(id, 2).await;
        stack.query(&format!("/orders/{id}")).await;
    }
    let missing = format!("{}/orders/{}/pack", stack.commands_url(), Uuid::new_v4());
    let answer = stack
        .client
        .post(missing)
        .json(&json!({"warehouse": "AMS-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
}

/// Prometheus evaluates alerts.yml over the real series: no rule fails (a vector matching
/// that is not one-to-one, say, shows only there, not in promtool's synthetic tests).
async fn then_every_alert_rule_evaluates_without_error(prometheus: &Prometheus) {
    assert_eq!(prometheus.failed_rules().await, Vec::<String>::new());
}
