//! How a worker's commands end other than by their read-back: a delivery that failed, a
//! doubt the reader settled, a deadline passed, or the partition reset or revoked.

use super::Worker;
use crate::aggregates::Aggregates;
use crate::doubt::{Doubt, Doubts, fetch_end};
use crate::error::CommandError;
use crate::log::DeliveryFailure;
use std::time::Instant;

impl Worker {
    /// The delivery of an in-flight event failed: the client gets 503. When the event is
    /// certainly not in the log, the order moves on; when it may be, the order waits for
    /// the reader to pass the log's end (see `doubt`).
    pub(super) async fn fail_in_flight(&mut self, failure: DeliveryFailure) {
        let order_id = failure.order_id.as_str();
        let Some(queue) = self.queues.get_mut(order_id) else {
            return;
        };
        let Some(in_flight) = queue
            .in_flight
            .as_mut()
            .filter(|f| f.payload == failure.payload)
        else {
            return;
        };
        tracing::warn!(%order_id, error = %failure.error, failure.possibly_persisted, "command not acknowledged");
        if let Some(reply) = in_flight.reply.take() {
            let _ = reply.send(Err(CommandError::Unavailable(failure.error)));
        }
        let doubt = Doubt {
            order_id: failure.order_id,
            payload: failure.payload,
        };
        if failure.possibly_persisted {
            let (reader, topic) = (self.ctx.reader.clone(), self.ctx.topic.clone());
            fetch_end(reader, topic, self.partition, doubt, self.ends.clone());
        } else {
            self.give_up(doubt).await;
        }
    }

    /// Gives up the doubts the reader has now passed.
    pub(super) async fn settle_doubts(&mut self) {
        for doubt in self.doubts.passed(self.next_offset) {
            self.give_up(doubt).await;
        }
    }

    /// The event of `doubt` is not in the log (or was settled already): its order moves on.
    pub(super) async fn give_up(&mut self, doubt: Doubt) {
        let Some(queue) = self.queues.get_mut(&doubt.order_id) else {
            return;
        };
        if queue
            .in_flight
            .take_if(|f| f.payload == doubt.payload)
            .is_some()
        {
            self.drain(&doubt.order_id).await;
        }
    }

    /// Answers 503 to commands whose event was not confirmed in time, keeping their orders
    /// blocked until the event's fate is known.
    pub(super) fn expire_in_flight(&mut self) {
        let now = Instant::now();
        for (order_id, queue) in &mut self.queues {
            let Some(in_flight) = queue.in_flight.as_mut().filter(|f| f.deadline <= now) else {
                continue;
            };
            if let Some(reply) = in_flight.reply.take() {
                tracing::warn!(%order_id, "event not confirmed by the log in time; answering 503");
                let error = CommandError::Unavailable(
                    "the event was not confirmed by the log in time".into(),
                );
                let _ = reply.send(Err(error));
            }
        }
    }

    /// Answers every command in flight or waiting with 503 (`why`) and starts over from an
    /// empty partition: after a revocation, or before the replay of a new assignment.
    pub(super) fn forget(&mut self, why: &str) {
        for (_, queue) in self.queues.drain() {
            let in_flight = queue.in_flight.and_then(|f| f.reply);
            for reply in in_flight
                .into_iter()
                .chain(queue.waiting.into_iter().map(|(_, r)| r))
            {
                let _ = reply.send(Err(CommandError::Unavailable(why.to_owned())));
            }
        }
        self.aggregates = Aggregates::new(self.partition, self.ctx.max_locations);
        self.doubts = Doubts::default();
        self.next_offset = 0;
        self.replayed = false;
    }
}
