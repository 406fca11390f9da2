//! Writes to a subject's version list, serialised per subject.
//!
//! Each write runs in a transaction that first takes a transaction-scoped advisory lock
//! keyed by the subject. Without it, two concurrent registrations of the same new schema
//! would both see "not registered yet" and create two versions; with it, the second one
//! waits and then finds the first one's version. Different subjects do not contend.

use sqlx::{PgConnection, Postgres, Transaction};

use super::{Store, VersionSelector, config, live_history, subject_exists};
use crate::compat::{self, Earlier};
use crate::error::Error;
use crate::level::CompatibilityLevel;
use crate::schema::ParsedSchema;

impl Store {
    /// Registers `schema` under `subject` and returns its global id.
    ///
    /// Idempotent like Confluent: a schema already live in the subject returns its id
    /// without a new version, and a schema known under another subject keeps its id.
    /// Otherwise the schema must pass the subject's effective compatibility level (409).
    pub async fn register(&self, subject: &str, schema: &ParsedSchema) -> Result<i32, Error> {
        let mut tx = self.locked(subject).await?;

        let existing: Option<i32> = sqlx::query_scalar(
            "SELECT v.schema_id
             FROM schema_registry.subject_versions v
             JOIN schema_registry.schemas s ON s.id = v.schema_id
             WHERE v.subject = $1 AND NOT v.deleted
               AND s.fingerprint = sha256(convert_to($2, 'UTF8'))
             LIMIT 1",
        )
        .bind(subject)
        .bind(&schema.normalized)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = existing {
            return Ok(id);
        }

        let level = config::effective_level(&mut *tx, subject).await?;
        if level != CompatibilityLevel::None {
            let history = live_history(&mut *tx, subject).await?;
            let earlier: Vec<Earlier<'_>> = history
                .iter()
                .map(|(version, parsed)| Earlier {
                    version: *version,
                    schema: &parsed.schema,
                })
                .collect();
            let details = compat::check(level, &schema.schema, &earlier);
            if !details.is_empty() {
                return Err(Error::Incompatible {
                    subject: subject.to_owned(),
                    details,
                });
            }
        }

        let id = schema_id(&mut tx, schema).await?;
        // Soft-deleted versions still count, so a version number is never reused while
        // any client could have seen it.
        sqlx::query(
            "INSERT INTO schema_registry.subject_versions (subject, version, schema_id)
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2
             FROM schema_registry.subject_versions WHERE subject = $1",
        )
        .bind(subject)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Soft-deletes a version, or hard-deletes an already soft-deleted one when
    /// `permanent`; returns the version number.
    pub async fn delete_version(
        &self,
        subject: &str,
        selector: VersionSelector,
        permanent: bool,
    ) -> Result<i32, Error> {
        let mut tx = self.locked(subject).await?;
        // A soft delete of `latest` targets the latest live version; a permanent one the
        // latest version of all, since only soft-deleted versions may be purged.
        let found: Option<(i32, bool)> = sqlx::query_as(
            "SELECT version, deleted FROM schema_registry.subject_versions
             WHERE subject = $1 AND ($2::integer IS NULL OR version = $2)
               AND ($2::integer IS NOT NULL OR $3 OR NOT deleted)
             ORDER BY version DESC
             LIMIT 1",
        )
        .bind(subject)
        .bind(match selector {
            VersionSelector::Latest => None,
            VersionSelector::Number(n) => Some(n),
        })
        .bind(permanent)
        .fetch_optional(&mut *tx)
        .await?;

        let Some((version, deleted)) = found else {
            return Err(match selector {
                VersionSelector::Number(n) if subject_exists(&mut *tx, subject, true).await? => {
                    Error::VersionNotFound(n)
                }
                _ => Error::SubjectNotFound(subject.to_owned()),
            });
        };
        let statement = match (permanent, deleted) {
            (false, false) => {
                "UPDATE schema_registry.subject_versions SET deleted = true
                 WHERE subject = $1 AND version = $2"
            }
            (true, true) => {
                "DELETE FROM schema_registry.subject_versions WHERE subject = $1 AND version = $2"
            }
            (false, true) => {
                let subject = subject.to_owned();
                return Err(Error::VersionSoftDeleted { subject, version });
            }
            (true, false) => {
                let subject = subject.to_owned();
                return Err(Error::VersionNotSoftDeleted { subject, version });
            }
        };
        sqlx::query(statement)
            .bind(subject)
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// Soft-deletes every live version of a subject, or (when `permanent`) purges a
    /// subject whose versions are all soft-deleted; returns the affected versions.
    pub async fn delete_subject(&self, subject: &str, permanent: bool) -> Result<Vec<i32>, Error> {
        let mut tx = self.locked(subject).await?;
        let rows: Vec<(i32, bool)> = sqlx::query_as(
            "SELECT version, deleted FROM schema_registry.subject_versions
             WHERE subject = $1 ORDER BY version",
        )
        .bind(subject)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Err(Error::SubjectNotFound(subject.to_owned()));
        }
        let live: Vec<i32> = rows.iter().filter(|(_, d)| !d).map(|(v, _)| *v).collect();

        let affected = if permanent {
            if !live.is_empty() {
                return Err(Error::SubjectNotSoftDeleted(subject.to_owned()));
            }
            sqlx::query("DELETE FROM schema_registry.subject_versions WHERE subject = $1")
                .bind(subject)
                .execute(&mut *tx)
                .await?;
            // A purged subject starts from the global level if it is ever recreated.
            sqlx::query("DELETE FROM schema_registry.subject_config WHERE subject = $1")
                .bind(subject)
                .execute(&mut *tx)
                .await?;
            rows.into_iter().map(|(v, _)| v).collect()
        } else {
            if live.is_empty() {
                return Err(Error::SubjectSoftDeleted(subject.to_owned()));
            }
            sqlx::query(
                "UPDATE schema_registry.subject_versions SET deleted = true
                 WHERE subject = $1 AND NOT deleted",
            )
            .bind(subject)
            .execute(&mut *tx)
            .await?;
            live
        };
        tx.commit().await?;
        Ok(affected)
    }

    /// Begins a transaction holding the subject's advisory lock until commit/rollback.
    async fn locked(&self, subject: &str) -> Result<Transaction<'static, Postgres>, Error> {
        let mut tx = self.pool.begin().await?;
        // Prefixed so the key space does not overlap with other users of advisory locks
        // in a shared database.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('schema_registry:' || $1, 0))")
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// The global id for `schema`, creating it if no subject has registered it yet.
async fn schema_id(conn: &mut PgConnection, schema: &ParsedSchema) -> Result<i32, Error> {
    // Two subjects may register the same new schema at once; they hold different subject
    // locks, so the unique fingerprint arbitrates. The loser's insert waits for the
    // winner's commit and does nothing; its follow-up read (a new snapshot under READ
    // COMMITTED) then sees the winner's row.
    let inserted: Option<i32> = sqlx::query_scalar(
        "INSERT INTO schema_registry.schemas (schema_type, schema_text, normalized, fingerprint)
         VALUES ('AVRO', $1, $2, sha256(convert_to($2, 'UTF8')))
         ON CONFLICT (fingerprint) DO NOTHING
         RETURNING id",
    )
    .bind(&schema.text)
    .bind(&schema.normalized)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = inserted {
        return Ok(id);
    }
    sqlx::query_scalar(
        "SELECT id FROM schema_registry.schemas WHERE fingerprint = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(&schema.normalized)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::Internal("schema vanished after a conflicting insert".to_owned()))
}
