//! Compatibility settings: one optional registry-wide level and optional per-subject levels.

use sqlx::PgExecutor;

use super::Store;
use crate::error::Error;
use crate::level::CompatibilityLevel;

impl Store {
    /// The registry-wide level, or Confluent's default (BACKWARD) when never set.
    pub async fn global_level(&self) -> Result<CompatibilityLevel, Error> {
        global_level(&self.pool).await
    }

    /// Sets the registry-wide level.
    pub async fn set_global_level(&self, level: CompatibilityLevel) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO schema_registry.global_config (singleton, compatibility) VALUES (true, $1)
             ON CONFLICT (singleton) DO UPDATE SET compatibility = EXCLUDED.compatibility",
        )
        .bind(level.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes the registry-wide level and returns the one that applied before.
    pub async fn reset_global_level(&self) -> Result<CompatibilityLevel, Error> {
        let old: Option<String> =
            sqlx::query_scalar("DELETE FROM schema_registry.global_config RETURNING compatibility")
                .fetch_optional(&self.pool)
                .await?;
        old.map_or(Ok(CompatibilityLevel::DEFAULT), |s| stored_level(&s))
    }

    /// The subject's own level, if one was set.
    pub async fn subject_level(&self, subject: &str) -> Result<Option<CompatibilityLevel>, Error> {
        subject_level(&self.pool, subject).await
    }

    /// Sets the subject's own level. Like Confluent, the subject need not exist yet.
    pub async fn set_subject_level(
        &self,
        subject: &str,
        level: CompatibilityLevel,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO schema_registry.subject_config (subject, compatibility) VALUES ($1, $2)
             ON CONFLICT (subject) DO UPDATE SET compatibility = EXCLUDED.compatibility",
        )
        .bind(subject)
        .bind(level.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes the subject's own level, returning it; `None` when there was none.
    pub async fn delete_subject_level(
        &self,
        subject: &str,
    ) -> Result<Option<CompatibilityLevel>, Error> {
        let old: Option<String> = sqlx::query_scalar(
            "DELETE FROM schema_registry.subject_config WHERE subject = $1 RETURNING compatibility",
        )
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        old.map(|s| stored_level(&s)).transpose()
    }

    /// The level that governs the subject: its own, else the registry-wide one.
    pub async fn effective_level(&self, subject: &str) -> Result<CompatibilityLevel, Error> {
        effective_level(&self.pool, subject).await
    }
}

/// Shared with registration, which must read the level inside its transaction.
pub(super) async fn effective_level(
    db: impl PgExecutor<'_>,
    subject: &str,
) -> Result<CompatibilityLevel, Error> {
    // One round trip: the subject row wins over the global row, which wins over the default.
    let level: Option<String> = sqlx::query_scalar(
        "SELECT COALESCE(
             (SELECT compatibility FROM schema_registry.subject_config WHERE subject = $1),
             (SELECT compatibility FROM schema_registry.global_config))",
    )
    .bind(subject)
    .fetch_one(db)
    .await?;
    level.map_or(Ok(CompatibilityLevel::DEFAULT), |s| stored_level(&s))
}

async fn global_level(db: impl PgExecutor<'_>) -> Result<CompatibilityLevel, Error> {
    let level: Option<String> =
        sqlx::query_scalar("SELECT compatibility FROM schema_registry.global_config")
            .fetch_optional(db)
            .await?;
    level.map_or(Ok(CompatibilityLevel::DEFAULT), |s| stored_level(&s))
}

async fn subject_level(
    db: impl PgExecutor<'_>,
    subject: &str,
) -> Result<Option<CompatibilityLevel>, Error> {
    let level: Option<String> = sqlx::query_scalar(
        "SELECT compatibility FROM schema_registry.subject_config WHERE subject = $1",
    )
    .bind(subject)
    .fetch_optional(db)
    .await?;
    level.map(|s| stored_level(&s)).transpose()
}

/// The table's CHECK constraint makes a bad value a registry bug, not a client error.
fn stored_level(value: &str) -> Result<CompatibilityLevel, Error> {
    value
        .parse()
        .map_err(|_| Error::Internal(format!("stored compatibility level {value:?} is unknown")))
}
