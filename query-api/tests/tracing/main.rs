//! One command's trace over the whole stack, exported over OTLP to a collector in this
//! test: the caller's `traceparent` reaches the command service's HTTP span, the event's
//! record in Kafka, and the projector's batch span and its cache write.
//!
//! A test binary of its own: the test traces the services with a dispatcher of its own
//! (`set_default` on its thread), and other tests of the same process, running their
//! services on other threads under the global dispatcher, left the worker's span without
//! that dispatcher's context now and then (no `traceparent` on the record). Alone in its
//! process, as every service is in production, the test sees what a service does.

// The e2e suite's stack; this binary uses only part of it.
#[allow(dead_code)]
#[path = "../e2e/stack.rs"]
mod stack;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use orderflow_platform::telemetry::{Telemetry, TelemetrySettings, record_trace};
use orderflow_platform::{ReadToEnd, whole_partitions};
use prost::Message as _;
use rdkafka::Message as _;
use reqwest::StatusCode;
use serde_json::json;
use stack::Stack;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// An OTLP/HTTP collector on port 0 that keeps every span it is sent.
struct Collector {
    url: String,
    spans: Arc<Mutex<Vec<Span>>>,
}

impl Collector {
    async fn start() -> Collector {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(spans.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector { url, spans }
    }

    /// The spans received so far with `name`.
    fn named(&self, name: &str) -> Vec<Span> {
        let spans = self.spans.lock().unwrap();
        spans.iter().filter(|s| s.name == name).cloned().collect()
    }
}

async fn receive(State(spans): State<Arc<Mutex<Vec<Span>>>>, body: Bytes) -> Vec<u8> {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
    let received = (request.resource_spans.into_iter())
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans);
    spans.lock().unwrap().extend(received);
    ExportTraceServiceResponse::default().encode_to_vec()
}

/// Whether `span` belongs to the trace `trace_id` or links to it.
fn follows(span: &Span, trace_id: &[u8]) -> bool {
    span.trace_id == trace_id || span.links.iter().any(|l| l.trace_id == trace_id)
}

#[tokio::test]
async fn one_commands_trace_id_runs_from_its_request_through_its_record_into_the_projection() {
    let collector = Collector::start().await;
    let settings = TelemetrySettings {
        otlp_endpoint: Some(collector.url.clone()),
        service_name: "orderflow-e2e".into(),
        json: false,
        filter: Some("info".into()),
    };
    let telemetry = Telemetry::new(&settings).unwrap();
    // The services run as tasks of this test's single-threaded runtime: a subscriber for
    // this thread traces them all, whatever another test installed globally.
    let _traced = ::tracing::dispatcher::set_default(&telemetry.dispatch(&settings));
    let stack = Stack::start().await;

    let trace_id = Uuid::new_v4().simple().to_string();
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let body = json!({"customer_id": "c-traced", "shipping_address": "1 Main St",
        "items": [{"product_id": "sku-1", "quantity": 1, "unit_price": "9.99"}]});
    let response = (stack.client)
        .post(format!("{}/orders", stack.commands_url()))
        .header("traceparent", &traceparent)
        .header("x-correlation-id", "corr-traced-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()["x-correlation-id"],
        "corr-traced-1",
        "the correlation id is echoed"
    );
    let placed: serde_json::Value = response.json().await.unwrap();
    let order_id = placed["order_id"].as_str().unwrap().to_owned();
    stack.read_own_write(&order_id, 1).await;

    let record_trace_id = traced_record(&stack, &order_id).await;
    assert_eq!(record_trace_id, trace_id, "the record's traceparent");

    let trace = hex(&trace_id);
    let (batch, cache_write) = wait_for_projection(&collector, &telemetry, &trace).await;
    let server = collector.named("POST /orders");
    assert!(
        server.iter().any(|s| s.trace_id == trace),
        "the HTTP span is in the caller's trace: {server:?}"
    );
    let command = (collector.named("command").into_iter())
        .find(|s| s.trace_id == trace)
        .expect("the worker's span (decide, append, read back) is in the trace");
    assert!(
        server.iter().any(|s| s.span_id == command.parent_span_id),
        "the worker's span is the HTTP span's child"
    );
    assert!(follows(&batch, &trace), "{batch:?}");
    assert_eq!(
        cache_write.parent_span_id, batch.span_id,
        "the cache write is the batch's"
    );
}

/// The trace id (hex) in the `traceparent` header of the record of `order_id`.
async fn traced_record(stack: &Stack, order_id: &str) -> String {
    let log = &stack.projector.log;
    let spans = whole_partitions(log.partitions);
    let group = [("group.id", "orderflow-tests")];
    let reader = ReadToEnd::open(
        &stack.projector.kafka,
        &group,
        &log.topic,
        &spans,
        Duration::from_secs(30),
    );
    let records = reader.unwrap().collect().await.unwrap();
    let record = (records.iter())
        .find(|m| m.key() == Some(order_id.as_bytes()))
        .expect("the order's record");
    let headers = record.headers().expect("the record has headers");
    let trace = record_trace(headers).expect("a valid traceparent header");
    trace.trace_id().to_string()
}

/// The projector's batch span that follows `trace`, and its cache write, once exported.
async fn wait_for_projection(
    collector: &Collector,
    telemetry: &Telemetry,
    trace: &[u8],
) -> (Span, Span) {
    for _ in 0..100 {
        // Off this thread: the collector answering the export is a task of this runtime.
        let flushing = telemetry.clone();
        tokio::task::spawn_blocking(move || flushing.flush())
            .await
            .unwrap();
        let batch = collector
            .named("project batch")
            .into_iter()
            .find(|s| follows(s, trace));
        if let Some(batch) = batch {
            let writes = collector.named("cache write");
            if let Some(write) = writes
                .into_iter()
                .find(|w| w.parent_span_id == batch.span_id)
            {
                return (batch, write);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no batch span following the trace, with its cache write, was exported");
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}
