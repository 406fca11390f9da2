//! Fakes of the batch loop's ports (`ports`), for `batch_loop_tests`: a store that keeps
//! its offsets and orders in memory and fences like Postgres does, a dead-letter sink, a
//! registry and a cache that record what the loop handed them.

use crate::error::ProjectorError;
use crate::fold::BatchPlan;
use crate::fold::model::OrderView;
use crate::health::Health;
use crate::live::ports::{
    BatchStore, BatchTransaction, CacheSink, DeadLetterSink, Decoder, OffsetMirror, Ports,
};
use crate::sinks::dlq::Poison;
use crate::sinks::postgres::Offsets;
use orderflow_domain::Event;
use orderflow_schemas::CodecError;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

/// The schema id the fake registry does not know.
pub const UNKNOWN_ID: u32 = 77;

/// What the fakes share: the stored state, and what the loop did to it.
#[derive(Default)]
pub struct World {
    pub state: Mutex<State>,
    pub health: Arc<Health>,
    /// Cancelled by the registry once it has been asked [`State::stop_after_asks`] times.
    pub stop: CancellationToken,
}

#[derive(Default)]
pub struct State {
    /// Stored next offset per partition.
    pub stored: Offsets,
    /// Stored orders.
    pub orders: HashMap<String, OrderView>,
    /// Whether the generation written is retired: every transaction fails as not live.
    pub retired: bool,
    /// Each committed batch's new next offsets, in commit order.
    pub commits: Vec<Vec<(i32, i64)>>,
    /// The events folded, as (order, version), in commit order.
    pub folded: Vec<(String, u64)>,
    /// Offsets of the records dead-lettered, in the order sent.
    pub dead_lettered: Vec<i64>,
    /// Whether the dead-letter topic refuses records (then `World::stop` is cancelled).
    pub dead_letters_down: bool,
    /// Ids of the orders written through to the cache, in order.
    pub cached: Vec<String>,
    /// What the registry answers when asked again, in turn; then [`UNKNOWN_ID`].
    pub registry: VecDeque<Result<Event, CodecError>>,
    /// Times the registry was asked.
    pub asks: usize,
    /// The registry cancels `World::stop` when asked this many times.
    pub stop_after_asks: Option<usize>,
    /// `/readyz`'s stalled records, as seen by the registry on each ask.
    pub stalled_seen: Vec<String>,
}

impl World {
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fakes' ports.
pub struct Fakes;

impl Ports for Fakes {
    type Store = Fake;
    type DeadLetters = Fake;
    type Decoder = Fake;
    type Cache = Fake;
    type Mirror = Fake;
}

/// Every port of the fakes, over one [`World`].
#[derive(Clone)]
pub struct Fake(pub Arc<World>);

/// A transaction of the fake store: writes stay pending until the commit.
pub struct FakeTx {
    world: Arc<World>,
    offsets: Vec<(i32, i64)>,
    plan: Option<BatchPlan>,
}

impl BatchStore for Fake {
    type Tx = FakeTx;

    async fn begin(&self) -> Result<FakeTx, ProjectorError> {
        if self.0.state().retired {
            return Err(ProjectorError::NotLive { generation: 1 });
        }
        Ok(FakeTx {
            world: self.0.clone(),
            offsets: Vec::new(),
            plan: None,
        })
    }

    async fn claim_offsets(&self, partitions: &[i32]) -> Result<Offsets, ProjectorError> {
        let mut state = self.0.state();
        let claimed = partitions
            .iter()
            .map(|&p| (p, *state.stored.entry(p).or_insert(0)));
        Ok(claimed.collect())
    }
}

impl BatchTransaction for FakeTx {
    async fn lock_offsets(&mut self, expected: &[(i32, i64)]) -> Result<(), ProjectorError> {
        // The real store's rule, over the fake's stored offsets.
        crate::sinks::postgres::fence(&self.world.state().stored, expected)
    }

    async fn load_orders(
        &mut self,
        order_ids: &[String],
    ) -> Result<HashMap<String, OrderView>, ProjectorError> {
        let state = self.world.state();
        let found = order_ids
            .iter()
            .filter_map(|id| state.orders.get(id).map(|v| (id.clone(), v.clone())));
        Ok(found.collect())
    }

    async fn write(
        &mut self,
        plan: &BatchPlan,
        next_offsets: &[(i32, i64)],
        _cached: &[Option<i64>],
    ) -> Result<(), ProjectorError> {
        self.plan = Some(plan.clone());
        self.offsets = next_offsets.to_vec();
        Ok(())
    }

    async fn write_stats(&mut self, _plan: &BatchPlan) -> Result<(), ProjectorError> {
        Ok(())
    }

    async fn commit(self) -> Result<(), ProjectorError> {
        let mut state = self.world.state();
        let plan = self.plan.unwrap_or_default();
        state.stored.extend(self.offsets.iter().copied());
        state.commits.push(self.offsets);
        let folded = plan.history.iter().map(|h| (h.order_id.clone(), h.version));
        state.folded.extend(folded);
        for change in plan.orders {
            state
                .orders
                .insert(change.view.order_id.clone(), change.view);
        }
        Ok(())
    }
}

impl DeadLetterSink for Fake {
    async fn send_all(&self, poison: &[Poison]) -> Result<(), ProjectorError> {
        let mut state = self.0.state();
        if state.dead_letters_down {
            self.0.stop.cancel();
            let down = RDKafkaErrorCode::BrokerTransportFailure;
            return Err(KafkaError::MessageProduction(down).into());
        }
        state
            .dead_lettered
            .extend(poison.iter().map(|p| p.position.offset));
        Ok(())
    }
}

impl Decoder for Fake {
    async fn decode(&self, _payload: &[u8]) -> Result<Event, CodecError> {
        let stalled = self.0.health.snapshot()["stalled"].to_string();
        let mut state = self.0.state();
        state.asks += 1;
        state.stalled_seen.push(stalled);
        if state.stop_after_asks == Some(state.asks) {
            self.0.stop.cancel();
        }
        let unknown = Err(CodecError::UnknownSchema { id: UNKNOWN_ID });
        state.registry.pop_front().unwrap_or(unknown)
    }
}

impl CacheSink for Fake {
    fn confirmed(&self, partitions: &[i32]) -> Vec<Option<i64>> {
        vec![None; partitions.len()]
    }

    async fn write(&self, views: Vec<OrderView>, _offsets: Vec<(i32, i64)>) {
        let ids = views.into_iter().map(|v| v.order_id);
        self.0.state().cached.extend(ids);
    }
}

impl OffsetMirror for Fake {
    fn mirror(&self, _offsets: &[(i32, i64)]) {}
}
