//! The schema history of every event type as kept on disk (`<dir>/<Event>/v1.avsc`,
//! `v2.avsc`, ...), and the offline check that the newest version of each is compatible
//! with the older ones: no server needed, so it runs in the test suite and in CI.

use crate::compatibility::{CompatibilityLevel, Earlier, check};
use apache_avro::Schema;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The versions of one event's schema, oldest first.
#[derive(Debug)]
pub struct SchemaHistory {
    /// The event type, i.e. the folder name (`OrderShipped`).
    pub event: String,
    pub versions: Vec<(u32, Schema)>,
    /// The newest version's text, as registered.
    pub newest_source: String,
    /// The event's own level, from `<Event>/compatibility`, when it departs from the
    /// project default (for instance after a rename that only upcasters can carry).
    pub level: Option<CompatibilityLevel>,
}

/// The level every event is held to unless its folder says otherwise.
pub const DEFAULT_LEVEL: CompatibilityLevel = CompatibilityLevel::FullTransitive;

/// Why a history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The folder or a file cannot be read. Handling: report and fail the check.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file is not a valid Avro schema. Handling: report and fail the check.
    #[error("{path} is not a valid Avro schema: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Reads every `<dir>/<Event>/vN.avsc`, ignoring other files.
pub fn load_histories(dir: &Path) -> Result<Vec<SchemaHistory>, HistoryError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| HistoryError::Io { path, source }
    };
    let mut histories = Vec::new();
    let mut events: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    events.sort();
    for event_dir in events {
        let mut versions = BTreeMap::new();
        let mut sources = BTreeMap::new();
        for entry in std::fs::read_dir(&event_dir).map_err(io(&event_dir))? {
            let path = entry.map_err(io(&event_dir))?.path();
            let Some(version) = version_of(&path) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            let schema = Schema::parse_str(&text).map_err(|e| HistoryError::Invalid {
                path: path.clone(),
                message: e.to_string(),
            })?;
            versions.insert(version, schema);
            sources.insert(version, text);
        }
        let event = event_dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let newest_source = sources.into_values().next_back().unwrap_or_default();
        let level_file = event_dir.join("compatibility");
        let level = match std::fs::read_to_string(&level_file) {
            Ok(text) => Some(text.trim().parse().map_err(|e| HistoryError::Invalid {
                path: level_file.clone(),
                message: format!("{e}"),
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(HistoryError::Io {
                    path: level_file,
                    source,
                });
            }
        };
        histories.push(SchemaHistory {
            event,
            versions: versions.into_iter().collect(),
            newest_source,
            level,
        });
    }
    Ok(histories)
}

/// `v12.avsc` → 12.
fn version_of(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix('v')?.strip_suffix(".avsc")?.parse().ok()
}

impl SchemaHistory {
    /// The full record name of the newest version (`com.orderflow.events.OrderShipped`).
    pub fn record_name(&self) -> Option<String> {
        match self.versions.last() {
            Some((_, Schema::Record(record))) => Some(record.name.fullname(None)),
            _ => None,
        }
    }

    /// Every way the newest version breaks `level` against the older ones, each message
    /// naming the event, the versions and the field at fault; empty when compatible.
    pub fn check(&self, level: CompatibilityLevel) -> Vec<String> {
        let Some(((newest, candidate), older)) = self.versions.split_last() else {
            return Vec::new();
        };
        let earlier: Vec<Earlier<'_>> = older
            .iter()
            .map(|(version, schema)| Earlier {
                version: *version as i32,
                schema,
            })
            .collect();
        check(level, candidate, &earlier)
            .into_iter()
            .map(|message| format!("{} v{newest}: {message}", self.event))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The project's own history must pass the default level: an incompatible edit of an
    /// `.avsc` file fails the test suite, and so CI.
    #[test]
    fn every_event_schema_history_is_compatible_under_its_level() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("avro");
        let histories = load_histories(&dir).unwrap();
        assert_eq!(histories.len(), 8);
        for history in &histories {
            assert!(!history.versions.is_empty(), "{}", history.event);
            let level = history.level.unwrap_or(DEFAULT_LEVEL);
            assert_eq!(history.check(level), Vec::<String>::new());
        }
    }

    #[test]
    fn an_incompatible_new_version_is_reported_with_event_versions_and_field() {
        let dir = std::env::temp_dir().join(format!("orderflow-schemas-{}", std::process::id()));
        let event = dir.join("OrderShipped");
        std::fs::create_dir_all(&event).unwrap();
        let v1 = r#"{"type":"record","name":"OrderShipped","fields":[{"name":"carrier","type":"string"}]}"#;
        let v2 = r#"{"type":"record","name":"OrderShipped","fields":[{"name":"carrier","type":"string"},{"name":"eta","type":"long"}]}"#;
        std::fs::write(event.join("v1.avsc"), v1).unwrap();
        std::fs::write(event.join("v2.avsc"), v2).unwrap();
        std::fs::write(event.join("notes.txt"), "ignored").unwrap();
        let histories = load_histories(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        let problems = histories[0].check(CompatibilityLevel::FullTransitive);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("OrderShipped v2: "),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains("version 1"), "{}", problems[0]);
        assert!(problems[0].contains("eta"), "{}", problems[0]);
        // Adding a field without a default is still forward compatible.
        assert!(histories[0].check(CompatibilityLevel::Forward).is_empty());
    }
}
