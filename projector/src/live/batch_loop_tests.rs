//! Given a store's offsets and orders, when a batch loop handles a batch, then these
//! records are folded, dead-lettered or waited for: the idempotence guard, fencing and
//! the poison split, over the fake ports of `test_ports` (no broker, no database).

use crate::fold::model::DecodedRecord;
use crate::fold::tests::{packed, placed, record as event};
use crate::live::batch_loop::Lane;
use crate::live::pipeline::{Ended, Pipeline};
use crate::live::record::Record;
use crate::live::stages::Staged;
use crate::live::test_ports::{Fake, Fakes, UNKNOWN_ID, World};
use orderflow_domain::{Event, EventKind};
use orderflow_schemas::CodecError;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

mod recorded;

/// A record of the log and what the decoder stage made of it.
type Staging = (Record, Result<Event, CodecError>);
/// The next offsets of each committed batch, in commit order.
type Commits = &'static [&'static [(i32, i64)]];

/// The record at `partition`/`offset` holding `order`'s event at `version`, keyed by
/// `key`.
fn keyed(key: &str, at: (i32, i64), order: &str, version: u64, kind: EventKind) -> Staging {
    let DecodedRecord { event, .. } = event(at.1, order, version, 0, kind);
    let record = Record {
        partition: at.0,
        offset: at.1,
        key: Some(key.as_bytes().to_vec()),
        payload: Some(vec![0, 0, 0, 0, 1]),
        timestamp: None,
        trace: None,
    };
    (record, Ok(event))
}

/// `order`'s event at `version`, keyed by the order, as it should be.
fn of(at: (i32, i64), order: &str, version: u64, kind: EventKind) -> Staging {
    keyed(order, at, order, version, kind)
}

/// The placement of order `o<offset>` at each offset of partition 0.
fn placements(offsets: impl IntoIterator<Item = i64>) -> Vec<Staging> {
    let order = |o: i64| format!("o{o}");
    let one = |o| of((0, o), &order(o), 1, placed(&[("sku-1", 1, "10")]));
    offsets.into_iter().map(one).collect()
}

/// The record at `partition`/`offset` that the decoder could not read, for `error`.
fn unreadable(at: (i32, i64), error: CodecError) -> Staging {
    let (record, _) = of(at, "x", 1, packed());
    (record, Err(error))
}

