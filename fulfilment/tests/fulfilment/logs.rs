//! The stack's logs and the proxy's log, read back for the assertions.

use crate::support::{Stack, brokers};
use orderflow_domain::inventory::StockChange;
use orderflow_platform::{KafkaSettings, ReadToEnd, whole_partitions};
use orderflow_schemas::RegistryArgs;
use orderflow_schemas::ledger::{LedgerCodec, LedgerRecord, PaymentEvent, StockEvent};
use rdkafka::Message;
use std::time::Duration;

/// Every record of `topic`, decoded, in log order per partition.
async fn read<R: LedgerRecord>(topic: &str) -> Vec<R> {
    let registry = RegistryArgs::new(&orderflow_testkit::Registry::shared().url).settings();
    let codec = LedgerCodec::<R>::new(&registry, topic).unwrap();
    let reader = ReadToEnd::open(
        &KafkaSettings::new(brokers()),
        &[("group.id", "fulfilment-tests")],
        topic,
        &whole_partitions(6),
        Duration::from_secs(30),
    )
    .unwrap();
    let mut records = Vec::new();
    for message in reader.collect().await.unwrap() {
        records.push(codec.decode(message.payload().unwrap()).await.unwrap());
    }
    records
}

impl Stack {
    /// How many of `orders` are `status` now.
    pub async fn count_status(&self, orders: &[String], status: &str) -> usize {
        let mut n = 0;
        for order in orders {
            n += usize::from(self.status(order).await == status);
        }
        n
    }

    /// `(order, change)` of every record of the payment log.
    pub async fn payment_effects(&self) -> Vec<(String, String)> {
        read::<PaymentEvent>(&self.payments_topic)
            .await
            .into_iter()
            .map(|e| (e.order_id, e.change.status().as_str().to_owned()))
            .collect()
    }

    /// `(order, line)` of every reservation in the stock log.
    pub async fn reservations(&self) -> Vec<(String, u32)> {
        read::<StockEvent>(&self.inventory_topic)
            .await
            .into_iter()
            .filter_map(|e| match e.change {
                StockChange::Reserved { line, .. } => Some((line.order_id, line.line)),
                _ => None,
            })
            .collect()
    }

    /// The distinct idempotency keys of `order`'s processor calls, in the order first
    /// used.
    pub fn payment_keys(&self, order: &str) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for call in self.payment_calls(order) {
            let key = call.idempotency_key.unwrap_or_default();
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }
}
