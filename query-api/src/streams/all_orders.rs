//! The all-orders publisher (`GET /events`): the listener announces every changed order;
//! while anyone streams all orders, one task reads the announced orders, a burst at a
//! time in one query, and hands their documents to the all-orders channel. What it cannot
//! keep up with or cannot read ends the streams (`unavailable`) rather than go missing:
//! their clients reload and reconnect.

use crate::store::Store;
use crate::streams::{Change, EndReason, Frame, Hub};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

/// Announced orders read at once.
const BURST: usize = 256;

impl Hub {
    /// An order changed (a notification): read for the all-orders streams, if any.
    pub fn announce(&self, order_id: &str) {
        if self.all.receiver_count() == 0 {
            return;
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.announced.try_send(order_id.into())
            && !self.overflowed.swap(true, Ordering::AcqRel)
        {
            // The publisher is behind Postgres: rather than skip changes, end the streams.
            self.end_all_orders(EndReason::Unavailable);
        }
    }

    /// Notifications may have been lost (the listener reconnected): the all-orders
    /// streams cannot tell which, so they end. An order's own stream re-reads its history.
    pub fn changes_missed(&self) {
        self.end_all_orders(EndReason::Unavailable);
    }

    fn end_all_orders(&self, reason: EndReason) {
        let _ = self.all.send(Frame::End(reason));
    }

    /// Reads the announced orders and hands their documents to the all-orders streams,
    /// until shutdown. Runs once per process.
    pub async fn publish_all(self: Arc<Self>, store: Store) {
        let taken = match self.announced_rx.lock() {
            Ok(mut rx) => rx.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let Some(mut announced) = taken else {
            return;
        };
        let mut burst = Vec::with_capacity(BURST);
        loop {
            tokio::select! {
                () = self.stop.cancelled() => return,
                received = announced.recv_many(&mut burst, BURST) => if received == 0 {
                    return;
                },
            }
            // An order announced twice in a burst is read once, at its latest.
            let ids: Vec<String> = burst
                .drain(..)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            match orderflow_read_model::load_orders(store.pool(), &ids).await {
                Ok(views) => {
                    for view in &views {
                        let _ = self.all.send(Frame::Change(Arc::new(Change::of(view))));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading changed orders for the all-orders streams failed; ending them");
                    self.end_all_orders(EndReason::Unavailable);
                }
            }
            if announced.is_empty() {
                self.overflowed.store(false, Ordering::Release);
            }
        }
    }
}
