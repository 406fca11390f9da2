-- The orders read model, its analytics, and the consumed offsets, written in one
-- transaction per batch by the projector.

CREATE TABLE IF NOT EXISTS projection_offsets (
    projection  text   NOT NULL,
    topic       text   NOT NULL,
    partition   int    NOT NULL,
    -- The offset of the next record to fold: every record below it is in the read model.
    next_offset bigint NOT NULL,
    PRIMARY KEY (projection, topic, partition)
);

CREATE TABLE IF NOT EXISTS orders (
    order_id         text           PRIMARY KEY,
    customer_id      text           NOT NULL,
    status           text           NOT NULL,
    -- Number of order lines (not the sum of quantities).
    items_count      int            NOT NULL,
    total_amount     numeric(12, 2) NOT NULL,
    shipping_address text           NOT NULL,
    warehouse        text,
    carrier          text,
    tracking_number  text,
    location         text,
    cancel_reason    text,
    version          bigint         NOT NULL,
    placed_at        timestamptz    NOT NULL,
    updated_at       timestamptz    NOT NULL
);

CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, placed_at DESC, order_id);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status, placed_at DESC, order_id);
CREATE INDEX IF NOT EXISTS orders_by_placed_at ON orders (placed_at DESC, order_id);

CREATE TABLE IF NOT EXISTS order_items (
    order_id   text           NOT NULL REFERENCES orders (order_id),
    line_no    int            NOT NULL,
    product_id text           NOT NULL,
    quantity   int            NOT NULL,
    unit_price numeric(12, 2) NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE IF NOT EXISTS order_history (
    order_id    text        NOT NULL,
    version     bigint      NOT NULL,
    event_type  text        NOT NULL,
    event_id    uuid        NOT NULL,
    occurred_at timestamptz NOT NULL,
    data        jsonb       NOT NULL,
    PRIMARY KEY (order_id, version)
);

-- Placements per hour of OrderPlaced.occurred_at; cancellations do not subtract.
CREATE TABLE IF NOT EXISTS stats_hourly (
    hour        timestamptz    PRIMARY KEY,
    order_count bigint         NOT NULL,
    revenue     numeric(14, 2) NOT NULL
);

-- Orders per current status: each accepted transition moves one order between rows.
CREATE TABLE IF NOT EXISTS stats_status (
    status      text   PRIMARY KEY,
    order_count bigint NOT NULL
);

-- Quantity and revenue placed per product; cancellations do not subtract.
CREATE TABLE IF NOT EXISTS stats_products (
    product_id text           PRIMARY KEY,
    quantity   bigint         NOT NULL,
    revenue    numeric(14, 2) NOT NULL
);
