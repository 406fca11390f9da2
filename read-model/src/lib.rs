//! orderflow's read model as a contract: everything its writer (the projector) and its
//! reader (the query API) must agree on, in the one crate both use. Neither service
//! spells out a document shape, a table, a view, a channel or a key of its own.
//!
//! The projector folds the log into a *generation* (ADR 0007): a Postgres schema with the
//! tables of [`MIGRATOR`], and a Redis prefix under which each changed order is written
//! through as one [`OrderView`] document. The query API reads the views of
//! [`READ_SCHEMA`], which show the live generation, learns its Redis prefix from the
//! [`GENERATION_VIEW`], serves cached documents as they are and builds the same document
//! from Postgres on a miss ([`load_orders`]). Changes are announced on [`ORDERS_CHANNEL`]
//! and generation switches on [`GENERATION_CHANNEL`].
//!
//! Layout:
//! - `document`: the order document and its JSON shapes (whole, and as a list entry), the
//!   history row and event;
//! - `change`: how an accepted event changes the document, and its history row both ways
//!   (the projector folds the log with it, the query API's streams an order's history);
//! - `postgres`: the migrations, schema and view names, and the reads of documents;
//! - `channels`: the notification channels and the change payload;
//! - `order_cache`: the Redis key format and the version guard of cached documents.
//!
//! The migrations live in `migrations/` of this crate; `tests/` checks the reads through
//! reader views like the projector's.

mod change;
mod channels;
mod document;
mod order_cache;
mod postgres;

pub use change::{UnreadableHistory, apply, history_row, to_datetime};
pub use channels::{GENERATION_CHANNEL, ORDERS_CHANNEL, OrderChanged};
pub use document::{
    HistoryEvent, HistoryRow, OrderSummary, OrderView, money, money_schema, status_schema,
    timestamp,
};
pub use order_cache::{WRITE_IF_NEWER, order_cache_key, order_cache_pattern};
pub use postgres::{
    GENERATION_VIEW, MIGRATOR, PRIVATE_TABLES, READ_SCHEMA, SELECT_ORDERS, load_history,
    load_orders, load_orders_from_tables, order_from_row,
};
