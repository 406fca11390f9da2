//! librdkafka settings: defaults for the local stack, every property overridable, from a
//! properties file (credentials) and from flags or the environment.

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::types::RDKafkaErrorCode;
use std::path::Path;

mod config_file;
pub use config_file::{ConfigFileError, KafkaConfigFile};

/// How to reach the Kafka cluster. Flattened into each binary's settings. Its `Debug`
/// masks secret properties (`sasl.password`, ...), so it can be logged.
#[derive(Clone, clap::Args)]
pub struct KafkaSettings {
    /// Bootstrap servers.
    #[arg(
        long = "kafka-brokers",
        env = "ORDERFLOW_KAFKA_BROKERS",
        default_value = "127.0.0.1:9092"
    )]
    pub brokers: String,
    /// Any librdkafka property as `key=value`, repeatable; applied last, so it wins over
    /// every default (e.g. `security.protocol=SASL_SSL`, `isolation.level=read_committed`).
    /// From the environment: `;`-separated.
    #[arg(
        long = "kafka-property",
        env = "ORDERFLOW_KAFKA_PROPERTIES",
        hide_env_values = true,
        value_delimiter = ';',
        value_parser = parse_property
    )]
    pub properties: Vec<(String, String)>,
    /// A file of librdkafka properties, Java-style `key=value` lines (`#` and `!` start a
    /// comment line), applied after the defaults and before `--kafka-property`: where
    /// credentials go (`sasl.password`, ...), since a file's contents appear neither in
    /// process arguments nor in environment listings. Read once, at start-up; its values
    /// are never shown, in logs or in errors (which name the file and line only).
    #[arg(
        long = "kafka-config-file",
        env = "ORDERFLOW_KAFKA_CONFIG_FILE",
        value_name = "PATH",
        value_parser = KafkaConfigFile::parse_arg
    )]
    pub config_file: Option<KafkaConfigFile>,
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let properties: Vec<_> = self
            .properties
            .iter()
            .map(|(k, v)| (k, crate::redact::property(k, v)))
            .collect();
        f.debug_struct("KafkaSettings")
            .field("brokers", &self.brokers)
            .field("properties", &properties)
            .field("config_file", &self.config_file)
            .finish()
    }
}

fn parse_property(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not key=value"))?;
    Ok((k.trim().to_owned(), v.trim().to_owned()))
}

impl KafkaSettings {
    /// Settings for `brokers` with no overrides.
    pub fn new(brokers: impl Into<String>) -> Self {
        KafkaSettings {
            brokers: brokers.into(),
            properties: Vec::new(),
            config_file: None,
        }
    }

    /// These settings with the properties of the file at `path` (as
    /// `--kafka-config-file` would load it).
    pub fn with_config_file(mut self, path: impl AsRef<Path>) -> Result<Self, ConfigFileError> {
        self.config_file = Some(KafkaConfigFile::load(path)?);
        Ok(self)
    }

    /// The value `key` takes in every client: the last of `--kafka-property`, else the
    /// config file's, else `None` (a client's own default may still apply).
    pub fn property(&self, key: &str) -> Option<&str> {
        let overridden = self.properties.iter().rev().find(|(k, _)| k == key);
        let from_file = || self.config_file.as_ref().and_then(|file| file.get(key));
        overridden.map(|(_, v)| v.as_str()).or_else(from_file)
    }

    /// A client config with `defaults` for this kind of client, then the overrides.
    pub fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        // Reconnect within a second of a broker coming back: with librdkafka's default
        // (backoff doubling up to 10 s), commands kept failing for up to 9 s after a
        // restarted broker was serving again (broker-kill test, ADR 0010).
        config.set("reconnect.backoff.max.ms", "1000");
        for (k, v) in defaults {
            config.set(*k, *v);
        }
        for (k, v) in self.config_file.iter().flat_map(|file| &file.properties) {
            config.set(k, v);
        }
        for (k, v) in &self.properties {
            config.set(k, v);
        }
        config
    }
}

/// Why `error` means the broker refused this client's principal: a failed login, or an
/// operation no ACL allows it. A sentence naming what was refused and the broker's code,
/// for `/readyz` and the log, so an operator sees "grant an ACL" rather than "broker
/// down"; `None` for any other error. `action` says what was attempted ("create or
/// describe topic orders.events"). Retrying cannot help until the ACL or the credentials
/// are fixed; the services retry slowly all the same, so a grant needs no restart.
pub fn access_denied(action: &str, error: &KafkaError) -> Option<String> {
    // `rdkafka_error_code` leaves out the admin operations' codes.
    let code = match error {
        KafkaError::AdminOp(code) => *code,
        other => other.rdkafka_error_code()?,
    };
    // The code names the kind of resource; only a topic refusal is about `action`.
    let (what, why) = match code {
        RDKafkaErrorCode::TopicAuthorizationFailed => (action, "TOPIC_AUTHORIZATION_FAILED"),
        RDKafkaErrorCode::GroupAuthorizationFailed => {
            ("use its consumer group", "GROUP_AUTHORIZATION_FAILED")
        }
        RDKafkaErrorCode::ClusterAuthorizationFailed => {
            ("act on the cluster", "CLUSTER_AUTHORIZATION_FAILED")
        }
        RDKafkaErrorCode::TransactionalIdAuthorizationFailed => (
            "use its transactional id",
            "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
        ),
        RDKafkaErrorCode::SaslAuthenticationFailed | RDKafkaErrorCode::Authentication => {
            return Some(format!(
                "the broker refused to authenticate this client ({error}): check its SASL \
                 username and password and the TLS trust settings"
            ));
        }
        _ => return None,
    };
    Some(format!("not authorized to {what}: {why} ({error})"))
}

