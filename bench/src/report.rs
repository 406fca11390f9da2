//! The report of one run: every figure with its target and its limit, written as JSON (for
//! tools) and Markdown (for people) under `bench/results/`.

use crate::stats::Summary;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A bound on a figure: the same work done by the bare tool on the same machine.
#[derive(Debug, Clone, Serialize)]
pub struct Limit {
    pub name: String,
    pub value: f64,
}

/// A target from the issue, and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub text: String,
    pub met: bool,
}

/// One measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub latency: Option<Summary>,
    pub target: Option<Target>,
    pub limit: Option<Limit>,
    /// `value / limit`: the share of the machine's bound this figure reaches.
    pub ratio: Option<f64>,
    pub note: Option<String>,
}

impl Figure {
    pub fn new(name: &str, value: f64, unit: &str) -> Self {
        Figure {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            latency: None,
            target: None,
            limit: None,
            ratio: None,
            note: None,
        }
    }

    /// A throughput figure with its latencies.
    pub fn rate(name: &str, unit: &str, summary: Summary) -> Self {
        let mut f = Figure::new(name, summary.per_second, unit);
        f.latency = Some(summary);
        f
    }

    pub fn target(mut self, text: &str, met: bool) -> Self {
        self.target = Some(Target {
            text: text.to_owned(),
            met,
        });
        self
    }

    pub fn limit(mut self, name: &str, value: f64) -> Self {
        self.ratio = (value > 0.0).then(|| self.value / value);
        self.limit = Some(Limit {
            name: name.to_owned(),
            value,
        });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// The machine a run was made on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
}

impl Machine {
    /// Reads `/proc` (Linux).
    pub fn detect() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_default();
        let mem_kib: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model,
            memory_gib: (mem_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub started_at: String,
    pub machine: Machine,
    /// The run's parameters, as given on the command line.
    pub parameters: serde_json::Value,
    pub figures: Vec<Figure>,
}

impl Report {
    /// Prints a figure as soon as it is measured, and keeps it.
    pub fn add(&mut self, figure: Figure) {
        eprintln!("{}", row(&figure));
        self.figures.push(figure);
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let broker = self.parameters["broker"].as_str().unwrap_or("unnamed");
        let mut out = format!(
            "# orderflow benchmark, {}\n\nMachine: {} CPUs ({}), {} GiB, Linux {}.\n\nBroker: {broker}.\n\nParameters: `{}`\n\n",
            self.started_at, m.cpus, m.cpu_model, m.memory_gib, m.kernel, self.parameters
        );
        out.push_str(
            "| Figure | Result | p50 ms | p99 ms | p99.9 ms | Target | Limit | Ratio |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        for f in &self.figures {
            out.push_str(&row(f));
            out.push('\n');
        }
        let notes: Vec<_> = self.figures.iter().filter(|f| f.note.is_some()).collect();
        if !notes.is_empty() {
            out.push_str("\nNotes:\n\n");
            for f in notes {
                let _ = writeln!(out, "- {}: {}", f.name, f.note.as_deref().unwrap_or(""));
            }
        }
        out
    }

    /// Writes `<stamp>.json` and `<stamp>.md` into `dir`, and copies both to `latest.*`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let stamp = self.started_at.replace([':', '-'], "").replace('T', "-");
        let json = serde_json::to_string_pretty(self)?;
        let md = self.markdown();
        let mut written = Vec::new();
        for name in [stamp.as_str(), "latest"] {
            for (ext, body) in [("json", &json), ("md", &md)] {
                let path = dir.join(format!("{name}.{ext}"));
                std::fs::write(&path, body)?;
                written.push(path);
            }
        }
        Ok(written)
    }
}

/// One Markdown table row.
fn row(f: &Figure) -> String {
    let ms = |pick: fn(&Summary) -> f64| f.latency.as_ref().map_or("–".into(), |s| fmt(pick(s)));
    let failed = f
        .latency
        .as_ref()
        .filter(|s| s.failed > 0)
        .map_or(String::new(), |s| format!(" ({} failed)", s.failed));
    format!(
        "| {} | {} {}{} | {} | {} | {} | {} | {} | {} |",
        f.name,
        fmt(f.value),
        f.unit,
        failed,
        ms(|s| s.p50_ms),
        ms(|s| s.p99_ms),
        ms(|s| s.p999_ms),
        f.target.as_ref().map_or("–".into(), |t| format!(
            "{} {}",
            t.text,
            if t.met { "✅" } else { "❌" }
        )),
        f.limit
            .as_ref()
            .map_or("–".into(), |l| format!("{} {}", l.name, fmt(l.value))),
        f.ratio.map_or("–".into(), |r| format!("{:.0}%", r * 100.0)),
    )
}

/// Numbers at a precision a reader can take in: 12,345 / 12.3 / 1.23.
fn fmt(v: f64) -> String {
    if v >= 1000.0 {
        let n = v.round() as u64;
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_rounded_for_reading() {
        assert_eq!(fmt(1_234_567.4), "1,234,567");
        assert_eq!(fmt(12.345), "12.3");
        assert_eq!(fmt(0.456), "0.46");
    }

    #[test]
    fn a_figure_with_a_limit_carries_its_ratio_and_the_row_shows_both() {
        let f = Figure::new("projector", 15_000.0, "events/s")
            .target("≥ 20,000/s", false)
            .limit("raw consume", 60_000.0);
        assert_eq!(f.ratio, Some(0.25));
        let r = row(&f);
        assert!(r.contains("15,000 events/s"), "{r}");
        assert!(r.contains("raw consume 60,000"), "{r}");
        assert!(r.contains("25%") && r.contains('❌'), "{r}");
    }
}
