//! Generations of the read model (ADR 0007).
//!
//! A generation is a complete read model: a Postgres schema (`orderflow_g<N>`) with every
//! table and its own stored offsets, and a Redis key prefix (`<base>g<N>:`). The control
//! schema [`META_SCHEMA`] lists them and holds the live pointer. Readers never name a
//! generation: they read the views of [`orderflow_read_model::READ_SCHEMA`], which a switch re-points in the same
//! transaction as the pointer, together with the `generation` view that tells them the
//! Redis prefix. A switch also announces itself on [`orderflow_read_model::GENERATION_CHANNEL`].

mod switch;

pub use switch::Switch;

use crate::error::ProjectorError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// The schema listing the generations and holding the live pointer.
pub const META_SCHEMA: &str = "orderflow_meta";
/// Key of the advisory lock serialising generation creation and bootstrap.
const CONTROL_LOCK: i64 = 0x6f72_6465_7266_6c77;

static CONTROL: sqlx::migrate::Migrator = sqlx::migrate!("./control");

/// Where a generation is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationState {
    Building,
    Live,
    Retired,
}

impl GenerationState {
    fn parse(s: &str) -> GenerationState {
        match s {
            "live" => GenerationState::Live,
            "retired" => GenerationState::Retired,
            _ => GenerationState::Building,
        }
    }

    /// The name stored in `generations.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            GenerationState::Building => "building",
            GenerationState::Live => "live",
            GenerationState::Retired => "retired",
        }
    }
}

/// One generation of the read model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    pub id: i64,
    /// Postgres schema holding its tables.
    pub schema: String,
    /// Prefix of its Redis keys.
    pub redis_prefix: String,
    pub state: GenerationState,
}

type GenerationRow = (i64, String, String, String);

impl From<GenerationRow> for Generation {
    fn from((id, schema, redis_prefix, state): GenerationRow) -> Self {
        Generation {
            id,
            schema,
            redis_prefix,
            state: GenerationState::parse(&state),
        }
    }
}

const SELECT: &str = "SELECT id, schema_name, redis_prefix, state FROM orderflow_meta.generations";

/// The control side: listing, creating, switching and dropping generations.
#[derive(Clone)]
pub struct Generations {
    pool: PgPool,
    base_prefix: String,
    /// The role a switch grants the reader views to (`Settings::reader_role`).
    reader_role: String,
}

impl Generations {
    /// Connects lazily to the read-model database; `base_prefix` is the Redis prefix that
    /// generation prefixes extend.
    pub fn connect(database_url: &str, base_prefix: &str) -> Result<Generations, ProjectorError> {
        let options = PgConnectOptions::from_str(database_url)?
            .options([("statement_timeout", "30000"), ("lock_timeout", "10000")]);
        let pool = PgPoolOptions::new()
            .max_connections(3)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(options);
        Ok(Generations {
            pool,
            base_prefix: base_prefix.to_owned(),
            reader_role: String::new(),
        })
    }

    /// Grants reading the reader views to `role` at every switch and in
    /// [`Generations::prepare`] (empty: to no one).
    pub fn with_reader_role(mut self, role: &str) -> Generations {
        self.reader_role = role.to_owned();
        self
    }

    /// Creates the control schema and tables if needed.
    pub async fn prepare(&self) -> Result<(), ProjectorError> {
        // sqlx keeps its history in an unqualified table: on this detached connection it
        // lands in the control schema, apart from every generation's own history; the
        // altered session is closed afterwards instead of going back to the pool.
        let mut conn = self.pool.acquire().await?.detach();
        sqlx::query("CREATE SCHEMA IF NOT EXISTS orderflow_meta")
            .execute(&mut conn)
            .await?;
        sqlx::query("SET search_path TO orderflow_meta")
            .execute(&mut conn)
            .await?;
        CONTROL.run_direct(&mut conn).await?;
        sqlx::Connection::close(conn).await?;
        // A read model made before the reader role was set gets its grants at the start,
        // not only at its next switch.
        self.grant_reads().await
    }

