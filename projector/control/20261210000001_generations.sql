-- The generations of the read model (ADR 0007). Each generation is a Postgres schema
-- holding a complete read model with its own stored offsets, and a Redis key prefix.
-- Exactly one is live: readers see it through the views of the reader schema.

-- Ids are never reused: a dropped generation's Redis keys may outlive it.
CREATE SEQUENCE IF NOT EXISTS generation_ids;

CREATE TABLE IF NOT EXISTS generations (
    id           bigint      PRIMARY KEY,
    schema_name  text        NOT NULL UNIQUE,
    redis_prefix text        NOT NULL UNIQUE,
    -- building: being rebuilt from the log; live: what readers see; retired: kept after a
    -- switch for a rollback.
    state        text        NOT NULL CHECK (state IN ('building', 'live', 'retired')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    switched_at  timestamptz
);

-- The live pointer: one row. Projector batches take it FOR SHARE, a switch FOR UPDATE, so
-- no batch of the live projector commits into a generation that is no longer live.
CREATE TABLE IF NOT EXISTS live (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    generation bigint  NOT NULL REFERENCES generations (id)
);
