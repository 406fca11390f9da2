-- The notifier's outbox (ADR 0014), in the schema `notifier` of the read model's database.
-- The notifier folds the log into `orders`, `notices` and `deliveries`, with each
-- partition's next offset, in one transaction per batch; its delivery workers record every
-- try in `attempts`. Subscriptions are written by the query API (granted by the notifier).

-- Where the fold resumes: the next offset of each partition of the log.
CREATE TABLE notifier.offsets (
    partition   int    PRIMARY KEY,
    next_offset bigint NOT NULL CHECK (next_offset >= 0)
);

-- The shared fold's state of every order (`orderflow_domain::Order`) and its customer.
CREATE TABLE notifier.orders (
    order_id    text   PRIMARY KEY,
    customer_id text,
    status      text,
    version     bigint NOT NULL
);

-- Who is told: a customer's email address, or a webhook for one customer's orders or
-- (customer_id NULL) for every order. A webhook signs with its own secret.
CREATE TABLE notifier.subscriptions (
    id          uuid        PRIMARY KEY,
    channel     text        NOT NULL CHECK (channel IN ('email', 'webhook')),
    customer_id text,
    target      text        NOT NULL,
    secret      text,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (channel = 'webhook' OR customer_id IS NOT NULL),
    CHECK ((channel = 'webhook') = (secret IS NOT NULL))
);
CREATE INDEX subscriptions_customer ON notifier.subscriptions (customer_id);
-- The same address or URL twice for the same customers would send everything twice.
CREATE UNIQUE INDEX subscriptions_once
    ON notifier.subscriptions (channel, coalesce(customer_id, ''), target);

-- One accepted status change, under the event's id. `seq` pages a customer's list.
CREATE TABLE notifier.notices (
    id            uuid        PRIMARY KEY,
    seq           bigserial   UNIQUE,
    order_id      text        NOT NULL,
    customer_id   text        NOT NULL,
    status        text        NOT NULL,
    version       bigint      NOT NULL,
    occurred_at   timestamptz NOT NULL,
    -- The webhook body, byte for byte what is signed and sent.
    body          text        NOT NULL,
    email_subject text        NOT NULL,
    email_text    text        NOT NULL
);
CREATE INDEX notices_customer ON notifier.notices (customer_id, seq);

-- One notice to one subscription. `pending` until delivered or parked (after the last
-- attempt); `dropped` when its subscription was deleted before it went out.
CREATE TABLE notifier.deliveries (
    notice_id       uuid        NOT NULL REFERENCES notifier.notices (id),
    subscription_id uuid        NOT NULL,
    -- The subscription's, kept when it is deleted: a customer sees its email deliveries.
    channel         text        NOT NULL,
    order_id        text        NOT NULL,
    version         bigint      NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'parked', 'dropped')),
    attempts        int         NOT NULL DEFAULT 0,
    due_at          timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text,
    PRIMARY KEY (notice_id, subscription_id)
);
CREATE INDEX deliveries_due ON notifier.deliveries (due_at) WHERE state = 'pending';
-- What the metrics count: the parked deliveries.
CREATE INDEX deliveries_parked ON notifier.deliveries (notice_id) WHERE state = 'parked';
-- A delivery waits for the earlier versions of its order to the same subscription.
CREATE INDEX deliveries_line ON notifier.deliveries (subscription_id, order_id, version)
    WHERE state = 'pending';

-- Every try of a delivery and how it ended (`attempt` counts from 1 again after a retry
-- by hand).
CREATE TABLE notifier.attempts (
    id              bigserial   PRIMARY KEY,
    notice_id       uuid        NOT NULL,
    subscription_id uuid        NOT NULL,
    attempt         int         NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    outcome         text        NOT NULL CHECK (outcome IN ('delivered', 'failed', 'parked')),
    detail          text,
    FOREIGN KEY (notice_id, subscription_id) REFERENCES notifier.deliveries
);