fn orders(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

struct Given {
    world: Arc<World>,
    /// Where the lane believes each partition it owns stands.
    lane: Vec<(i32, i64)>,
}

/// A store whose partitions stand at `offsets`, and a lane that owns them and agrees.
fn given_stored(offsets: &[(i32, i64)]) -> Given {
    let world = Arc::new(World::default());
    world.state().stored.extend(offsets.iter().copied());
    Given {
        world,
        lane: offsets.to_vec(),
    }
}

impl Given {
    /// The lane believes its partitions stand at `offsets` (another instance has moved
    /// them since, or not as far).
    fn lane_at(mut self, offsets: &[(i32, i64)]) -> Given {
        self.lane = offsets.to_vec();
        self
    }

    /// Orders stored before the batch, folded from `history` in one batch.
    fn with_orders(self, history: &[Staging]) -> Given {
        let events: Vec<DecodedRecord> = (history.iter())
            .map(|(r, e)| DecodedRecord {
                position: r.position(),
                event: e.clone().unwrap(),
            })
            .collect();
        let plan = crate::fold::fold_batch(Default::default(), &events);
        let views = plan
            .orders
            .into_iter()
            .map(|c| (c.view.order_id.clone(), c.view));
        self.world.state().orders.extend(views);
        self
    }

    /// The dead-letter topic refuses records; the loop is stopped when it tries.
    fn dead_letters_down(self) -> Given {
        self.world.state().dead_letters_down = true;
        self
    }

    /// A switch retired the generation the lane writes.
    fn retired(self) -> Given {
        self.world.state().retired = true;
        self
    }

    /// What the registry answers when asked again, in turn (then: an unknown schema id);
    /// the loop is stopped when it has been asked `stop_after` times.
    fn registry(self, answers: Vec<Result<Event, CodecError>>, stop_after: usize) -> Given {
        let mut state = self.world.state();
        state.registry = VecDeque::from(answers);
        state.stop_after_asks = Some(stop_after);
        drop(state);
        self
    }

    async fn when_handling(self, batch: Vec<Staging>) -> Then {
        let world = self.world;
        let pipeline = Pipeline::<Fakes> {
            store: Fake(world.clone()),
            codec: Arc::new(Fake(world.clone())),
            dead_letters: Fake(world.clone()),
            cache: Fake(world.clone()),
            health: world.health.clone(),
            positions: Default::default(),
            batch_max_records: 100,
        };
        let lane = Lane::new(Arc::new(pipeline), Arc::new(Fake(world.clone())));
        let (records, events) = batch.into_iter().unzip();
        let (feed, staged) = mpsc::channel(4);
        feed.send(Staged::Assigned(self.lane.into_iter().collect()))
            .await
            .unwrap();
        feed.send(Staged::Batch(records, events)).await.unwrap();
        drop(feed);
        let ended = lane.run(staged, world.stop.clone()).await;
        Then { ended, world }
    }
}

struct Then {
    ended: Ended,
    world: Arc<World>,
}

impl Then {
    fn folded_orders(&self) -> Vec<String> {
        let state = self.world.state();
        state
            .folded
            .iter()
            .map(|(order, _)| order.clone())
            .collect()
    }

    fn commits(&self) -> Vec<Vec<(i32, i64)>> {
        self.world.state().commits.clone()
    }

    fn dead_lettered(&self) -> Vec<i64> {
        self.world.state().dead_lettered.clone()
    }

    fn counter(&self, name: &str) -> u64 {
        self.world.health.snapshot()[name].as_u64().unwrap()
    }
}

#[tokio::test]
async fn records_below_a_partitions_stored_offset_are_dropped_and_the_rest_folded_once() {
    // (stored next offset of partition 0, the batch's offsets, folded orders, commits)
    let table: [(i64, Vec<i64>, &[&str], Commits); 4] = [
        (0, vec![0, 1, 2], &["o0", "o1", "o2"], &[&[(0, 3)]]),
        (2, vec![0, 1, 2, 3], &["o2", "o3"], &[&[(0, 4)]]),
        (4, vec![1, 2, 3], &[], &[]),
        (4, vec![4], &["o4"], &[&[(0, 5)]]),
    ];
    for (stored, batch, folded, commits) in table {
        let then = given_stored(&[(0, stored)])
            .when_handling(placements(batch.clone()))
            .await;
        let case = format!("stored {stored}, batch {batch:?}");
        assert_eq!(then.ended, Ended::Stopped, "{case}");
        assert_eq!(then.folded_orders(), orders(folded), "{case}");
        assert_eq!(then.commits(), commits, "{case}");
        assert!(then.dead_lettered().is_empty(), "{case}");
    }
}

#[tokio::test]
async fn a_record_of_a_partition_the_lane_does_not_own_is_neither_folded_nor_cached() {
    let other = of((1, 0), "b", 1, placed(&[("sku-1", 1, "10")]));
    let then = given_stored(&[(0, 0)]).when_handling(vec![other]).await;
    assert!(then.folded_orders().is_empty());
    assert!(then.commits().is_empty());
    assert!(then.world.state().cached.is_empty());
}

#[tokio::test]
async fn the_stored_state_of_replayed_records_is_written_to_the_cache_again_before_the_new() {
    let history = placements(0..2);
    let then = given_stored(&[(0, 2)])
        .with_orders(&history)
        .when_handling(placements(0..3))
        .await;
    let mut cached = then.world.state().cached.clone();
    // The replayed orders come back in no particular order; the new one comes after.
    cached[..2].sort();
    assert_eq!(cached, orders(&["o0", "o1", "o2"]));
    assert_eq!(then.folded_orders(), orders(&["o2"]));
}

#[tokio::test]
async fn a_fenced_lane_adopts_the_stored_offsets_and_folds_only_what_is_left() {
    // (where the lane believes partition 0 stands, where the store has it, folded, commits)
    let table: [(i64, i64, &[&str], Commits); 3] = [
        (0, 2, &["o2", "o3"], &[&[(0, 4)]]),
        (0, 4, &[], &[]),
        (3, 1, &["o1", "o2", "o3"], &[&[(0, 4)]]),
    ];
    for (believed, stored, folded, commits) in table {
        let then = given_stored(&[(0, stored)])
            .lane_at(&[(0, believed)])
            .when_handling(placements(0..4))
            .await;
        let case = format!("lane at {believed}, stored {stored}");
        assert_eq!(then.ended, Ended::Stopped, "{case}");
        assert_eq!(then.folded_orders(), orders(folded), "{case}");
        assert_eq!(then.commits(), commits, "{case}");
    }
}

#[tokio::test]
async fn poison_is_dead_lettered_before_the_commit_and_the_offsets_move_past_it() {
    let undecodable = unreadable((0, 1), CodecError::Malformed("not Avro".into()));
    let wrong_key = keyed("b", (0, 1), "c", 1, placed(&[("sku-1", 1, "10")]));
    let forbidden = of((0, 1), "a", 2, EventKind::Delivered);
    let fine = of((0, 1), "a", 2, packed());
    // (the record after a's placement, dead-lettered offsets, folded versions of a)
    let table: [(&str, Staging, &[i64], &[u64]); 4] = [
        ("undecodable", undecodable, &[1], &[1]),
        ("keyed under another order", wrong_key, &[1], &[1]),
        ("rejected by the fold", forbidden, &[1], &[1]),
        ("a good record", fine, &[], &[1, 2]),
    ];
    for (case, second, dead_lettered, versions) in table {
        let placement = of((0, 0), "a", 1, placed(&[("sku-1", 1, "10")]));
        let then = given_stored(&[(0, 0)])
            .when_handling(vec![placement, second])
            .await;
        let folded: Vec<u64> = then.world.state().folded.iter().map(|f| f.1).collect();
        assert_eq!(then.dead_lettered(), dead_lettered, "{case}");
        assert_eq!(folded, versions, "{case}");
        assert_eq!(then.commits(), [[(0, 2)]], "{case}");
        assert_eq!(then.counter("dead_lettered"), dead_lettered.len() as u64);
        assert_eq!(then.counter("applied"), versions.len() as u64, "{case}");
        assert_eq!(then.counter("batches"), 1, "{case}");
    }
}

#[tokio::test]
async fn a_batch_whose_poison_the_dead_letter_topic_refuses_is_not_committed() {
    let placement = of((0, 0), "a", 1, placed(&[("sku-1", 1, "10")]));
    let undecodable = unreadable((0, 1), CodecError::Malformed("not Avro".into()));
    let then = given_stored(&[(0, 0)])
        .dead_letters_down()
        .when_handling(vec![placement, undecodable])
        .await;
    assert_eq!(then.ended, Ended::Stopped);
    assert!(
        then.commits().is_empty(),
        "never committed past unsaved poison"
    );
    assert!(then.folded_orders().is_empty());
}

#[tokio::test]
async fn a_record_whose_schema_the_registry_does_not_know_is_waited_for_never_dead_lettered() {
    let unknown = unreadable((0, 1), CodecError::UnknownSchema { id: UNKNOWN_ID });
    let mut batch = placements([0]);
    batch.push(unknown);
    let then = given_stored(&[(0, 0)])
        .registry(Vec::new(), 2)
        .when_handling(batch)
        .await;
    assert_eq!(then.ended, Ended::Stopped);
    assert!(then.dead_lettered().is_empty());
    assert!(then.commits().is_empty(), "nothing is committed past it");
    let seen = then.world.state().stalled_seen.clone();
    assert!(
        seen[1].contains("partition 0 at offset 1"),
        "/readyz names the record while the batch waits: {seen:?}"
    );
    let stalled = then.world.health.snapshot()["stalled"].clone();
    assert_eq!(
        stalled,
        serde_json::json!([]),
        "a stopped lane waits no more"
    );
}

#[tokio::test]
async fn a_record_waited_for_is_folded_once_the_registry_knows_its_schema() {
    let (record, known) = of((0, 1), "a", 2, packed());
    let unknown = (record, Err(CodecError::UnknownSchema { id: UNKNOWN_ID }));
    let placement = of((0, 0), "a", 1, placed(&[("sku-1", 1, "10")]));
    let then = given_stored(&[(0, 0)])
        .registry(
            vec![Err(CodecError::UnknownSchema { id: UNKNOWN_ID }), known],
            99,
        )
        .when_handling(vec![placement, unknown])
        .await;
    assert_eq!(then.world.state().asks, 2);
    assert_eq!(then.folded_orders(), orders(&["a", "a"]));
    assert!(then.dead_lettered().is_empty());
    assert_eq!(then.commits(), [[(0, 2)]]);
    let stalled = then.world.health.snapshot()["stalled"].clone();
    assert_eq!(
        stalled,
        serde_json::json!([]),
        "committed: it waits no more"
    );
}

#[tokio::test]
async fn a_record_below_the_stored_offset_is_not_waited_for() {
    let unknown = unreadable((0, 0), CodecError::UnknownSchema { id: UNKNOWN_ID });
    let mut batch = vec![unknown];
    batch.extend(placements([1]));
    let then = given_stored(&[(0, 1)])
        .registry(Vec::new(), 1)
        .when_handling(batch)
        .await;
    assert_eq!(then.world.state().asks, 0, "the registry is not asked");
    assert_eq!(then.folded_orders(), orders(&["o1"]));
    assert!(then.dead_lettered().is_empty());
}

#[tokio::test]
async fn a_lane_whose_generation_was_retired_ends_as_not_live_without_committing() {
    let then = given_stored(&[(0, 0)])
        .retired()
        .when_handling(placements(0..2))
        .await;
    assert_eq!(then.ended, Ended::NotLive);
    assert!(then.commits().is_empty());
    assert_eq!(then.world.health.batches.load(Ordering::Relaxed), 0);
}
