//! What happens to one order, decided up front and pure: the steps after its placement,
//! each after a delay, as a warehouse, a carrier and a delivery service would take them.
//! Some orders are cancelled before they ship.

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};
use std::time::Duration;

const WAREHOUSES: [&str; 3] = ["wh-east", "wh-west", "wh-central"];
const CARRIERS: [&str; 3] = ["UPS", "DHL", "FedEx"];
const HUBS: [&str; 5] = [
    "Hub Frankfurt",
    "Hub Leipzig",
    "Hub Cologne",
    "Depot Springfield",
    "Out for delivery",
];
const REASONS: [&str; 3] = ["changed my mind", "found it cheaper", "ordered twice"];

/// One command of an order's life: its path under `/orders/{id}/` and its body.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub path: &'static str,
    pub body: Value,
}

/// The steps of one order after its placement, each with the delay before it (at
/// `speed` 1, seconds of realistic time; `speed` 10 is ten times faster). An order is
/// cancelled with `cancel_percent` % chance, while placed or packed.
pub fn plan(rng: &mut impl Rng, cancel_percent: u8, speed: f64) -> Vec<(Duration, Step)> {
    let mut steps = Vec::new();
    let cancelled = rng.random_range(0..100) < u32::from(cancel_percent);
    let cancel_packed = rng.random_bool(0.5);
    if cancelled && !cancel_packed {
        steps.push((wait(rng, 1.0..6.0, speed), cancel(rng)));
        return steps;
    }
    let warehouse = WAREHOUSES.choose(rng).copied().unwrap_or("wh-east");
    steps.push((
        wait(rng, 2.0..8.0, speed),
        step("pack", json!({ "warehouse": warehouse })),
    ));
    if cancelled {
        steps.push((wait(rng, 1.0..6.0, speed), cancel(rng)));
        return steps;
    }
    let carrier = CARRIERS.choose(rng).copied().unwrap_or("UPS");
    let tracking = format!("{}{:08}", &carrier[..1], rng.random_range(0..100_000_000));
    let ship = json!({"carrier": carrier, "tracking_number": tracking});
    steps.push((wait(rng, 3.0..10.0, speed), step("ship", ship)));
    let stops = rng.random_range(1..=3);
    let hubs: Vec<&str> = HUBS.choose_multiple(rng, stops).copied().collect();
    for hub in hubs {
        steps.push((
            wait(rng, 2.0..6.0, speed),
            step("location", json!({ "location": hub })),
        ));
    }
    steps.push((wait(rng, 3.0..10.0, speed), step("deliver", json!({}))));
    steps
}

/// A delay drawn from `seconds`, divided by `speed`.
fn wait(rng: &mut impl Rng, seconds: std::ops::Range<f64>, speed: f64) -> Duration {
    Duration::from_secs_f64(rng.random_range(seconds) / speed)
}

fn cancel(rng: &mut impl Rng) -> Step {
    let reason = REASONS.choose(rng).copied().unwrap_or("changed my mind");
    step("cancel", json!({ "reason": reason }))
}

fn step(path: &'static str, body: Value) -> Step {
    Step { path, body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn plans(cancel_percent: u8) -> Vec<Vec<(Duration, Step)>> {
        let mut rng = StdRng::seed_from_u64(7);
        (0..500)
            .map(|_| plan(&mut rng, cancel_percent, 1.0))
            .collect()
    }

    fn paths(plan: &[(Duration, Step)]) -> Vec<&'static str> {
        plan.iter().map(|(_, step)| step.path).collect()
    }

    #[test]
    fn every_order_ends_delivered_or_cancelled_before_it_ships() {
        for plan in plans(30) {
            match paths(&plan).as_slice() {
                ["cancel"] | ["pack", "cancel"] => {}
                ["pack", "ship", locations @ .., "deliver"] => {
                    assert!((1..=3).contains(&locations.len()), "{plan:?}");
                    assert!(locations.iter().all(|p| *p == "location"));
                }
                other => panic!("an order the lifecycle does not allow: {other:?}"),
            }
        }
    }

    #[test]
    fn about_the_asked_share_is_cancelled_and_none_without_asking() {
        let cancelled = |plans: Vec<Vec<(Duration, Step)>>| {
            plans
                .iter()
                .filter(|p| paths(p).contains(&"cancel"))
                .count()
        };
        assert_eq!(cancelled(plans(0)), 0);
        let share = cancelled(plans(30));
        assert!(
            (100..200).contains(&share),
            "{share} of 500 cancelled at 30 %"
        );
    }

    #[test]
    fn delays_are_seconds_and_speed_divides_them() {
        let mut rng = StdRng::seed_from_u64(1);
        let slow = plan(&mut rng, 0, 1.0);
        assert!(
            slow.iter()
                .all(|(d, _)| (1.0..10.0).contains(&d.as_secs_f64()))
        );
        let mut rng = StdRng::seed_from_u64(1);
        let fast = plan(&mut rng, 0, 100.0);
        assert!(fast.iter().all(|(d, _)| d.as_secs_f64() < 0.1));
    }
}
