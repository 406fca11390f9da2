//! Verified tokens, remembered for a short while: clients reuse one token for many
//! requests, and an ES256/RS256 verification per request costs real CPU.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::{InvalidToken, Principal};

/// The SHA-256 of a token: the cache never holds a usable token.
pub(crate) type Digest = [u8; 32];

struct Entry {
    principal: Principal,
    expires_at: u64,
    cached_at: Instant,
}

/// A bounded map from token digest to principal. An entry is good until the earlier of its
/// token's `exp` (plus leeway, as verification allows) and `max_age`, so a key removed
/// from the JWKS stops working within `max_age` even for tokens already seen.
pub(crate) struct TokenCache {
    entries: RwLock<HashMap<Digest, Entry>>,
    capacity: usize,
    max_age: Duration,
}

/// What the cache knows of a token.
pub(crate) enum Lookup {
    Hit(Principal),
    /// Verified once, but its `exp` has passed since.
    Expired,
    Miss,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize, max_age: Duration) -> TokenCache {
        TokenCache {
            entries: RwLock::new(HashMap::new()),
            capacity,
            max_age,
        }
    }

    /// The cached verdict on `digest` at `now` (seconds since the epoch).
    pub(crate) fn get(&self, digest: &Digest, now: u64, leeway_secs: u64) -> Lookup {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        match entries.get(digest) {
            Some(entry) if entry.cached_at.elapsed() >= self.max_age => Lookup::Miss,
            Some(entry) if entry.expires_at.saturating_add(leeway_secs) < now => Lookup::Expired,
            Some(entry) => Lookup::Hit(entry.principal.clone()),
            None => Lookup::Miss,
        }
    }

    /// Remembers a verified token. When full, stale entries go first; if every entry is
    /// fresh (many distinct tokens at once) the map starts over rather than grow, which
    /// costs re-verifications and never memory.
    pub(crate) fn insert(&self, digest: Digest, principal: Principal, expires_at: u64, now: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity {
            let max_age = self.max_age;
            entries.retain(|_, e| e.cached_at.elapsed() < max_age && e.expires_at >= now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        let entry = Entry {
            principal,
            expires_at,
            cached_at: Instant::now(),
        };
        entries.insert(digest, entry);
    }

    /// Forgets everything: the trusted keys changed.
    pub(crate) fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().unwrap().len()
    }
}

impl Lookup {
    /// The verdict, if the cache has one.
    pub(crate) fn verdict(self) -> Option<Result<Principal, InvalidToken>> {
        match self {
            Lookup::Hit(principal) => Some(Ok(principal)),
            Lookup::Expired => Some(Err(InvalidToken::Expired)),
            Lookup::Miss => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    const NOW: u64 = 1_800_000_000;

    fn operator() -> Principal {
        Principal::new("ops-1", [Role::Operator])
    }

    #[test]
    fn a_cached_token_is_a_hit_until_its_exp_plus_leeway() {
        let cache = TokenCache::new(10, Duration::from_secs(60));
        cache.insert([1; 32], operator(), NOW + 10, NOW);
        assert!(matches!(cache.get(&[1; 32], NOW, 30), Lookup::Hit(p) if p == operator()));
        assert!(matches!(cache.get(&[1; 32], NOW + 40, 30), Lookup::Hit(_)));
        assert!(matches!(cache.get(&[1; 32], NOW + 41, 30), Lookup::Expired));
        assert!(matches!(cache.get(&[2; 32], NOW, 30), Lookup::Miss));
    }

    #[test]
    fn an_entry_older_than_the_max_age_is_a_miss() {
        let cache = TokenCache::new(10, Duration::ZERO);
        cache.insert([1; 32], operator(), NOW + 3600, NOW);
        assert!(matches!(cache.get(&[1; 32], NOW, 30), Lookup::Miss));
    }

    #[test]
    fn the_cache_never_grows_past_its_capacity() {
        let cache = TokenCache::new(3, Duration::from_secs(60));
        for i in 0..10u8 {
            cache.insert([i; 32], operator(), NOW + 3600, NOW);
            assert!(cache.len() <= 3);
        }
        assert!(matches!(cache.get(&[9; 32], NOW, 0), Lookup::Hit(_)));
    }

    #[test]
    fn expired_entries_make_room_first() {
        let cache = TokenCache::new(2, Duration::from_secs(60));
        cache.insert([1; 32], operator(), NOW - 1, NOW - 100);
        cache.insert([2; 32], operator(), NOW + 3600, NOW);
        cache.insert([3; 32], operator(), NOW + 3600, NOW);
        assert!(matches!(cache.get(&[2; 32], NOW, 0), Lookup::Hit(_)));
        assert!(matches!(cache.get(&[3; 32], NOW, 0), Lookup::Hit(_)));
    }
}