/// Client context that reports librdkafka's errors through `tracing`, leaving out
/// end-of-partition, which readers use as a signal rather than a fault.
#[derive(Debug, Clone, Copy, Default)]
pub struct QuietEof;

impl ClientContext for QuietEof {
    fn error(&self, error: KafkaError, reason: &str) {
        match error {
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF) => {}
            other => tracing::warn!(error = %other, reason, "librdkafka"),
        }
    }
}

impl ConsumerContext for QuietEof {}

/// Why a consumer error means the log `topic` is gone, for `/readyz` and the log, or
/// `None` when it is some other (transient) error. Readers set `auto.offset.reset=error`,
/// so a position outside the log (records deleted, a log that shrank) is reported here
/// instead of being silently moved; a deleted topic is reported as unknown. Either is
/// fatal for the reader: it stops, reports not ready and logs why, and never skips ahead.
pub fn log_gone(topic: &str, error: &KafkaError) -> Option<String> {
    let code = match error {
        KafkaError::MessageConsumption(code) | KafkaError::Global(code) => *code,
        _ => return None,
    };
    let why = match code {
        RDKafkaErrorCode::AutoOffsetReset | RDKafkaErrorCode::OffsetOutOfRange => {
            "the read position is outside the log (records were deleted or the log shrank)"
        }
        RDKafkaErrorCode::UnknownTopicOrPartition
        | RDKafkaErrorCode::UnknownTopic
        | RDKafkaErrorCode::UnknownPartition
        | RDKafkaErrorCode::UnknownTopicId => "the topic or partition no longer exists",
        _ => return None,
    };
    Some(format!(
        "the event log {topic} cannot be read: {why} ({error})"
    ))
}

/// Whether a record whose delivery failed may be in the log all the same (librdkafka's
/// status is not `NOT_PERSISTED`: the request may have reached the broker before a
/// timeout or a lost connection), rather than certainly not.
pub fn possibly_persisted(message: &BorrowedMessage<'_>) -> bool {
    // SAFETY: `ptr` is the message librdkafka handed over, alive while `message` is.
    let status = unsafe { rdkafka::bindings::rd_kafka_message_status(message.ptr()) };
    status != rdkafka::bindings::rd_kafka_msg_status_t::RD_KAFKA_MSG_STATUS_NOT_PERSISTED
}

/// The partition Kafka's default partitioner (Java client, `murmur2_random` in librdkafka)
/// picks for `key`. Writers set the partition explicitly with it, so every client agrees
/// where an order's events live.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    ((murmur2(key) & 0x7fff_ffff) % partitions as u32) as i32
}

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`).
fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // Values from Kafka's own UtilsTest.testMurmur2.
        let cases: [(&[u8], i32); 3] = [
            (b"21", -973932308),
            (b"foobar", -790332482),
            (b"a-little-bit-long-string", -985981536),
        ];
        for (key, expected) in cases {
            assert_eq!(
                murmur2(key) as i32,
                expected,
                "{}",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn only_a_position_outside_the_log_or_a_missing_topic_means_the_log_is_gone() {
        let gone = [
            KafkaError::MessageConsumption(RDKafkaErrorCode::AutoOffsetReset),
            KafkaError::MessageConsumption(RDKafkaErrorCode::OffsetOutOfRange),
            KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition),
            KafkaError::Global(RDKafkaErrorCode::UnknownTopic),
        ];
        for e in &gone {
            assert!(log_gone("t", e).is_some(), "{e}");
        }
        let transient = [
            KafkaError::MessageConsumption(RDKafkaErrorCode::BrokerTransportFailure),
            KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
            KafkaError::PartitionEOF(3),
        ];
        for e in &transient {
            assert!(log_gone("t", e).is_none(), "{e}");
        }
    }

    #[test]
    fn only_refusals_of_the_principal_are_access_denied() {
        let denied = KafkaError::AdminOp(RDKafkaErrorCode::TopicAuthorizationFailed);
        let reason = access_denied("describe topic t", &denied).unwrap();
        assert!(
            reason.starts_with("not authorized to describe topic t: TOPIC_AUTHORIZATION_FAILED"),
            "{reason}"
        );
        let login = KafkaError::Global(RDKafkaErrorCode::Authentication);
        assert!(access_denied("x", &login).unwrap().contains("authenticate"));
        let down = KafkaError::Global(RDKafkaErrorCode::AllBrokersDown);
        assert!(access_denied("x", &down).is_none());
    }

    #[test]
    fn overrides_win_over_defaults() {
        let mut settings = KafkaSettings::new("b:9092");
        settings
            .properties
            .push(parse_property("acks = 1").unwrap());
        let config = settings.client_config(&[("acks", "all"), ("linger.ms", "5")]);
        assert_eq!(config.get("acks"), Some("1"));
        assert_eq!(config.get("linger.ms"), Some("5"));
        assert_eq!(config.get("bootstrap.servers"), Some("b:9092"));
        assert!(parse_property("nonsense").is_err());
    }
}
