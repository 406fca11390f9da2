//! Progress of a rebuild: a bar on a terminal (events done of the log's end at the start,
//! events/s, ETA), plain log lines every few seconds otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Time between two log lines when not on a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, log lines otherwise.
    Auto,
    Bar,
    Log,
    /// Nothing (tests, embedding).
    Off,
}

/// The progress display of one run.
pub struct Progress {
    bar: Option<ProgressBar>,
    log: bool,
    started: Instant,
    start_done: u64,
    last_log: Instant,
    total: u64,
}

impl Progress {
    /// Starts showing progress towards `total` events, `done` of them already folded (a
    /// resumed rebuild).
    pub fn start(mode: ProgressMode, total: u64, done: u64) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (mode == ProgressMode::Bar || (mode == ProgressMode::Auto && terminal)).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} rebuild [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} events  {per_sec}  ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_position(done);
            bar.reset_eta();
            bar
        });
        Progress {
            log: bar.is_none() && mode != ProgressMode::Off,
            bar,
            started: Instant::now(),
            start_done: done,
            last_log: Instant::now(),
            total,
        }
    }

    /// Events folded so far (of the whole log, resumed part included).
    pub fn update(&mut self, done: u64) {
        // Records appended since the start make the log longer than the total.
        crate::health::metrics::rebuild_progress(done, self.total.max(done));
        if let Some(bar) = &self.bar {
            // Records appended since the start make the log longer than the total.
            if done > self.total {
                self.total = done;
                bar.set_length(done);
            }
            bar.set_position(done);
        } else if self.log && self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            let rate = self.rate(done);
            let eta = (rate > 0.0).then(|| self.total.saturating_sub(done) as f64 / rate);
            tracing::info!(
                done,
                total = self.total,
                events_per_sec = rate.round() as u64,
                eta_secs = eta.map(|s| s.round() as u64),
                "rebuild progress"
            );
        }
    }

    /// Events per second since this run started.
    pub fn rate(&self, done: u64) -> f64 {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        done.saturating_sub(self.start_done) as f64 / secs
    }

    /// Leaves the bar (if any) with its final figures.
    pub fn finish(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_with_message(message.to_owned());
        }
    }
}
