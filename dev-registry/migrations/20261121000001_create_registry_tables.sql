-- Storage for the development schema registry.
--
-- Everything lives in its own Postgres schema so the registry can share the
-- application database without its tables (or its `_sqlx_migrations`
-- history) colliding with the services' own migrations.
CREATE SCHEMA IF NOT EXISTS schema_registry;

-- One row per distinct schema. The global id is what producers embed in
-- every message, so rows are never deleted: a consumer may still hold data
-- written with a schema whose subject versions were hard-deleted.
CREATE TABLE schema_registry.schemas (
    id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schema_type text        NOT NULL DEFAULT 'AVRO',
    -- The text as first registered, returned verbatim to clients.
    schema_text text        NOT NULL,
    -- The parsed-and-reserialised form; two registrations are "the same
    -- schema" exactly when these match.
    normalized  text        NOT NULL,
    -- sha256 of `normalized`: schemas can exceed the btree entry size limit,
    -- so uniqueness is enforced on the digest rather than the text.
    fingerprint bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schema_registry.subject_versions (
    subject    text        NOT NULL,
    version    integer     NOT NULL CHECK (version > 0),
    schema_id  integer     NOT NULL REFERENCES schema_registry.schemas (id),
    -- Soft delete, as in Confluent: hidden from reads, but the version number
    -- is never handed out again until the row is permanently deleted.
    deleted    boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject, version)
);

CREATE INDEX subject_versions_schema_id_idx
    ON schema_registry.subject_versions (schema_id);

CREATE TABLE schema_registry.subject_config (
    subject       text PRIMARY KEY,
    compatibility text NOT NULL CHECK (compatibility IN (
        'NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD',
        'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'))
);

-- At most one row; when it is absent the registry default (BACKWARD) applies.
CREATE TABLE schema_registry.global_config (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    compatibility text    NOT NULL CHECK (compatibility IN (
        'NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD',
        'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'))
);
