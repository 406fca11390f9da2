//! The scale-out step (issue 19, ADR 0015): place-order with one command service and with
//! three in one group, in the same run, each on a topic of its own with no projector.
//! Clients spread their connections over the instances and send a new `Idempotency-Key`
//! with each placement, so an order's partition (and owner) follows from its key as a
//! retrying client's would, and two in three placements at three instances are forwarded
//! to their owner. On two cores this measures what forwarding costs, not a speed-up: the
//! three instances share the cores the one had.

use crate::http::Conn;
use crate::load::{Outcome, Workload, closed_loop};
use crate::report::Figure;
use crate::run::Ctx;
use crate::services::{Service, free_addr};
use crate::workloads::PLACE_BODY;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The topics the step's services write (deleted with the run's others).
pub fn topics(ctx: &Ctx) -> Vec<String> {
    ["scale1", "scale3"].map(|t| ctx.topic(t)).to_vec()
}

/// `POST /orders` with a new key each time, each client on one of `targets` in turn.
struct PlaceKeyed {
    targets: Vec<SocketAddr>,
    next: AtomicUsize,
}

impl Workload for PlaceKeyed {
    type Client = Conn;

    async fn connect(&self) -> anyhow::Result<Conn> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.targets.len();
        Ok(Conn::open(self.targets[i]).await?)
    }

    async fn run(&self, conn: &mut Conn) -> Outcome {
        let key = uuid::Uuid::new_v4().to_string();
        let body = Bytes::from_static(PLACE_BODY.as_bytes());
        match conn.post_keyed("/orders", body, &key).await {
            Ok(r) if r.status == 201 => Outcome::Ok,
            Ok(r) => Outcome::Failed(r.status),
            Err(_) => Outcome::Failed(0),
        }
    }
}

pub async fn run(ctx: &mut Ctx) -> anyhow::Result<()> {
    eprintln!("scale: place-order with 1 and with 3 command services");
    let mut figures = Vec::new();
    for (count, what) in [(1, "scale1"), (3, "scale3")] {
        let mut services = Vec::new();
        let mut targets = Vec::new();
        for i in 0..count {
            let (service, addr) = start(
                ctx,
                &ctx.topic(what),
                &format!("command-service-{what}-{i}"),
            )
            .await?;
            services.push(service);
            targets.push(addr);
        }
        // Every instance ready means every partition is owned and replayed.
        let secs = ctx.duration();
        let warm_up = (secs / 10).min(Duration::from_secs(3));
        let workload = Arc::new(PlaceKeyed {
            targets,
            next: AtomicUsize::new(0),
        });
        let summary = closed_loop(ctx.args.clients, warm_up, secs, workload).await;
        for service in services {
            service.stop().await?;
        }
        figures.push((count, summary?));
    }
    let one = figures[0].1.per_second;
    for (count, summary) in figures {
        let figure = Figure::rate(
            &format!("place-order with a key, {count} command service(s) (closed loop)"),
            "commands/s",
            summary,
        )
        .note(if count == 1 {
            "one instance owns every partition: no forwarding".to_owned()
        } else {
            "three instances in one group on the same 2 cores; connections spread over them, \
             two in three placements forwarded to their partition's owner"
                .to_owned()
        });
        ctx.report.add(if count == 1 {
            figure
        } else {
            figure.limit("one instance, same run", one)
        });
    }
    Ok(())
}

async fn start(ctx: &Ctx, topic: &str, name: &str) -> anyhow::Result<(Service, SocketAddr)> {
    let addr = free_addr()?;
    let env = [
        ("ORDERFLOW_TOPIC", topic.to_owned()),
        ("ORDERFLOW_COMMAND_LISTEN", addr.to_string()),
    ];
    let mut service = ctx
        .launcher
        .spawn(name, "command-service", &[], &env, Some(addr))?;
    service.ready(Duration::from_secs(600)).await?;
    Ok((service, addr))
}
