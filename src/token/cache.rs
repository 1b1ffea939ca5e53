//! A cache of the tokens this replica has recently opened or sealed, mapped
//! to what opening them gave: a repeated `GET /cart` with the same token, and
//! the first read after a write on the same replica, skip base64,
//! decryption, inflation and parsing (docs/security.md, "The verified-token
//! cache").
//!
//! - It is a cache, never a store: losing it loses nothing, and any replica
//!   still opens any token.
//! - A hit is exact: the map compares whole tokens, not hashes of them.
//! - A hit is still checked: its lifetimes against the clock by the caller
//!   ([`TokenCodec::check_lifetimes`](super::TokenCodec::check_lifetimes)),
//!   and its keyring generation against the keyring in use, so a reload
//!   that changes key states misses every entry made before it, and a
//!   retired key's token never opens from the cache.
//! - Only tokens that opened, or that this replica sealed, are inserted, so
//!   bad tokens cannot churn it.
//! - It is bounded by entries and by bytes: every entry weighs at least
//!   `max_bytes / max_entries`, so `max_bytes` bounds both.

use std::sync::Arc;

use metrics::Counter;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};

use super::Opened;

/// What an entry costs beyond its token and cart: the map slot, the `Arc`,
/// the opened token's fields.
const ENTRY_OVERHEAD: u64 = 256;

/// An opened token as the cache keeps it.
#[derive(Debug)]
pub struct Cached {
    /// What opening the token gave, before its lifetimes were checked.
    pub opened: Opened,
    weight: u64,
}

#[derive(Debug, Clone)]
struct Weight {
    /// The least an entry weighs: the byte budget over the entry budget.
    floor: u64,
}

impl Weighter<String, Arc<Cached>> for Weight {
    fn weight(&self, _token: &String, cached: &Arc<Cached>) -> u64 {
        cached.weight.max(self.floor)
    }
}

#[derive(Debug, Clone)]
struct CountEvictions(Counter);

impl Lifecycle<String, Arc<Cached>> for CountEvictions {
    type RequestState = ();

    fn on_evict(&self, _: &mut (), _token: String, _cached: Arc<Cached>) {
        self.0.increment(1);
    }
}

/// The cache.
pub struct TokenCache {
    map: Cache<String, Arc<Cached>, Weight, DefaultHashBuilder, CountEvictions>,
    hits: Counter,
    misses: Counter,
}

impl std::fmt::Debug for TokenCache {
    // Keys are tokens: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.map.len())
            .field("weight", &self.map.weight())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache of at most `max_entries` entries and `max_bytes` bytes;
    /// `None` when either is 0 (the cache is off).
    pub fn new(max_entries: usize, max_bytes: u64) -> Option<Self> {
        if max_entries == 0 || max_bytes == 0 {
            return None;
        }
        let floor = max_bytes.div_ceil(max_entries as u64);
        Some(Self {
            map: Cache::with(
                max_entries,
                max_bytes,
                Weight { floor },
                DefaultHashBuilder::default(),
                CountEvictions(metrics::counter!("cartseal_token_cache_evictions_total")),
            ),
            hits: metrics::counter!("cartseal_token_cache_hits_total"),
            misses: metrics::counter!("cartseal_token_cache_misses_total"),
        })
    }

    /// The entry for exactly `token`, opened under the keyring of
    /// `generation`; anything else is a miss.
    pub fn get(&self, token: &str, generation: u64) -> Option<Arc<Cached>> {
        let hit = self
            .map
            .get(token)
            .filter(|cached| cached.opened.generation == generation);
        match hit {
            Some(_) => self.hits.increment(1),
            None => self.misses.increment(1),
        }
        hit
    }

    /// Keeps what opening `token` gave (or would give, for a token this
    /// replica just sealed).
    pub fn insert(&self, token: &str, opened: Opened) {
        let weight = crate::weight::held_bytes(token, &opened.cart, ENTRY_OVERHEAD as usize) as u64;
        self.map
            .insert(token.to_owned(), Arc::new(Cached { opened, weight }));
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
