//! The OpenAPI 3.1 document of the fulfilment service's stock API, generated from the
//! handlers' annotations, served at `/openapi.json` with a Redoc page at `/docs` (both by
//! `orderflow_platform::docs_page`, as for the other APIs). Checked in as
//! `docs/openapi/fulfilment-api.json`; a test fails when the two differ.

use orderflow_fulfilment_model::StockLevel;
use orderflow_platform::{FieldError, Problem};
use utoipa::OpenApi;
use utoipa::openapi::OpenApi as Document;

/// The OpenAPI document of the fulfilment service.
pub fn openapi() -> Document {
    let mut doc = ApiDoc::openapi();
    orderflow_platform::docs_page::add_bearer(&mut doc, "Roles: `operator` or `admin`.");
    orderflow_platform::docs_page::document(&mut doc);
    doc
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "orderflow fulfilment API",
        description = "Operators receive and adjust stock; each change is an event on \
            inventory.events, acknowledged once the log has it. Stock levels and sagas are \
            read from the query API (`/stock`, `/fulfilment/sagas`). Errors are RFC 9457 \
            problem details (`application/problem+json`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(crate::http::receive, crate::http::adjust),
    components(schemas(Problem, FieldError, StockLevel)),
    tags((name = "stock", description = "Receipts and adjustments (operators).")),
)]
struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::openapi;

    const CHECKED_IN: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/openapi/fulfilment-api.json"
    );

    #[test]
    fn the_document_is_the_checked_in_one() {
        let served = orderflow_platform::docs_page::render(&openapi());
        if std::env::var_os("ORDERFLOW_UPDATE_OPENAPI").is_some() {
            std::fs::write(CHECKED_IN, &served).unwrap();
        }
        let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
        assert!(
            served == checked_in,
            "docs/openapi/fulfilment-api.json differs from the served document; regenerate \
             it with `ORDERFLOW_UPDATE_OPENAPI=1 cargo test -p orderflow-fulfilment --lib \
             openapi` and commit it"
        );
    }

    #[test]
    fn every_stock_operation_needs_a_token_and_answers_problems() {
        let doc = serde_json::to_value(openapi()).unwrap();
        for path in [
            "/stock/{product_id}/receipts",
            "/stock/{product_id}/adjustments",
        ] {
            let operation = &doc["paths"][path]["post"];
            assert!(operation["security"][0].get("bearer").is_some(), "{path}");
            for status in ["200", "400", "401", "403", "409", "422", "503"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{path} lacks {status}"
                );
            }
        }
    }
}
