//! A switch of the live generation: the pointer locked, the reader views re-pointed and the
//! pointer moved in one transaction, so readers never see two generations at once.
//!
//! The views are dropped and created again, which drops their grants too: each switch
//! grants the reader role (`Settings::reader_role`, the query API's role is a member)
//! `USAGE` on the reader schema and `SELECT` on the new views, in the same transaction.
//! That is all a reader gets: the generations' schemas and the control schema stay the
//! projector's alone (docs/security.md).

use super::{Generation, ident, literal, offsets_of};
use crate::error::ProjectorError;
use orderflow_read_model::{GENERATION_CHANNEL, GENERATION_VIEW, PRIVATE_TABLES, READ_SCHEMA};
use sqlx::{Postgres, Transaction};
use std::collections::HashMap;

/// A switch in progress: the live pointer is locked until [`Switch::commit_to`] or
/// [`Switch::rollback`].
pub struct Switch {
    pub(super) tx: Transaction<'static, Postgres>,
    /// The live generation when the lock was taken.
    pub live: Option<Generation>,
    /// The role granted reading the new views; empty: no one.
    pub(super) reader_role: String,
}

impl Switch {
    /// The stored offsets of the live generation, frozen while the lock is held.
    pub async fn live_offsets(&mut self) -> Result<HashMap<i32, i64>, ProjectorError> {
        match self.live.clone() {
            Some(live) => offsets_of(&mut self.tx, &live).await,
            None => Ok(HashMap::new()),
        }
    }

    /// Takes the reader views, in the order the readers' statements take them (`orders`
    /// before `order_items`), so the switch cannot deadlock with a read. Readers wait
    /// from here to the commit; a short lock timeout keeps that wait bounded and fails the
    /// switch (to be tried again) behind a long read.
    pub async fn lock_views(&mut self) -> Result<(), ProjectorError> {
        sqlx::query("SET LOCAL lock_timeout = '2s'")
            .execute(&mut *self.tx)
            .await?;
        let mut views: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.views WHERE table_schema = $1",
        )
        .bind(READ_SCHEMA)
        .fetch_all(&mut *self.tx)
        .await?;
        views.sort_by_key(|v| (v != "orders", v != "order_items", v.clone()));
        if views.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = views
            .iter()
            .map(|v| format!("{}.{}", ident(READ_SCHEMA), ident(v)))
            .collect();
        let sql = format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", list.join(", "));
        sqlx::query(&sql).execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Makes `generation` live: the pointer, the states, the reader views and the
    /// announcement, all visible at once when this commits. The previous live generation
    /// becomes retired.
    pub async fn commit_to(mut self, generation: &Generation) -> Result<(), ProjectorError> {
        let tx = &mut self.tx;
        sqlx::query(
            "UPDATE orderflow_meta.generations SET state = 'retired'
             WHERE state = 'live' AND id <> $1",
        )
        .bind(generation.id)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE orderflow_meta.generations SET state = 'live', switched_at = now()
             WHERE id = $1",
        )
        .bind(generation.id)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO orderflow_meta.live (only_row, generation) VALUES (true, $1)
             ON CONFLICT (only_row) DO UPDATE SET generation = EXCLUDED.generation",
        )
        .bind(generation.id)
        .execute(&mut **tx)
        .await?;
        point_views(tx, generation).await?;
        grant_reads(tx, &self.reader_role).await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(GENERATION_CHANNEL)
            .bind(generation.id.to_string())
            .execute(&mut **tx)
            .await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// Gives up the switch; the live projector goes on.
    pub async fn rollback(self) -> Result<(), ProjectorError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

async fn point_views(
    tx: &mut Transaction<'static, Postgres>,
    generation: &Generation,
) -> Result<(), ProjectorError> {
    let read = ident(READ_SCHEMA);
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {read}"))
        .execute(&mut **tx)
        .await?;
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.views WHERE table_schema = $1",
    )
    .bind(READ_SCHEMA)
    .fetch_all(&mut **tx)
    .await?;
    for view in old {
        let sql = format!("DROP VIEW IF EXISTS {read}.{} CASCADE", ident(&view));
        sqlx::query(&sql).execute(&mut **tx).await?;
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    .bind(&generation.schema)
    .fetch_all(&mut **tx)
    .await?;
    for table in tables
        .iter()
        .filter(|t| !PRIVATE_TABLES.contains(&t.as_str()))
    {
        let sql = format!(
            "CREATE VIEW {read}.{t} AS SELECT * FROM {s}.{t}",
            t = ident(table),
            s = ident(&generation.schema)
        );
        sqlx::query(&sql).execute(&mut **tx).await?;
    }
    let sql = format!(
        "CREATE VIEW {read}.{} AS SELECT {}::bigint AS id, {}::text AS redis_prefix",
        ident(GENERATION_VIEW),
        generation.id,
        literal(&generation.redis_prefix)
    );
    sqlx::query(&sql).execute(&mut **tx).await?;
    Ok(())
}

/// Grants `role` reading the reader views: `USAGE` on their schema, `SELECT` on each (they
/// run with the projector's rights on the generation's tables). A missing role is warned
/// about, not an error, so a database without the stack's roles still works; so is a
/// database without the views yet (nothing to grant).
pub(super) async fn grant_reads(
    tx: &mut Transaction<'static, Postgres>,
    role: &str,
) -> Result<(), ProjectorError> {
    let views: bool = sqlx::query_scalar("SELECT to_regnamespace($1) IS NOT NULL")
        .bind(ident(READ_SCHEMA))
        .fetch_one(&mut **tx)
        .await?;
    if role.is_empty() || !views {
        return Ok(());
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(&mut **tx)
            .await?;
    if !exists {
        tracing::warn!(
            role,
            "the reader role does not exist; the reader views are granted to no one"
        );
        return Ok(());
    }
    let (read, role) = (ident(READ_SCHEMA), ident(role));
    for sql in [
        format!("GRANT USAGE ON SCHEMA {read} TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA {read} TO {role}"),
    ] {
        sqlx::query(&sql).execute(&mut **tx).await?;
    }
    Ok(())
}
