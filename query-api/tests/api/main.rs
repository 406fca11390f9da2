//! Integration tests of the query API against real Postgres and Redis. Each test gets a
//! fresh database (the projector's migrations, rows inserted with SQL) and a Redis prefix.

mod helpers;
mod list;
mod orders;
mod stats;
mod wait;
