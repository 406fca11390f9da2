//! Idempotency keys: scoped to the caller, kept per order in a sorted index.
//!
//! A client's `Idempotency-Key` only means something together with who sent it: two
//! clients that both send `1` must never get each other's answer. So the key the log keeps
//! is [`scoped_key`], a SHA-256 of the caller's subject and the client's key (hex), which
//! also keeps clients' keys out of the log and the read model in the clear. In memory each
//! order indexes its keys by a digest of that text, sorted for binary search: no linear
//! scan, and at most one key per accepted event, which the location cap bounds.

use orderflow_domain::{Fingerprint, Status};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub use orderflow_auth::scoped_key;

/// The in-memory index form of a key read from the log (whatever its text: events written
/// before keys were scoped carry the client's raw key, which simply never matches again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    pub fn of(logged_key: &str) -> Self {
        KeyDigest(Sha256::digest(logged_key.as_bytes()).into())
    }
}

/// An event appended with an idempotency key, remembered so a retry gets the same answer.
#[derive(Debug)]
pub struct KeyRecord {
    pub key: KeyDigest,
    pub fingerprint: Fingerprint,
    pub version: u64,
    pub status: Status,
    pub event_id: Uuid,
    pub offset: i64,
}

/// The keys of one order, sorted by digest.
#[derive(Debug, Default)]
pub struct Keys(Vec<KeyRecord>);

impl Keys {
    pub fn find(&self, logged_key: &str) -> Option<&KeyRecord> {
        let key = KeyDigest::of(logged_key);
        self.0
            .binary_search_by(|r| r.key.cmp(&key))
            .ok()
            .map(|i| &self.0[i])
    }

    /// Remembers `record`; the first event with a key wins, as the log decides.
    pub fn insert(&mut self, record: KeyRecord) {
        if let Err(at) = self.0.binary_search_by(|r| r.key.cmp(&record.key)) {
            self.0.insert(at, record);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str, version: u64) -> KeyRecord {
        KeyRecord {
            key: KeyDigest::of(key),
            fingerprint: Fingerprint([0; 32]),
            version,
            status: Status::Shipped,
            event_id: Uuid::nil(),
            offset: 0,
        }
    }

    #[test]
    fn two_callers_with_the_same_key_get_different_scoped_keys() {
        assert_ne!(scoped_key("alice", "1"), scoped_key("bob", "1"));
        assert_eq!(scoped_key("alice", "1"), scoped_key("alice", "1"));
        assert_eq!(scoped_key("alice", "1").len(), 64);
    }

    #[test]
    fn a_subject_cannot_imitate_another_by_moving_characters_into_the_key() {
        assert_ne!(scoped_key("a:b", "c"), scoped_key("a", ":bc"));
        assert_ne!(scoped_key("ab", "c"), scoped_key("a", "bc"));
    }

    #[test]
    fn keys_are_found_by_their_logged_text_whatever_the_insertion_order() {
        let mut keys = Keys::default();
        for (i, key) in ["k3", "k1", "k2", "k1"].iter().enumerate() {
            keys.insert(record(key, i as u64 + 1));
        }
        assert_eq!(keys.len(), 3);
        assert_eq!(
            keys.find("k1").map(|r| r.version),
            Some(2),
            "the first k1 wins"
        );
        assert_eq!(keys.find("k3").map(|r| r.version), Some(1));
        assert!(keys.find("k4").is_none());
    }
}
