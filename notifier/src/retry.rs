//! When a failed delivery is tried again: an exponential ceiling (`base` × 2^(n-1), at
//! most `cap`) with full jitter, so receivers that failed together are not retried in
//! step. The random draw comes from the caller: this stays pure. [`Policy::settle`] decides
//! what follows an attempt: delivered, retried, parked or dropped.

use std::time::Duration;

/// The delay before retry `attempt` (1 for the first retry), given `unit`, a draw in
/// `[0, 1)`.
pub fn delay(attempt: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let ceiling = base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(cap);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver took it (a 2xx, or the SMTP server accepted the message).
    Delivered,
    /// It may work later (a 5xx, a timeout, a refused connection), with what went wrong.
    Failed(String),
    /// It cannot work (an address that does not parse): no retry helps.
    Undeliverable(String),
    /// Its subscription was deleted before its turn.
    Unsubscribed,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    Delivered,
    /// Try again after this long.
    Retry(Duration),
    /// No attempt is left (or none can work): to the dead-letter topic.
    Park,
    Drop,
}

/// How many attempts a delivery gets and how far apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Policy {
    /// What follows attempt `attempt` (from 1) that ended in `outcome`; `unit` is a
    /// random draw in `[0, 1)` for the jitter.
    pub fn settle(&self, attempt: u32, outcome: &Outcome, unit: f64) -> Settlement {
        match outcome {
            Outcome::Delivered => Settlement::Delivered,
            Outcome::Unsubscribed => Settlement::Drop,
            Outcome::Undeliverable(_) => Settlement::Park,
            Outcome::Failed(_) if attempt >= self.max_attempts => Settlement::Park,
            Outcome::Failed(_) => Settlement::Retry(delay(attempt, self.base, self.cap, unit)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_attempt_is_retried_until_the_last_then_parked() {
        let policy = Policy {
            max_attempts: 3,
            base: BASE,
            cap: CAP,
        };
        let failed = Outcome::Failed("HTTP 503".into());
        let table = [
            (1, &failed, Settlement::Retry(Duration::from_millis(250))),
            (2, &failed, Settlement::Retry(Duration::from_millis(500))),
            (3, &failed, Settlement::Park),
            (7, &failed, Settlement::Park),
            (1, &Outcome::Delivered, Settlement::Delivered),
            (3, &Outcome::Delivered, Settlement::Delivered),
            (
                1,
                &Outcome::Undeliverable("no address".into()),
                Settlement::Park,
            ),
            (1, &Outcome::Unsubscribed, Settlement::Drop),
        ];
        for (attempt, outcome, expected) in table {
            assert_eq!(
                policy.settle(attempt, outcome, 0.5),
                expected,
                "{attempt} {outcome:?}"
            );
        }
    }

    const BASE: Duration = Duration::from_millis(500);
    const CAP: Duration = Duration::from_secs(60);

    #[test]
    fn the_ceiling_doubles_with_each_retry_up_to_the_cap() {
        let ceilings: Vec<u64> = (1..=9)
            .map(|n| delay(n, BASE, CAP, 1.0).as_millis() as u64)
            .collect();
        assert_eq!(
            ceilings,
            [
                500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000
            ]
        );
        assert_eq!(delay(u32::MAX, BASE, CAP, 1.0), CAP);
    }

    #[test]
    fn the_jitter_spreads_retries_over_the_whole_ceiling() {
        assert_eq!(delay(3, BASE, CAP, 0.0), Duration::ZERO);
        assert_eq!(delay(3, BASE, CAP, 0.5), Duration::from_secs(1));
        assert_eq!(
            delay(3, BASE, CAP, 7.0),
            Duration::from_secs(2),
            "a draw is clamped"
        );
    }
}
