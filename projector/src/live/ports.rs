//! The batch loop's ports: everything it reads from or writes to, each behind a small
//! trait, so its rules (the idempotence guard, fencing, the poison split) are tested with
//! fakes (`batch_loop_tests`) and run with the real sinks ([`LivePorts`]).
//!
//! The traits return `Send` futures: the loops run as spawned tasks. The implementations
//! for the real types only forward; the work stays in `sinks/` and `stages`.

use crate::error::ProjectorError;
use crate::fold::BatchPlan;
use crate::fold::model::OrderView;
use crate::live::consumer::GroupConsumer;
use crate::live::stages::CacheWriter;
use crate::sinks::dlq::{Poison, PoisonRoute};
use crate::sinks::postgres::{BatchTx, Offsets, Store};
use orderflow_domain::Event;
use orderflow_schemas::{CodecError, EventCodec};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::future::Future;

/// The read model's store, as the batch loop uses it.
pub trait BatchStore: Send + Sync + 'static {
    type Tx: BatchTransaction;
    /// Starts a batch's transaction (for the live role, failing with
    /// [`ProjectorError::NotLive`] once the generation is retired).
    fn begin(&self) -> impl Future<Output = Result<Self::Tx, ProjectorError>> + Send;
    /// The stored next offset of each of `partitions` (0 for those never folded).
    fn claim_offsets(
        &self,
        partitions: &[i32],
    ) -> impl Future<Output = Result<Offsets, ProjectorError>> + Send;
}

/// One batch's transaction; dropped without `commit`, it rolls back.
pub trait BatchTransaction: Send {
    /// Locks the offsets of the batch's partitions; [`ProjectorError::Fenced`] when one is
    /// not where the loop expects it.
    fn lock_offsets(
        &mut self,
        expected: &[(i32, i64)],
    ) -> impl Future<Output = Result<(), ProjectorError>> + Send;
    fn load_orders(
        &mut self,
        order_ids: &[String],
    ) -> impl Future<Output = Result<HashMap<String, OrderView>, ProjectorError>> + Send;
    /// Writes the order rows and moves the offsets (with how far the cache is confirmed).
    fn write(
        &mut self,
        plan: &BatchPlan,
        next_offsets: &[(i32, i64)],
        cached: &[Option<i64>],
    ) -> impl Future<Output = Result<(), ProjectorError>> + Send;
    fn write_stats(
        &mut self,
        plan: &BatchPlan,
    ) -> impl Future<Output = Result<(), ProjectorError>> + Send;
    fn commit(self) -> impl Future<Output = Result<(), ProjectorError>> + Send;
}

/// Where poison records go; `Ok` once they are safe there.
pub trait DeadLetterSink: Send + Sync + 'static {
    fn send_all(
        &self,
        poison: &[Poison],
    ) -> impl Future<Output = Result<(), ProjectorError>> + Send;
}

/// Decodes a record's value through the registry.
pub trait Decoder: Send + Sync + 'static {
    fn decode(&self, payload: &[u8]) -> impl Future<Output = Result<Event, CodecError>> + Send;
}

/// The order cache's write-through, after the commit.
pub trait CacheSink: Send + Sync + 'static {
    /// How far the cache is confirmed for each of `partitions` (`None`: not known yet).
    fn confirmed(&self, partitions: &[i32]) -> Vec<Option<i64>>;
    /// Queues the documents of a committed batch whose partitions now continue at
    /// `offsets`.
    fn write(
        &self,
        views: Vec<OrderView>,
        offsets: Vec<(i32, i64)>,
    ) -> impl Future<Output = ()> + Send;
}

/// Where the committed offsets are mirrored for monitoring tools (Postgres holds the
/// truth); best effort.
pub trait OffsetMirror: Send + Sync + 'static {
    fn mirror(&self, offsets: &[(i32, i64)]);
}

/// The ports of one pipeline, bundled so the pipeline and its loops take one type
/// parameter.
pub trait Ports: Send + Sync + 'static {
    type Store: BatchStore;
    type DeadLetters: DeadLetterSink;
    type Decoder: Decoder;
    type Cache: CacheSink;
    type Mirror: OffsetMirror;
}

/// The real sinks: Postgres, the dead-letter topic (or none, for a rebuild), the Schema
/// Registry, the Redis cache writer and the group consumer.
pub struct LivePorts;

impl Ports for LivePorts {
    type Store = Store;
    type DeadLetters = PoisonRoute;
    type Decoder = EventCodec;
    type Cache = CacheWriter;
    type Mirror = GroupConsumer;
}

impl BatchStore for Store {
    type Tx = BatchTx;

    async fn begin(&self) -> Result<BatchTx, ProjectorError> {
        Store::begin(self).await
    }

    async fn claim_offsets(&self, partitions: &[i32]) -> Result<Offsets, ProjectorError> {
        Store::claim_offsets(self, partitions).await
    }
}

impl BatchTransaction for BatchTx {
    async fn lock_offsets(&mut self, expected: &[(i32, i64)]) -> Result<(), ProjectorError> {
        BatchTx::lock_offsets(self, expected).await
    }

    async fn load_orders(
        &mut self,
        order_ids: &[String],
    ) -> Result<HashMap<String, OrderView>, ProjectorError> {
        BatchTx::load_orders(self, order_ids).await
    }

    async fn write(
        &mut self,
        plan: &BatchPlan,
        next_offsets: &[(i32, i64)],
        cached: &[Option<i64>],
    ) -> Result<(), ProjectorError> {
        BatchTx::write(self, plan, next_offsets, cached).await
    }

    async fn write_stats(&mut self, plan: &BatchPlan) -> Result<(), ProjectorError> {
        BatchTx::write_stats(self, plan).await
    }

    async fn commit(self) -> Result<(), ProjectorError> {
        BatchTx::commit(self).await
    }
}

impl Decoder for EventCodec {
    async fn decode(&self, payload: &[u8]) -> Result<Event, CodecError> {
        EventCodec::decode(self, payload).await
    }
}

impl CacheSink for CacheWriter {
    fn confirmed(&self, partitions: &[i32]) -> Vec<Option<i64>> {
        CacheWriter::confirmed(self, partitions)
    }

    async fn write(&self, views: Vec<OrderView>, offsets: Vec<(i32, i64)>) {
        CacheWriter::write(self, views, offsets).await
    }
}

impl OffsetMirror for GroupConsumer {
    /// Kafka's committed offsets are for monitoring tools only; Postgres is the truth.
    fn mirror(&self, offsets: &[(i32, i64)]) {
        let mut tpl = TopicPartitionList::new();
        let topic = self.context().topic();
        for &(partition, offset) in offsets {
            let _ = tpl.add_partition_offset(topic, partition, Offset::Offset(offset));
        }
        if let Err(e) = self.commit(&tpl, CommitMode::Async) {
            tracing::debug!(error = %e, "committing offsets to Kafka failed (monitoring only)");
        }
    }
}
