-- The fulfilment read model (ADR 0016), in the schema `fulfilment` of the read model's
-- database, written by the fulfilment service and read by the query API. Both tables hold
-- absolute state, written in batches: replaying the logs writes the same rows again.

-- Each product's stock, as the fold of inventory.events says. `version` guards the row
-- from going back, whoever writes it.
CREATE TABLE fulfilment.stock (
    product_id text        PRIMARY KEY,
    on_hand    bigint      NOT NULL CHECK (on_hand >= 0),
    reserved   bigint      NOT NULL CHECK (reserved >= 0 AND reserved <= on_hand),
    version    bigint      NOT NULL CHECK (version >= 1),
    updated_at timestamptz NOT NULL
);

-- Where each order's saga stands: the order's status, its payment's, the step that is
-- next (NULL: nothing to do until the order changes, or finished) and since when it is.
-- A step that stays next for long is stuck.
CREATE TABLE fulfilment.sagas (
    order_id   text        PRIMARY KEY,
    status     text        NOT NULL,
    payment    text,
    step       text,
    step_since timestamptz,
    attempts   int         NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error text,
    finished   boolean     NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX sagas_open ON fulfilment.sagas (step_since) WHERE step IS NOT NULL;
