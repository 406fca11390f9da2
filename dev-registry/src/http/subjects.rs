//! `/subjects/...`: registration, lookup, listing and deletion of subject versions.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;

use super::{AppState, Flags, JsonBody, PathParams, Reply, raw_reply};
use crate::error::Error;
use crate::schema::SchemaRequest;
use crate::store::{SubjectVersion, VersionSelector};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route(
            "/subjects/{subject}/versions",
            get(list_versions).post(register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(get_version_schema),
        )
}

/// `POST /subjects/{s}/versions` answers with the global id only, like Confluent.
#[derive(Debug, Serialize)]
struct Registered {
    id: i32,
}

async fn list_subjects(
    State(state): State<AppState>,
    flags: Flags,
) -> Result<Reply<Vec<String>>, Error> {
    let subjects = state
        .store
        .subjects(flags.deleted(), flags.subject_prefix())
        .await?;
    Ok(Reply(subjects))
}

async fn list_versions(
    State(state): State<AppState>,
    PathParams(subject): PathParams<String>,
    flags: Flags,
) -> Result<Reply<Vec<i32>>, Error> {
    Ok(Reply(
        state.store.versions(&subject, flags.deleted()).await?,
    ))
}

async fn register(
    State(state): State<AppState>,
    PathParams(subject): PathParams<String>,
    JsonBody(request): JsonBody<SchemaRequest>,
) -> Result<Reply<Registered>, Error> {
    let schema = request.parse()?;
    let id = state.store.register(&subject, &schema).await?;
    tracing::info!(%subject, id, "schema registered");
    Ok(Reply(Registered { id }))
}

async fn lookup(
    State(state): State<AppState>,
    PathParams(subject): PathParams<String>,
    flags: Flags,
    JsonBody(request): JsonBody<SchemaRequest>,
) -> Result<Reply<SubjectVersion>, Error> {
    let schema = request.parse()?;
    let found = state
        .store
        .lookup(&subject, &schema, flags.deleted())
        .await?;
    Ok(Reply(found))
}

async fn get_version(
    State(state): State<AppState>,
    PathParams((subject, version)): PathParams<(String, String)>,
    flags: Flags,
) -> Result<Reply<SubjectVersion>, Error> {
    let selector: VersionSelector = version.parse()?;
    let found = state
        .store
        .version(&subject, selector, flags.deleted())
        .await?;
    Ok(Reply(found))
}

/// Returns the schema itself (a JSON document), not a string wrapping it.
async fn get_version_schema(
    State(state): State<AppState>,
    PathParams((subject, version)): PathParams<(String, String)>,
    flags: Flags,
) -> Result<Response, Error> {
    let selector: VersionSelector = version.parse()?;
    let found = state
        .store
        .version(&subject, selector, flags.deleted())
        .await?;
    Ok(raw_reply(StatusCode::OK, found.schema))
}

async fn delete_version(
    State(state): State<AppState>,
    PathParams((subject, version)): PathParams<(String, String)>,
    flags: Flags,
) -> Result<Reply<i32>, Error> {
    let selector: VersionSelector = version.parse()?;
    let deleted = state
        .store
        .delete_version(&subject, selector, flags.permanent())
        .await?;
    tracing::info!(%subject, version = deleted, permanent = flags.permanent(), "version deleted");
    Ok(Reply(deleted))
}

async fn delete_subject(
    State(state): State<AppState>,
    PathParams(subject): PathParams<String>,
    flags: Flags,
) -> Result<Reply<Vec<i32>>, Error> {
    let deleted = state
        .store
        .delete_subject(&subject, flags.permanent())
        .await?;
    tracing::info!(%subject, versions = ?deleted, permanent = flags.permanent(), "subject deleted");
    Ok(Reply(deleted))
}
