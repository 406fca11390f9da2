//! A service's API contract on its own port: `GET /openapi.json` (the OpenAPI document
//! generated from its handlers) and `GET /docs`, a Redoc page that renders it.
//!
//! Redoc's standalone bundle is built into the binary (`platform/assets/redoc/`), so the
//! page works where only the service is reachable: no CDN, no fonts from elsewhere. Both
//! routes are open like `/healthz`: the contract is no secret, and a client needs it before
//! it has a token. One copy of the page and the bundle serves every service.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, OpenApi, Ref};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Where the documentation page is served.
pub const DOCS_PATH: &str = "/docs";
/// Where the page loads Redoc from (relative to `/docs`, so a path prefix in front of the
/// service changes nothing).
pub const BUNDLE_PATH: &str = "/docs/redoc.standalone.js";

/// Redoc 2.5.4's standalone bundle, unchanged from the npm package `redoc`.
const REDOC_JS: &[u8] = include_bytes!("../assets/redoc/redoc.standalone.js");

/// No inline script and nothing from another origin. Redoc styles with inline `<style>`,
/// renders its search index in a `blob:` worker and compiles schema validators with
/// `new Function`, hence those three exceptions.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'unsafe-eval'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// Documents the routes every service has from the platform: [`routes`] and
/// `GET /metrics`, open (no security), tagged `operations`, each with its 503 (the server's
/// limits answer before any route). The document must have the `Problem` schema.
pub fn document(document: &mut OpenApi) {
    let platform = [
        (
            OPENAPI_PATH,
            "openapi",
            "This OpenAPI document",
            "application/json",
        ),
        (
            DOCS_PATH,
            "docs",
            "The documentation page (Redoc)",
            "text/html",
        ),
        (
            BUNDLE_PATH,
            "redoc",
            "Redoc's bundle, for the page",
            "text/javascript",
        ),
        ("/metrics", "metrics", "Prometheus metrics", "text/plain"),
    ];
    for (path, operation_id, summary, content_type) in platform {
        let text = ObjectBuilder::new().schema_type(Type::String).build();
        let ok = ResponseBuilder::new()
            .description(summary)
            .content(content_type, Content::new(Some(text)));
        let responses = ResponsesBuilder::new()
            .response("200", ok.build())
            .response("503", unavailable())
            .build();
        let operation = OperationBuilder::new()
            .operation_id(Some(operation_id))
            .tag("operations")
            .summary(Some(format!("{summary} (no token)")))
            .responses(responses)
            .build();
        document
            .paths
            .paths
            .insert(path.into(), PathItem::new(HttpMethod::Get, operation));
    }
}

fn unavailable() -> utoipa::openapi::Response {
    let seconds = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1));
    let retry_after = HeaderBuilder::new()
        .schema(Some(seconds))
        .description(Some("Seconds to wait before retrying."))
        .build();
    ResponseBuilder::new()
        .description("Overloaded or past the request timeout; retry after `Retry-After`.")
        .content(
            crate::PROBLEM_JSON,
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .header("Retry-After", retry_after)
        .build()
}

/// Adds the `bearer` security scheme every API's operations name: a JWT signed by a key
/// of the configured JWKS, with `roles` saying which roles the API knows.
pub fn add_bearer(document: &mut OpenApi, roles: &str) {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    let components = document.components.get_or_insert_with(Default::default);
    let scheme = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("JWT")
        .description(Some(format!(
            "A JWT signed by a key of the configured JWKS. {roles}"
        )))
        .build();
    components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
}

/// The document as it is served: pretty JSON with a final newline, the exact bytes the
/// services keep under `docs/openapi/`.
pub fn render(document: &OpenApi) -> String {
    // A document built by utoipa is maps, strings and numbers: serialising cannot fail.
    let mut text = document.to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /openapi.json` serving `document`, and `GET /docs` with its bundle, titled `title`.
pub fn routes<S: Clone + Send + Sync + 'static>(document: &OpenApi, title: &str) -> Router<S> {
    let json: Arc<str> = render(document).into();
    let page: Arc<str> = page(title).into();
    Router::new()
        .route(
            OPENAPI_PATH,
            get(move || async move { json_response(json.clone()) }),
        )
        .route(
            DOCS_PATH,
            get(move || async move { page_response(page.clone()) }),
        )
        .route(BUNDLE_PATH, get(bundle))
}

fn json_response(json: Arc<str>) -> Response {
    let content_type = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, content_type)], json.to_string()).into_response()
}

fn page_response(page: Arc<str>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        page.to_string(),
    )
        .into_response()
}

async fn bundle() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        REDOC_JS,
    )
        .into_response()
}

/// The page: Redoc's custom element pointed at the document, no inline script.
fn page(title: &str) -> String {
    let title = escape(title);
    let spec = OPENAPI_PATH.trim_start_matches('/');
    let bundle = BUNDLE_PATH.trim_start_matches('/');
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n<body>\n\
         <redoc spec-url=\"{spec}\"></redoc>\n\
         <script src=\"{bundle}\"></script>\n</body>\n</html>\n"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    async fn get_path(path: &str) -> Response {
        let document = utoipa::openapi::OpenApiBuilder::new().build();
        let app: Router = routes(&document, "A <test> API");
        let request = Request::get(path).body(Body::empty()).unwrap();
        app.oneshot(request).await.unwrap()
    }

    #[tokio::test]
    async fn the_page_loads_the_bundled_redoc_and_the_document() {
        let page = get_path(DOCS_PATH).await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let html = axum::body::to_bytes(page.into_body(), usize::MAX)
            .await
            .unwrap();
        let html = String::from_utf8(html.to_vec()).unwrap();
        assert!(html.contains("<redoc spec-url=\"openapi.json\">"), "{html}");
        assert!(html.contains("<title>A &lt;test&gt; API</title>"), "{html}");
        assert!(!html.contains("http"), "nothing from elsewhere: {html}");
        let bundle = get_path(BUNDLE_PATH).await;
        assert_eq!(bundle.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn the_document_is_served_as_rendered() {
        let response = get_path(OPENAPI_PATH).await;
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let document = utoipa::openapi::OpenApiBuilder::new().build();
        assert_eq!(body, render(&document).as_bytes());
    }
}
