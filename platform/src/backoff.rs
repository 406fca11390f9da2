//! [`Backoff`]: how every retry loop waits for a dependency that is down or busy.
//!
//! One shape for the whole project: waits double from a first delay up to a cap, so a
//! dependency that comes back is noticed within the cap, and one that stays away costs a
//! retry per cap. Loops that log each failure show [`Backoff::delay`], the wait ahead.

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Doubling waits, capped.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    next: Duration,
    cap: Duration,
}

impl Backoff {
    /// Waits of `first`, then twice as long each time, never over `cap`.
    pub fn new(first: Duration, cap: Duration) -> Backoff {
        Backoff {
            first,
            next: first.min(cap),
            cap,
        }
    }

    /// The usual retry: 100 ms, doubling up to 5 s.
    pub fn standard() -> Backoff {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
    }

    /// The wait the next [`Backoff::wait`] will take.
    pub fn delay(&self) -> Duration {
        self.next
    }

    /// Sleeps the current delay, then doubles it (up to the cap).
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.advance()).await;
    }

    /// [`Backoff::wait`], cut short by `stop`: false when stopped (the loop should end).
    pub async fn wait_unless(&mut self, stop: &CancellationToken) -> bool {
        tokio::select! {
            _ = stop.cancelled() => false,
            _ = self.wait() => true,
        }
    }

    /// The current delay, doubling the next one (up to the cap): for loops that cannot
    /// sleep on the runtime (a polling thread).
    pub fn advance(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.cap);
        delay
    }

    /// Back to the first delay, after a success.
    pub fn reset(&mut self) {
        self.next = self.first.min(self.cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_reset_to_the_first() {
        let ms = Duration::from_millis;
        let mut backoff = Backoff::new(ms(100), ms(500));
        let delays: Vec<Duration> = (0..5).map(|_| backoff.advance()).collect();
        assert_eq!(delays, [ms(100), ms(200), ms(400), ms(500), ms(500)]);
        backoff.reset();
        assert_eq!(backoff.delay(), ms(100));
    }

    #[test]
    fn a_first_delay_over_the_cap_is_capped() {
        let mut backoff = Backoff::new(Duration::from_secs(9), Duration::from_secs(5));
        assert_eq!(backoff.advance(), Duration::from_secs(5));
    }
}
