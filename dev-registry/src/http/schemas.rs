//! `/schemas/...`: reading schemas by their global id, which is what consumers do for
//! every id they find in a message header.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use super::{AppState, Flags, PathParams, Reply, raw_reply};
use crate::error::Error;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(raw_schema_by_id))
        .route("/schemas/ids/{id}/versions", get(versions_by_id))
        .route("/schemas/ids/{id}/subjects", get(subjects_by_id))
}

/// `GET /schemas/ids/{id}`. Confluent adds `schemaType` only for non-Avro schemas, and
/// this registry only stores Avro.
#[derive(Debug, Serialize)]
struct SchemaById {
    schema: String,
}

/// One entry of `GET /schemas/ids/{id}/versions`.
#[derive(Debug, Serialize)]
struct Usage {
    subject: String,
    version: i32,
}

/// Ids are integers; anything else cannot name a schema, so it is "not found" rather
/// than a malformed request (matching what Confluent clients expect to handle).
fn parse_id(raw: &str) -> Result<i32, Error> {
    raw.trim().parse().map_err(|_| Error::SchemaNotFound(None))
}

async fn schema_types() -> Reply<[&'static str; 1]> {
    Reply(["AVRO"])
}

/// Query parameters such as `subject`, `format` or `fetchMaxId` are accepted and
/// ignored: without references or contexts they cannot change the answer.
async fn schema_by_id(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> Result<Reply<SchemaById>, Error> {
    let schema = state.store.schema_by_id(parse_id(&id)?).await?;
    Ok(Reply(SchemaById { schema }))
}

async fn raw_schema_by_id(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
) -> Result<Response, Error> {
    let schema = state.store.schema_by_id(parse_id(&id)?).await?;
    Ok(raw_reply(StatusCode::OK, schema))
}

async fn versions_by_id(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    flags: Flags,
) -> Result<Reply<Vec<Usage>>, Error> {
    let usages = state.store.usages(parse_id(&id)?, flags.deleted()).await?;
    let usages = usages
        .into_iter()
        .map(|(subject, version)| Usage { subject, version })
        .collect();
    Ok(Reply(usages))
}

async fn subjects_by_id(
    State(state): State<AppState>,
    PathParams(id): PathParams<String>,
    flags: Flags,
) -> Result<Reply<Vec<String>>, Error> {
    let mut subjects: Vec<String> = state
        .store
        .usages(parse_id(&id)?, flags.deleted())
        .await?
        .into_iter()
        .map(|(subject, _)| subject)
        .collect();
    subjects.dedup();
    Ok(Reply(subjects))
}