    /// Grants the reader role reading the current reader views, under the control lock:
    /// concurrent grants on one object can fail. A switch holding it grants them itself,
    /// so a busy lock skips the grant rather than wait for the switch.
    async fn grant_reads(&self) -> Result<(), ProjectorError> {
        if self.reader_role.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(CONTROL_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        if locked {
            switch::grant_reads(&mut tx, &self.reader_role).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The live generation, if any.
    pub async fn live(&self) -> Result<Option<Generation>, ProjectorError> {
        let sql = format!("{SELECT} WHERE id = (SELECT generation FROM orderflow_meta.live)");
        let row: Option<GenerationRow> = sqlx::query_as(&sql).fetch_optional(&self.pool).await?;
        Ok(row.map(Generation::from))
    }

    /// The live generation, or an error when nothing has been projected yet (for the
    /// tools that work on it: verify, repair).
    pub async fn require_live(&self) -> Result<Generation, ProjectorError> {
        self.live()
            .await?
            .ok_or_else(|| ProjectorError::Refused("there is no live generation yet".into()))
    }

    /// Every generation, oldest first.
    pub async fn list(&self) -> Result<Vec<Generation>, ProjectorError> {
        let rows: Vec<GenerationRow> = sqlx::query_as(&format!("{SELECT} ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Generation::from).collect())
    }

    /// The generation with this id.
    pub async fn get(&self, id: i64) -> Result<Option<Generation>, ProjectorError> {
        let row: Option<GenerationRow> = sqlx::query_as(&format!("{SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Generation::from))
    }

    /// The newest generation still being built (an interrupted rebuild), if any.
    pub async fn building(&self) -> Result<Option<Generation>, ProjectorError> {
        let sql = format!("{SELECT} WHERE state = 'building' ORDER BY id DESC LIMIT 1");
        let row: Option<GenerationRow> = sqlx::query_as(&sql).fetch_optional(&self.pool).await?;
        Ok(row.map(Generation::from))
    }

    /// Registers a new generation, building, with an empty schema (the caller migrates it).
    pub async fn create(&self) -> Result<Generation, ProjectorError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CONTROL_LOCK)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar("SELECT nextval('orderflow_meta.generation_ids')")
            .fetch_one(&mut *tx)
            .await?;
        let generation = Generation {
            id,
            schema: format!("orderflow_g{id}"),
            redis_prefix: format!("{}g{id}:", self.base_prefix),
            state: GenerationState::Building,
        };
        sqlx::query(
            "INSERT INTO orderflow_meta.generations (id, schema_name, redis_prefix, state)
             VALUES ($1, $2, $3, 'building')",
        )
        .bind(id)
        .bind(&generation.schema)
        .bind(&generation.redis_prefix)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!("CREATE SCHEMA {}", ident(&generation.schema)))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(generation)
    }

    /// Makes `generation` live if no generation is (the first start of a projector on an
    /// empty database). Returns the live generation, whichever it is.
    pub async fn adopt_if_none_live(
        &self,
        generation: &Generation,
    ) -> Result<Generation, ProjectorError> {
        let switch = self.begin_switch().await?;
        if let Some(live) = switch.live.clone() {
            switch.rollback().await?;
            return Ok(live);
        }
        switch.commit_to(generation).await?;
        Ok(Generation {
            state: GenerationState::Live,
            ..generation.clone()
        })
    }

    /// Starts a switch: locks the live pointer, so no batch of the live projector commits
    /// until the switch commits or rolls back.
    pub async fn begin_switch(&self) -> Result<Switch, ProjectorError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CONTROL_LOCK)
            .execute(&mut *tx)
            .await?;
        let live: Option<i64> =
            sqlx::query_scalar("SELECT generation FROM orderflow_meta.live FOR UPDATE")
                .fetch_optional(&mut *tx)
                .await?;
        let live = match live {
            Some(id) => {
                let sql = format!("{SELECT} WHERE id = $1");
                let row: GenerationRow = sqlx::query_as(&sql).bind(id).fetch_one(&mut *tx).await?;
                Some(Generation::from(row))
            }
            None => None,
        };
        Ok(Switch {
            tx,
            live,
            reader_role: self.reader_role.clone(),
        })
    }

    /// The stored next offset of each partition of `generation`.
    pub async fn offsets(
        &self,
        generation: &Generation,
    ) -> Result<HashMap<i32, i64>, ProjectorError> {
        let mut conn = self.pool.acquire().await?;
        offsets_of(&mut conn, generation).await
    }

    /// Drops a generation that is not live: its schema, its row, and (by the caller) its
    /// Redis keys.
    pub async fn drop_generation(&self, generation: &Generation) -> Result<(), ProjectorError> {
        let mut tx = self.pool.begin().await?;
        let live: Option<i64> =
            sqlx::query_scalar("SELECT generation FROM orderflow_meta.live FOR SHARE")
                .fetch_optional(&mut *tx)
                .await?;
        if live == Some(generation.id) {
            return Err(ProjectorError::Refused(format!(
                "generation {} is live; switch to another one before dropping it",
                generation.id
            )));
        }
        sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            ident(&generation.schema)
        ))
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM orderflow_meta.generations WHERE id = $1")
            .bind(generation.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(super) async fn offsets_of(
    conn: &mut PgConnection,
    generation: &Generation,
) -> Result<HashMap<i32, i64>, ProjectorError> {
    let sql = format!(
        "SELECT partition, next_offset FROM {}.projection_offsets",
        ident(&generation.schema)
    );
    let rows: Vec<(i32, i64)> = sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().collect())
}

/// Re-creates the reader views over `generation`'s tables, and the `generation` view that
/// names its id and Redis prefix. DDL is transactional: readers see the old views until
/// the switch commits, then the new ones.
/// A quoted SQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted SQL string literal.
pub(super) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(ident("orderflow_g1"), "\"orderflow_g1\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }

    #[test]
    fn unknown_states_read_as_building() {
        assert_eq!(GenerationState::parse("live"), GenerationState::Live);
        assert_eq!(GenerationState::parse("retired"), GenerationState::Retired);
        assert_eq!(GenerationState::parse("x"), GenerationState::Building);
        assert_eq!(GenerationState::Retired.as_str(), "retired");
    }
}
