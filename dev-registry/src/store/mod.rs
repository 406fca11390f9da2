//! Postgres persistence: subjects, versions, schemas and compatibility settings.
//!
//! Every table lives in the `schema_registry` Postgres schema and every query names it
//! explicitly, so the pool handed to [`crate::run`] needs no special `search_path`.
//! Reads live here; writes that must be serialised per subject live in `write`;
//! compatibility settings in `config`.

mod config;
mod write;

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::{PgExecutor, PgPool};

use crate::error::Error;
use crate::schema::ParsedSchema;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Which version of a subject a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    /// `latest` (or Confluent's alias `-1`): the highest live version.
    Latest,
    /// An explicit version number.
    Number(i32),
}

impl FromStr for VersionSelector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        if trimmed.eq_ignore_ascii_case("latest") || trimmed == "-1" {
            return Ok(VersionSelector::Latest);
        }
        match trimmed.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(VersionSelector::Number(n)),
            _ => Err(Error::InvalidVersion(s.to_owned())),
        }
    }
}

/// One subject version as Confluent returns it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct SubjectVersion {
    /// The subject name.
    pub subject: String,
    /// The per-subject version number.
    pub version: i32,
    /// The global schema id.
    pub id: i32,
    /// The schema text as first registered.
    pub schema: String,
}

/// The registry's persistent state; cheap to clone (it wraps the pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Wraps an existing pool; call [`Store::migrate`] before serving.
    pub fn new(pool: PgPool) -> Self {
        Store { pool }
    }

    /// Applies the embedded migrations.
    ///
    /// sqlx keeps its history in an unqualified `_sqlx_migrations` table. Running on a
    /// detached connection whose `search_path` is `schema_registry` puts that history next
    /// to the registry's tables, so sharing a database with a service that has its own
    /// sqlx migrations does not make either side see "unknown" migrations. Detaching means
    /// the altered session is closed afterwards instead of going back into the pool.
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut conn = self.pool.acquire().await?.detach();
        sqlx::query("CREATE SCHEMA IF NOT EXISTS schema_registry")
            .execute(&mut conn)
            .await?;
        sqlx::query("SET search_path TO schema_registry")
            .execute(&mut conn)
            .await?;
        MIGRATOR.run_direct(&mut conn).await?;
        sqlx::Connection::close(conn).await?;
        Ok(())
    }

    /// Fails unless the database answers; backs `GET /healthz`.
    pub async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Subject names, sorted; soft-deleted subjects only when `include_deleted`.
    pub async fn subjects(
        &self,
        include_deleted: bool,
        prefix: &str,
    ) -> Result<Vec<String>, Error> {
        let subjects = sqlx::query_scalar(
            "SELECT DISTINCT subject FROM schema_registry.subject_versions
             WHERE ($1 OR NOT deleted) AND starts_with(subject, $2)
             ORDER BY subject",
        )
        .bind(include_deleted)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        Ok(subjects)
    }

    /// A subject's version numbers in ascending order; 40401 when there are none.
    pub async fn versions(&self, subject: &str, include_deleted: bool) -> Result<Vec<i32>, Error> {
        let versions: Vec<i32> = sqlx::query_scalar(
            "SELECT version FROM schema_registry.subject_versions
             WHERE subject = $1 AND ($2 OR NOT deleted)
             ORDER BY version",
        )
        .bind(subject)
        .bind(include_deleted)
        .fetch_all(&self.pool)
        .await?;
        if versions.is_empty() {
            return Err(Error::SubjectNotFound(subject.to_owned()));
        }
        Ok(versions)
    }

    /// One version of a subject; 40401 / 40402 when absent.
    pub async fn version(
        &self,
        subject: &str,
        selector: VersionSelector,
        include_deleted: bool,
    ) -> Result<SubjectVersion, Error> {
        let number = match selector {
            VersionSelector::Latest => None,
            VersionSelector::Number(n) => Some(n),
        };
        let found = sqlx::query_as::<_, SubjectVersion>(
            "SELECT v.subject, v.version, v.schema_id AS id, s.schema_text AS schema
             FROM schema_registry.subject_versions v
             JOIN schema_registry.schemas s ON s.id = v.schema_id
             WHERE v.subject = $1 AND ($2 OR NOT v.deleted)
               AND ($3::integer IS NULL OR v.version = $3)
             ORDER BY v.version DESC
             LIMIT 1",
        )
        .bind(subject)
        .bind(include_deleted)
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        match (found, number) {
            (Some(version), _) => Ok(version),
            (None, Some(n)) if subject_exists(&self.pool, subject, include_deleted).await? => {
                Err(Error::VersionNotFound(n))
            }
            (None, _) => Err(Error::SubjectNotFound(subject.to_owned())),
        }
    }

    /// The subject version holding `schema`; 40401 / 40403 when absent.
    pub async fn lookup(
        &self,
        subject: &str,
        schema: &ParsedSchema,
        include_deleted: bool,
    ) -> Result<SubjectVersion, Error> {
        let found = sqlx::query_as::<_, SubjectVersion>(
            "SELECT v.subject, v.version, v.schema_id AS id, s.schema_text AS schema
             FROM schema_registry.subject_versions v
             JOIN schema_registry.schemas s ON s.id = v.schema_id
             WHERE v.subject = $1 AND ($2 OR NOT v.deleted)
               AND s.fingerprint = sha256(convert_to($3, 'UTF8'))
             ORDER BY v.version DESC
             LIMIT 1",
        )
        .bind(subject)
        .bind(include_deleted)
        .bind(&schema.normalized)
        .fetch_optional(&self.pool)
        .await?;
        match found {
            Some(version) => Ok(version),
            None if subject_exists(&self.pool, subject, include_deleted).await? => {
                Err(Error::SchemaNotFound(None))
            }
            None => Err(Error::SubjectNotFound(subject.to_owned())),
        }
    }

    /// The schema text for a global id; 40403 when unknown.
    pub async fn schema_by_id(&self, id: i32) -> Result<String, Error> {
        sqlx::query_scalar("SELECT schema_text FROM schema_registry.schemas WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::SchemaNotFound(Some(id)))
    }

    /// Every `(subject, version)` using a global id; 40403 when the id is unknown.
    pub async fn usages(
        &self,
        id: i32,
        include_deleted: bool,
    ) -> Result<Vec<(String, i32)>, Error> {
        self.schema_by_id(id).await?;
        let usages = sqlx::query_as(
            "SELECT subject, version FROM schema_registry.subject_versions
             WHERE schema_id = $1 AND ($2 OR NOT deleted)
             ORDER BY subject, version",
        )
        .bind(id)
        .bind(include_deleted)
        .fetch_all(&self.pool)
        .await?;
        Ok(usages)
    }

    /// The subject's live versions, oldest first, parsed for compatibility checks.
    pub async fn live_history(&self, subject: &str) -> Result<Vec<(i32, ParsedSchema)>, Error> {
        live_history(&self.pool, subject).await
    }
}

