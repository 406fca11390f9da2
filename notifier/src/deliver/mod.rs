//! Delivery: workers claim due deliveries from the outbox, make one attempt each (all of a
//! claim at once), publish what was delivered or parked, and record every outcome.
//!
//! - `claims`: the queue in Postgres (claim with a lease, record the outcomes);
//! - `send`: one attempt on its channel (email, signed webhook);
//! - `publish`: `notifications.outbound` and the dead-letter topic.
//!
//! What follows an attempt is [`crate::retry::Policy::settle`]'s (pure, table-tested).

pub mod claims;
pub mod publish;
pub mod send;

use crate::health::Health;
use crate::metrics;
use crate::retry::{Outcome, Policy, Settlement};
use claims::{Claimed, Settled};
use orderflow_platform::Backoff;
use publish::Publisher;
use send::Sender;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// One delivery worker and what it needs.
pub struct Worker {
    pub pool: PgPool,
    pub sender: Sender,
    pub publisher: Arc<Publisher>,
    pub policy: Policy,
    pub health: Arc<Health>,
    /// Woken when the fold wrote notices.
    pub wake: Arc<Notify>,
    /// Most deliveries per claim.
    pub claim: usize,
    pub lease: Duration,
    /// How often an idle worker looks for deliveries that came due.
    pub poll: Duration,
}

impl Worker {
    /// Delivers until `stop`. An attempt under way when it stops is not recorded: its lease
    /// runs out and it is made again (under the same id).
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut backoff = Backoff::standard();
        while !stop.is_cancelled() {
            let claimed = match claims::claim(&self.pool, self.claim, self.lease).await {
                Ok(claimed) => {
                    self.health.set_database_up(true);
                    backoff.reset();
                    claimed
                }
                Err(e) => {
                    self.health.set_database_up(false);
                    tracing::warn!(error = %e, "claiming deliveries failed; retrying");
                    if !backoff.wait_unless(&stop).await {
                        return;
                    }
                    continue;
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.poll) => {}
                }
                continue;
            }
            if !self.deliver(claimed, &stop).await {
                return;
            }
        }
    }

    /// One attempt of each of `claimed`, all at once, each a task of its own (its timeout
    /// runs while earlier outcomes are recorded); the outcomes are recorded as they come
    /// in, a group at a time, so a slow receiver holds back no one else's record. False
    /// when stopped before everything was recorded.
    async fn deliver(&self, claimed: Vec<Claimed>, stop: &CancellationToken) -> bool {
        let mut sending = JoinSet::new();
        for c in claimed {
            let sender = self.sender.clone();
            sending.spawn(async move {
                let outcome = sender.send(&c).await;
                (c, outcome)
            });
        }
        while let Some(first) = sending.join_next().await {
            let mut done = Vec::new();
            let mut next = Some(first);
            while let Some(joined) = next {
                match joined {
                    Ok(sent) => done.push(sent),
                    // Its lease runs out and it is made again, under the same id.
                    Err(e) => tracing::error!(error = %e, "a delivery attempt's task failed"),
                }
                next = sending.try_join_next();
            }
            if !self.settle(done, stop).await {
                return false;
            }
        }
        true
    }

    /// Publishes and records how `done` went; false when stopped first.
    async fn settle(&self, done: Vec<(Claimed, Outcome)>, stop: &CancellationToken) -> bool {
        let settled: Vec<Settled> = done
            .iter()
            .map(|(c, outcome)| self.settled(c, outcome))
            .collect();
        let published: Vec<_> = done
            .iter()
            .zip(&settled)
            .map(|((c, _), s)| (c, &s.settlement, s.detail.as_deref()))
            .collect();
        let mut backoff = Backoff::standard();
        while let Err(e) = self.publisher.publish(&published).await {
            self.health.set_kafka_up(false);
            tracing::warn!(error = %e, "publishing delivered and parked notices failed; retrying");
            if !backoff.wait_unless(stop).await {
                return false;
            }
        }
        self.health.set_kafka_up(true);
        let mut backoff = Backoff::standard();
        while let Err(e) = claims::record(&self.pool, &settled).await {
            self.health.set_database_up(false);
            tracing::warn!(error = %e, "recording delivery outcomes failed; retrying");
            if !backoff.wait_unless(stop).await {
                return false;
            }
        }
        true
    }

    /// What follows `outcome` for `claimed`, counted and logged.
    fn settled(&self, claimed: &Claimed, outcome: &Outcome) -> Settled {
        let attempt = claimed.attempt.max(1) as u32;
        let settlement = self.policy.settle(attempt, outcome, rand::random::<f64>());
        metrics::attempt(claimed.channel(), label(&settlement));
        let detail = match outcome {
            Outcome::Failed(d) | Outcome::Undeliverable(d) => Some(d.clone()),
            Outcome::Delivered | Outcome::Unsubscribed => None,
        };
        if let Some(detail) = &detail {
            tracing::info!(notice = %claimed.notice_id, subscription = %claimed.subscription_id,
                attempt = claimed.attempt, detail, "delivery attempt failed");
        }
        Settled {
            notice_id: claimed.notice_id,
            subscription_id: claimed.subscription_id,
            attempt: claimed.attempt,
            settlement,
            detail,
        }
    }
}

fn label(settlement: &Settlement) -> &'static str {
    match settlement {
        Settlement::Delivered => "delivered",
        Settlement::Retry(_) => "failed",
        Settlement::Park => "parked",
        Settlement::Drop => "dropped",
    }
}
