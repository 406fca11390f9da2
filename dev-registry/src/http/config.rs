//! `/config/...` (compatibility levels) and `/compatibility/...` (dry-run checks).

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::{AppState, Flags, JsonBody, PathParams, Reply};
use crate::compat::{self, Earlier};
use crate::error::Error;
use crate::level::{CompatibilityLevel, parse_level};
use crate::schema::{ParsedSchema, SchemaRequest};
use crate::store::{Store, VersionSelector};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/config",
            get(get_global).put(put_global).delete(delete_global),
        )
        .route(
            "/config/{subject}",
            get(get_subject).put(put_subject).delete(delete_subject),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(check_against_subject),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(check_against_version),
        )
}

/// What `GET /config` and friends answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    compatibility_level: CompatibilityLevel,
}

/// `PUT /config` body, echoed back on success. Other Confluent config fields
/// (`normalize`, rule sets...) are ignored.
#[derive(Debug, Deserialize)]
struct ConfigUpdate {
    compatibility: Option<String>,
}

#[derive(Debug, Serialize)]
struct ConfigUpdated {
    compatibility: CompatibilityLevel,
}

impl ConfigUpdate {
    fn level(&self) -> Result<CompatibilityLevel, Error> {
        parse_level(
            self.compatibility
                .as_deref()
                .ok_or(Error::InvalidCompatibilityLevel)?,
        )
    }
}

/// `{"is_compatible": ...}`, plus `messages` only when `verbose=true`, like Confluent.
#[derive(Debug, Serialize)]
struct CompatibilityResult {
    is_compatible: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<String>>,
}

impl CompatibilityResult {
    fn new(messages: Vec<String>, verbose: bool) -> Self {
        CompatibilityResult {
            is_compatible: messages.is_empty(),
            messages: verbose.then_some(messages),
        }
    }
}

async fn get_global(State(state): State<AppState>) -> Result<Reply<Config>, Error> {
    let compatibility_level = state.store.global_level().await?;
    Ok(Reply(Config {
        compatibility_level,
    }))
}

async fn put_global(
    State(state): State<AppState>,
    JsonBody(update): JsonBody<ConfigUpdate>,
) -> Result<Reply<ConfigUpdated>, Error> {
    let compatibility = update.level()?;
    state.store.set_global_level(compatibility).await?;
    tracing::info!(%compatibility, "global compatibility level set");
    Ok(Reply(ConfigUpdated { compatibility }))
}

async fn delete_global(State(state): State<AppState>) -> Result<Reply<Config>, Error> {
    let compatibility_level = state.store.reset_global_level().await?;
    Ok(Reply(Config {
        compatibility_level,
    }))
}

async fn get_subject(
    State(state): State<AppState>,
    PathParams(subject): PathParams<String>,
    flags: Flags,
) -> Result<Reply<Config>, Error> {
    let compatibility_level = if flags.default_to_global() {
        state.store.effective_level(&subject).await?
    } else {
        state
            .store
            .subject_level(&subject)
            .await?
            .ok_or(Error::SubjectCompatibilityNotConfigured(subject))?
    };
    Ok(Reply(Config {
        compatibility_level,
    }))
}

async fn put_subject(
    State(state): State<AppState>,
    PathParams(subject): PathParams<String>,
    JsonBody(update): JsonBody<ConfigUpdate>,
) -> Result<Reply<ConfigUpdated>, Error> {
    let compatibility = update.level()?;
    state
        .store
        .set_subject_level(&subject, compatibility)
        .await?;
    tracing::info!(%subject, %compatibility, "subject compatibility level set");
    Ok(Reply(ConfigUpdated { compatibility }))
}

/// Falls the subject back to the global level; 40401 when it had no level of its own.
async fn delete_subject(
    State(state): State<AppState>,
    PathParams(subject): PathParams<String>,
) -> Result<Reply<Config>, Error> {
    let compatibility_level = state
        .store
        .delete_subject_level(&subject)
        .await?
        .ok_or(Error::SubjectNotFound(subject))?;
    Ok(Reply(Config {
        compatibility_level,
    }))
}

/// The same check registration would make: every live version, per the subject's level.
async fn check_against_subject(
    State(state): State<AppState>,
    PathParams(subject): PathParams<String>,
    flags: Flags,
    JsonBody(request): JsonBody<SchemaRequest>,
) -> Result<Reply<CompatibilityResult>, Error> {
    let candidate = match request.parse() {
        Ok(schema) => schema,
        Err(e) => return invalid_candidate(e, flags.verbose()),
    };
    let history = state.store.live_history(&subject).await?;
    let messages = check(&state.store, &subject, &candidate, &history).await?;
    Ok(Reply(CompatibilityResult::new(messages, flags.verbose())))
}

/// Confluent semantics: only the named version (or the latest one) is compared, in the
/// direction(s) the subject's level asks for; transitivity is irrelevant with a single
/// version. `latest` on a subject without live versions is compatible.
async fn check_against_version(
    State(state): State<AppState>,
    PathParams((subject, version)): PathParams<(String, String)>,
    flags: Flags,
    JsonBody(request): JsonBody<SchemaRequest>,
) -> Result<Reply<CompatibilityResult>, Error> {
    let selector: VersionSelector = version.parse()?;
    let candidate = match request.parse() {
        Ok(schema) => schema,
        Err(e) => return invalid_candidate(e, flags.verbose()),
    };
    let against = match state.store.version(&subject, selector, false).await {
        Ok(found) => vec![(
            found.version,
            ParsedSchema::from_stored(found.id, &found.schema)?,
        )],
        Err(Error::SubjectNotFound(_)) if selector == VersionSelector::Latest => Vec::new(),
        Err(e) => return Err(e),
    };
    let messages = check(&state.store, &subject, &candidate, &against).await?;
    Ok(Reply(CompatibilityResult::new(messages, flags.verbose())))
}

/// With `verbose=true` an invalid schema is reported as incompatible (with the parse
/// error as the message) instead of 42201, as Confluent does.
fn invalid_candidate(err: Error, verbose: bool) -> Result<Reply<CompatibilityResult>, Error> {
    match err {
        Error::InvalidSchema(message) if verbose => {
            Ok(Reply(CompatibilityResult::new(vec![message], true)))
        }
        other => Err(other),
    }
}

async fn check(
    store: &Store,
    subject: &str,
    candidate: &ParsedSchema,
    against: &[(i32, ParsedSchema)],
) -> Result<Vec<String>, Error> {
    let level = store.effective_level(subject).await?;
    let earlier: Vec<Earlier<'_>> = against
        .iter()
        .map(|(version, parsed)| Earlier {
            version: *version,
            schema: &parsed.schema,
        })
        .collect();
    Ok(compat::check(level, &candidate.schema, &earlier))
}