/// Whether the subject has any version (soft-deleted ones only if `include_deleted`).
async fn subject_exists(
    db: impl PgExecutor<'_>,
    subject: &str,
    include_deleted: bool,
) -> Result<bool, Error> {
    let exists = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM schema_registry.subject_versions
                        WHERE subject = $1 AND ($2 OR NOT deleted))",
    )
    .bind(subject)
    .bind(include_deleted)
    .fetch_one(db)
    .await?;
    Ok(exists)
}

/// Shared by reads and by registration (inside its transaction).
async fn live_history(
    db: impl PgExecutor<'_>,
    subject: &str,
) -> Result<Vec<(i32, ParsedSchema)>, Error> {
    let rows: Vec<(i32, i32, String)> = sqlx::query_as(
        "SELECT v.version, s.id, s.schema_text
         FROM schema_registry.subject_versions v
         JOIN schema_registry.schemas s ON s.id = v.schema_id
         WHERE v.subject = $1 AND NOT v.deleted
         ORDER BY v.version",
    )
    .bind(subject)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(version, id, text)| Ok((version, ParsedSchema::from_stored(id, &text)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::VersionSelector as V;

    #[test]
    fn version_selectors_follow_confluent() {
        assert_eq!("latest".parse::<V>().unwrap(), V::Latest);
        assert_eq!("LATEST".parse::<V>().unwrap(), V::Latest);
        assert_eq!("-1".parse::<V>().unwrap(), V::Latest);
        assert_eq!("1".parse::<V>().unwrap(), V::Number(1));
        assert_eq!("2147483647".parse::<V>().unwrap(), V::Number(i32::MAX));
        for bad in ["0", "-2", "2147483648", "one", ""] {
            assert!(bad.parse::<V>().is_err(), "{bad:?} should be rejected");
        }
    }
}
