//! The tracking page of one order and the operators' dashboard (issue 18): static HTML,
//! CSS and JavaScript from `assets/pages/`, built into the binary. They hold no data and
//! need no token: their scripts call this API with the reader's token (taken from the
//! URL fragment, which no server sees, or typed in) and follow the live streams, so the
//! pages follow the API's authorization rules by construction.
//!
//! Every answer forbids inline script and anything from another origin.

use crate::app::AppState;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use orderflow_platform::Problem;

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TRACK: &str = include_str!("../assets/pages/track.html");
const DASHBOARD: &str = include_str!("../assets/pages/dashboard.html");

/// The files under `/assets/`, with their content types.
const ASSETS: [(&str, &str, &str); 4] = [
    (
        "orderflow.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/pages/orderflow.js"),
    ),
    (
        "track.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/pages/track.js"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/pages/dashboard.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../assets/pages/style.css"),
    ),
];

/// The pages' routes (open, like the documentation page).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/track/{id}", get(track))
        .route("/dashboard", get(dashboard))
        .route("/assets/{file}", get(asset))
}

/// `GET /track/{id}`: the tracking page of an order.
#[utoipa::path(
    get,
    path = "/track/{id}",
    operation_id = "trackingPage",
    tag = "pages",
    summary = "The tracking page of an order (no token to load it)",
    description = "Status timeline, current location, carrier, tracking number and estimated \
        delivery, updated live. The page asks for the reader's token (or takes it from the URL \
        fragment: `#token=...`) and reads the order with it.",
    params(("id" = String, Path, description = "The order id.")),
    responses((status = 200, description = "The page.", content_type = "text/html", body = String)),
)]
pub(crate) async fn track() -> Response {
    page(TRACK)
}

/// `GET /dashboard`: the operators' dashboard.
#[utoipa::path(
    get,
    path = "/dashboard",
    operation_id = "dashboardPage",
    tag = "pages",
    summary = "The operators' dashboard (no token to load it)",
    description = "Orders by status, today's revenue and the latest changes, updated live. The \
        page asks for an operator's token (or takes it from the URL fragment).",
    responses((status = 200, description = "The page.", content_type = "text/html", body = String)),
)]
pub(crate) async fn dashboard() -> Response {
    page(DASHBOARD)
}

/// `GET /assets/{file}`: the pages' scripts and style sheet.
#[utoipa::path(
    get,
    path = "/assets/{file}",
    operation_id = "pageAsset",
    tag = "pages",
    summary = "A script or style sheet of the pages",
    params(("file" = String, Path, description = "`orderflow.js`, `track.js`, `dashboard.js` or `style.css`.")),
    responses(
        (status = 200, description = "The file.",
         content((String = "text/javascript"), (String = "text/css"))),
        (status = 404, description = "No such file.", body = Problem,
         content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => with_headers(content_type, body),
        None => Problem::new(StatusCode::NOT_FOUND, "not-found", "No such file.").into_response(),
    }
}

fn page(html: &'static str) -> Response {
    with_headers("text/html; charset=utf-8", html)
}

fn with_headers(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // A new release serves new files under the same names: revalidate every time.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
