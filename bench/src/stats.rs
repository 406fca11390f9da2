//! Latency recording (hdrhistogram, microseconds) and the summary a report shows.

use crate::load::Outcome;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Highest latency recorded exactly; anything slower is clamped to it.
const MAX_MICROS: u64 = 60_000_000;

/// Latencies and outcomes of one task; tasks' recorders are merged at the end.
#[derive(Debug, Clone)]
pub struct Recorder {
    latencies: Histogram<u64>,
    failures: BTreeMap<u16, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            latencies: Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid bounds"),
            failures: BTreeMap::new(),
        }
    }

    /// Records one operation. Failed operations are counted, not timed: a fast error must
    /// not flatter the percentiles.
    pub fn record(&mut self, latency: Duration, outcome: Outcome) {
        match outcome {
            Outcome::Ok => self.record_latency(latency),
            Outcome::Failed(status) => *self.failures.entry(status).or_default() += 1,
            Outcome::Exhausted => {}
        }
    }

    /// Records a latency that is not an HTTP operation (e.g. visibility).
    pub fn record_latency(&mut self, latency: Duration) {
        let micros = (latency.as_micros() as u64).clamp(1, MAX_MICROS);
        self.latencies.record(micros).expect("clamped into bounds");
    }

    pub fn merge(&mut self, other: &Recorder) {
        self.latencies.add(&other.latencies).expect("same bounds");
        for (status, n) in &other.failures {
            *self.failures.entry(*status).or_default() += n;
        }
    }

    /// The summary over `elapsed` of wall time.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let ms = |q: f64| self.latencies.value_at_quantile(q) as f64 / 1000.0;
        let ok = self.latencies.len();
        Summary {
            ok,
            failed: self.failures.values().sum(),
            failures_by_status: self.failures.clone(),
            seconds: elapsed.as_secs_f64(),
            per_second: ok as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: self.latencies.max() as f64 / 1000.0,
        }
    }
}

/// Throughput and latency percentiles of one measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Operations answered as expected.
    pub ok: u64,
    /// Operations that failed (status 0: no answer).
    pub failed: u64,
    pub failures_by_status: BTreeMap<u16, u64>,
    pub seconds: f64,
    /// Successful operations per second.
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_but_not_timed() {
        let mut rec = Recorder::new();
        for ms in 1..=100 {
            rec.record(Duration::from_millis(ms), Outcome::Ok);
        }
        rec.record(Duration::from_micros(1), Outcome::Failed(503));
        rec.record(Duration::from_micros(1), Outcome::Failed(503));
        let s = rec.summary(Duration::from_secs(2));
        assert_eq!((s.ok, s.failed), (100, 2));
        assert_eq!(s.failures_by_status.get(&503), Some(&2));
        assert_eq!(s.per_second, 50.0);
        assert!((49.9..=50.1).contains(&s.p50_ms), "p50 {}", s.p50_ms);
        assert!((98.9..=99.1).contains(&s.p99_ms), "p99 {}", s.p99_ms);
    }

    #[test]
    fn merged_recorders_hold_both_tasks_samples() {
        let (mut a, mut b) = (Recorder::new(), Recorder::new());
        a.record(Duration::from_millis(1), Outcome::Ok);
        b.record(Duration::from_millis(9), Outcome::Ok);
        b.record(Duration::ZERO, Outcome::Failed(0));
        a.merge(&b);
        let s = a.summary(Duration::from_secs(1));
        assert_eq!((s.ok, s.failed), (2, 1));
        assert!(s.max_ms >= 8.9);
    }
}
