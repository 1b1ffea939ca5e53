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
//! - An entry also keeps the response body rendered from its cart
//!   ([`Memo`]), tagged with the catalog it was rendered against, so a
//!   repeated read copies bytes: no cart is cloned, escaped or priced again.
//! - What it admits: every token that opened on this replica, and the
//!   tokens it seals for a cart that already existed. The first write of an
//!   anonymous cart is not admitted, so a flood of new carts cannot churn
//!   it (docs/security.md, "The verified-token cache").
//! - An entry goes in once its response is rendered ([`Memo::keep`]), with
//!   that body in its weight; a token loaded only to be replaced (the one a
//!   write starts from) is never inserted.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use metrics::Counter;
use quick_cache::sync::Cache;
use quick_cache::{DefaultHashBuilder, Lifecycle, Weighter};

use super::Opened;

/// What an entry costs beyond its token, cart and body: the map slot, the
/// `Arc`s, the opened token's fields.
const ENTRY_OVERHEAD: u64 = 320;

/// An opened token as the cache keeps it.
#[derive(Debug)]
pub struct Cached {
    /// What opening the token gave, before its lifetimes were checked.
    pub opened: Opened,
    /// `cartseal_tokens_opened_total` for the keys that opened it, looked up
    /// once rather than by label on every read.
    pub opened_counter: Counter,
    body: ArcSwapOption<Rendered>,
    weight: u64,
}

/// A response body and the catalog generation it was rendered against.
#[derive(Debug)]
struct Rendered {
    tag: u64,
    body: Bytes,
}

impl Cached {
    /// An entry for `opened`, not yet in any cache.
    pub fn new(opened: Opened) -> Self {
        // `kid` names the key that opened the token (the signing key in the
        // jwt format); `cart_kid` the local key that encrypted the cart (the
        // same key in the paseto format), so that a rotation of either can be
        // watched until the old key opens nothing (docs/key-rotation.md).
        let cart_kid = opened.cart_key_id.as_deref().unwrap_or(&opened.key_id);
        let opened_counter = opened_counter(&opened.key_id, cart_kid);
        Self {
            opened,
            opened_counter,
            body: ArcSwapOption::empty(),
            weight: 0,
        }
    }
}

thread_local! {
    /// This worker's `cartseal_tokens_opened_total` handles by key ids: a
    /// few keys at a time, looked up by label once rather than on every
    /// open.
    static OPENED: std::cell::RefCell<Vec<(String, String, Counter)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The `cartseal_tokens_opened_total` counter of `kid` and `cart_kid`.
fn opened_counter(kid: &str, cart_kid: &str) -> Counter {
    OPENED.with_borrow_mut(|known| {
        if let Some((_, _, counter)) = known.iter().find(|(k, c, _)| k == kid && c == cart_kid) {
            return counter.clone();
        }
        let counter = metrics::counter!(
            "cartseal_tokens_opened_total",
            "kid" => kid.to_owned(),
            "cart_kid" => cart_kid.to_owned()
        );
        // Keys rotate rarely; a replica that has seen many keys starts over.
        if known.len() >= 16 {
            known.clear();
        }
        known.push((kid.to_owned(), cart_kid.to_owned(), counter.clone()));
        counter
    })
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

    /// Keeps what opening `token` gave, without a rendered body: only the
    /// tests insert so; the service inserts through [`Memo::keep`].
    #[cfg(test)]
    pub(crate) fn insert(&self, token: &str, opened: Opened) {
        self.insert_entry(token, Cached::new(opened), None);
    }

    fn insert_entry(&self, token: &str, mut entry: Cached, rendered: Option<Rendered>) {
        let body = rendered.as_ref().map_or(0, |r| r.body.len());
        entry.weight =
            crate::weight::held_bytes(token, &entry.opened.cart, body + ENTRY_OVERHEAD as usize)
                as u64;
        entry.body = ArcSwapOption::from(rendered.map(Arc::new));
        self.map.insert(token.to_owned(), Arc::new(entry));
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

/// The place for the response body rendered from one credential's cart:
/// an entry of the cache, or one that goes into it once its body is known.
/// Only the token store hands one out, for a response whose body is
/// exactly what a later read of the same token renders.
#[derive(Debug)]
pub struct Memo {
    cache: Arc<TokenCache>,
    entry: Arc<Cached>,
    /// True when `entry` is in the cache already (the read was a hit).
    cached: bool,
}

impl Memo {
    /// A memo for `entry`, found in `cache` (`cached`) or to be inserted.
    pub fn new(cache: Arc<TokenCache>, entry: Arc<Cached>, cached: bool) -> Self {
        Self {
            cache,
            entry,
            cached,
        }
    }

    /// The body rendered against the catalog of generation `tag`, if kept.
    pub fn body(&self, tag: u64) -> Option<Bytes> {
        self.entry
            .body
            .load()
            .as_ref()
            .filter(|r| r.tag == tag)
            .map(|r| r.body.clone())
    }

    /// Keeps `body`, rendered against the catalog of generation `tag`, for
    /// `token`: in its entry, which goes into the cache now if it was not
    /// there yet.
    pub fn keep(&self, token: &str, tag: u64, body: Bytes) {
        let rendered = Rendered { tag, body };
        if self.cached {
            self.entry.body.store(Some(Arc::new(rendered)));
            return;
        }
        let entry = Cached {
            opened: self.entry.opened.clone(),
            opened_counter: self.entry.opened_counter.clone(),
            body: ArcSwapOption::empty(),
            weight: 0,
        };
        self.cache.insert_entry(token, entry, Some(rendered));
    }
}
