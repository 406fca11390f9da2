//! When a failed delivery is tried again: an exponential ceiling (`base` × 2^(n-1), at
//! most `cap`) with full jitter, so receivers that failed together are not retried in
//! step. The random draw comes from the caller: this stays pure.

use std::time::Duration;

/// The delay before retry `attempt` (1 for the first retry), given `unit`, a draw in
/// `[0, 1)`.
pub fn delay(attempt: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let ceiling = base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(cap);
    ceiling.mul_f64(unit.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

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
