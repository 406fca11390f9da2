//! `--kafka-config-file`: librdkafka properties from a Java-style properties file, where
//! credentials go (a file's contents appear neither in process arguments nor in
//! environment listings). Nothing here ever shows a value of the file.

use std::fmt;
use std::path::{Path, PathBuf};

/// The properties of a `--kafka-config-file`. Its `Debug` shows the path and the keys,
/// never a value.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaConfigFile {
    path: PathBuf,
    pub(super) properties: Vec<(String, String)>,
}

/// Why a Kafka properties file cannot be used. Handling: fatal at start-up; the message
/// names the file and line, never a value of it (it may hold a password).
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read the Kafka properties file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a `key=value` line (nor a `#` comment)")]
    Syntax { path: PathBuf, line: usize },
}

impl KafkaConfigFile {
    /// Reads and parses the file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ConfigFileError> {
        let path = path.as_ref().to_owned();
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigFileError::Read {
            path: path.clone(),
            source,
        })?;
        let properties = parse_properties(&path, &text)?;
        Ok(KafkaConfigFile { path, properties })
    }

    /// `--kafka-config-file`'s parser: the file is read when the settings are parsed, so a
    /// bad file stops the service at start-up with clap's usage error.
    pub(super) fn parse_arg(path: &str) -> Result<Self, String> {
        KafkaConfigFile::load(path).map_err(|e| e.to_string())
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value of `key` in the file (the last, if it is there twice).
    pub fn get(&self, key: &str) -> Option<&str> {
        let found = self.properties.iter().rev().find(|(k, _)| k == key);
        found.map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for KafkaConfigFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.properties.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("KafkaConfigFile")
            .field("path", &self.path)
            .field("keys", &keys)
            .finish()
    }
}

/// `key=value` lines; blank lines and lines starting with `#` or `!` are skipped, and
/// spaces around keys and values trimmed. Java's `\` escapes and continuation lines are
/// not supported: librdkafka's values do not need them.
fn parse_properties(path: &Path, text: &str) -> Result<Vec<(String, String)>, ConfigFileError> {
    let mut properties = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let syntax = || ConfigFileError::Syntax {
            path: path.to_owned(),
            line: index + 1,
        };
        let (key, value) = line.split_once('=').ok_or_else(syntax)?;
        if key.trim().is_empty() {
            return Err(syntax());
        }
        properties.push((key.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(properties)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KafkaSettings;

    #[test]
    fn a_config_file_sits_between_the_defaults_and_the_overrides() {
        let file = temp_file(
            "a",
            "# credentials\nacks = 1\n\n! also a comment\nsasl.password=s3=cret\nlinger.ms=7\n",
        );
        let mut settings = KafkaSettings::new("b:9092")
            .with_config_file(&file)
            .unwrap();
        settings
            .properties
            .push(("linger.ms".to_owned(), "9".to_owned()));
        let config = settings.client_config(&[("acks", "all"), ("linger.ms", "5")]);
        assert_eq!(config.get("acks"), Some("1"));
        assert_eq!(config.get("sasl.password"), Some("s3=cret"));
        assert_eq!(config.get("linger.ms"), Some("9"));
        assert_eq!(settings.property("linger.ms"), Some("9"));
        assert_eq!(settings.property("acks"), Some("1"));
    }

    #[test]
    fn a_config_files_values_never_show_in_debug_or_errors() {
        let file = temp_file("b", "sasl.username=svc\nsasl.password=hunter2\n");
        let settings = KafkaSettings::new("b:9092")
            .with_config_file(&file)
            .unwrap();
        let shown = format!("{settings:?}");
        assert!(
            shown.contains("sasl.password") && !shown.contains("hunter2"),
            "{shown}"
        );

        let bad = temp_file("c", "sasl.username=svc\nhunter2\n");
        let error = KafkaConfigFile::load(&bad).unwrap_err().to_string();
        assert!(error.contains(&format!("{}:2:", bad.display())), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        let missing = KafkaConfigFile::load("/nonexistent/kafka.properties").unwrap_err();
        assert!(
            missing
                .to_string()
                .contains("/nonexistent/kafka.properties")
        );
    }

    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "orderflow-kafka-{}-{name}.properties",
            std::process::id()
        ));
        std::fs::write(&path, contents).unwrap();
        path
    }
}
