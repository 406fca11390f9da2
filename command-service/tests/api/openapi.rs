//! The OpenAPI document: served without a token, equal to the checked-in
//! `docs/openapi/command-api.json`, valid OpenAPI 3.1, complete.
//!
//! Regenerate the checked-in document after changing the API:
//! `ORDERFLOW_UPDATE_OPENAPI=1 cargo test -p orderflow-command-service --test api openapi`.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::Value;
use std::path::PathBuf;

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi/command-api.json")
}

fn document() -> Value {
    serde_json::to_value(orderflow_command_service::openapi()).unwrap()
}

#[tokio::test]
async fn the_served_document_equals_the_checked_in_one() {
    let app = spawn_app().await;
    // No token: the document is open, like the probes.
    let response = reqwest::get(app.url("/openapi.json")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let served: Value = response.json().await.unwrap();
    let path = checked_in_path();
    if std::env::var_os("ORDERFLOW_UPDATE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&served).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        return;
    }
    let checked_in: Option<Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    assert!(
        checked_in.as_ref() == Some(&served),
        "{} differs from the served /openapi.json; regenerate it with \
         `ORDERFLOW_UPDATE_OPENAPI=1 cargo test -p orderflow-command-service --test api openapi` \
         and review the diff",
        path.display()
    );
}

#[test]
fn the_document_parses_as_openapi_3_1() {
    let json = serde_json::to_string(&document()).unwrap();
    let spec = oas3::from_json(json).expect("an OpenAPI 3.1 document");
    assert_eq!(spec.openapi, "3.1.0");
    assert!(spec.validate_version().is_ok());
}

/// Every `$ref` names something in `components`.
#[test]
fn every_reference_resolves() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r.strip_prefix('#').expect("a local reference");
        assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The routes of the router, by method and path.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/orders"),
    ("get", "/orders/{id}"),
    ("post", "/orders/{id}/pack"),
    ("post", "/orders/{id}/ship"),
    ("post", "/orders/{id}/location"),
    ("post", "/orders/{id}/deliver"),
    ("post", "/orders/{id}/cancel"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/docs/redoc.standalone.js"),
];

fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op));
        }
    }
    out
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let doc = document();
    let mut documented: Vec<_> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let mut routes: Vec<_> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    routes.sort();
    assert_eq!(documented, routes);
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = spawn_app().await;
    for (method, path) in ROUTES {
        let url = app.url(&path.replace("{id}", "no-such-order"));
        let request = match *method {
            "post" => app.client.post(&url).json(&serde_json::json!({})),
            _ => app.client.get(&url),
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        // The fallback's 404 says "not-found"; a missing order says "order-not-found".
        assert_ne!(body["type"], "/problems/not-found", "{method} {path}");
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
}

#[test]
fn every_operation_documents_its_errors_as_problem_json() {
    let doc = document();
    let common = ["503"];
    let authenticated = ["400", "401", "403", "429"];
    let with_body = ["408", "409", "413", "415", "422"];
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        let secured = op.get("security").is_some();
        let mut expected: Vec<&str> = common.to_vec();
        if secured {
            expected.extend(authenticated);
        }
        if method == "post" {
            expected.extend(with_body);
        }
        if path.contains("{id}") {
            expected.push("404");
        }
        if path.starts_with("/orders/{id}/") {
            expected.push("412");
        }
        for status in expected {
            let response = responses
                .get(status)
                .unwrap_or_else(|| panic!("{method} {path} lacks {status}"));
            // A shared response by reference, or the platform's routes' own.
            let shared = match response["$ref"].as_str() {
                Some(name) => doc.pointer(&name[1..]).unwrap(),
                None => response,
            };
            assert_eq!(
                shared["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
        }
    }
    let retry_after = &doc["components"]["responses"]["ServiceUnavailable"]["headers"];
    assert!(retry_after.get("Retry-After").is_some());
    let challenge = &doc["components"]["responses"]["Unauthorized"]["headers"];
    assert!(challenge.get("WWW-Authenticate").is_some());
}

#[test]
fn commands_need_a_bearer_jwt_and_the_probes_do_not() {
    let doc = document();
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    for (method, path, op) in operations(&doc) {
        let secured = op.get("security").is_some();
        assert_eq!(secured, path.starts_with("/orders"), "{method} {path}");
    }
}

#[test]
fn placing_links_to_the_transitions_by_the_answered_order_id() {
    let doc = document();
    let links = &doc["paths"]["/orders"]["post"]["responses"]["201"]["links"];
    for target in ["pack_order", "cancel_order", "inspect_order"] {
        assert_eq!(links[target]["operationId"], target);
        assert_eq!(
            links[target]["parameters"]["id"],
            "$response.body#/order_id"
        );
    }
    let ids: Vec<_> = operations(&doc)
        .iter()
        .filter_map(|(_, _, op)| op["operationId"].as_str().map(str::to_owned))
        .collect();
    let mut all_links = Vec::new();
    for (_, _, op) in operations(&doc) {
        for response in op["responses"].as_object().unwrap().values() {
            if let Some(links) = response.get("links").and_then(Value::as_object) {
                all_links.extend(links.values().cloned());
            }
        }
    }
    for link in all_links {
        let target = link["operationId"].as_str().unwrap();
        assert!(
            ids.iter().any(|id| id == target),
            "link to unknown {target}"
        );
    }
    let shipped = &doc["paths"]["/orders/{id}/ship"]["post"]["responses"]["200"]["links"];
    assert!(shipped.get("deliver_order").is_some());
}
