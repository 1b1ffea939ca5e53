//! The in-process backend of [`CentralStore`]: a map from session id to
//! cart, with a sliding TTL. It needs sticky sessions behind a load
//! balancer, and its carts die with the process: it is here to be compared,
//! honestly.
//!
//! # Bounds
//! The store holds at most `memory.max_carts` carts and `memory.max_bytes`
//! bytes, each cart weighed as the allocator holds it ([`weigh`]); a central
//! store's size cap ([`super::value`]) applies here too. A full store
//! refuses *new* carts (`503 store_unavailable`, after dropping expired
//! ones) and never evicts a live cart to make room: clients without a
//! credential can then be refused, but can never push out a cart that
//! another client holds, however many carts they start (docs/security.md,
//! "Store flooding"). A cart that would grow the store past its byte budget
//! is refused the same way.

use std::collections::{BTreeSet, HashMap};
use std::mem::size_of;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Backend, Capabilities, CentralStore, Found, Record, Result, Swapped, value};
use crate::cart::{Cart, Limits};
use crate::config::MemoryConfig;
use crate::expiry::Expiry;
use crate::token::InvalidReason;

/// Carts in this process.
pub type MemoryStore = CentralStore<Memory>;

/// A cart as the memory store keeps it: as it is, not encoded.
#[derive(Debug, Clone)]
pub struct Kept {
    cart: Arc<Cart>,
    revision: u64,
    absolute_expiry: i64,
}

impl Record for Kept {
    fn header(&self) -> Result<(u64, i64), InvalidReason> {
        Ok((self.revision, self.absolute_expiry))
    }

    fn into_cart(self, _limits: &Limits) -> Result<Arc<Cart>, InvalidReason> {
        Ok(self.cart)
    }

    fn encode(
        cart: &Arc<Cart>,
        revision: u64,
        absolute_expiry: i64,
        limits: &Limits,
    ) -> Result<Self> {
        // The same cap as a central store's value: a cart that could not be
        // read back there is refused here too.
        value::cart_bytes(cart, limits)?;
        Ok(Self {
            cart: Arc::clone(cart),
            revision,
            absolute_expiry,
        })
    }
}

#[derive(Debug)]
struct Entry {
    kept: Kept,
    expires_at: i64,
    bytes: usize,
}

/// What an entry costs beyond its cart and id: the map's slot (the id's
/// `String` and the `Entry`), counted twice since a hash table keeps spare
/// slots (up to half of them after it grows); the expiry index's element
/// and the second copy of the id it holds, likewise; and the `Arc`'s
/// counts.
const ENTRY_OVERHEAD: usize = 2 * (size_of::<String>() + size_of::<Entry>() + 1)
    + 2 * size_of::<(i64, String)>()
    + 2 * size_of::<usize>();

/// What keeping `cart` under `id` costs: one weighing, shared with the
/// verified-token cache ([`crate::weight::held_bytes`]).
pub fn weigh(id: &str, cart: &Cart) -> usize {
    // The id is held twice: as the map's key and in the expiry index.
    crate::weight::held_bytes(id, cart, ENTRY_OVERHEAD + id.len().next_multiple_of(16))
}

#[derive(Debug, Default)]
struct Inner {
    carts: HashMap<String, Entry>,
    /// (expiry, id): expired carts are dropped oldest first.
    by_expiry: BTreeSet<(i64, String)>,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, id: &str) -> Option<Entry> {
        let entry = self.carts.remove(id)?;
        self.by_expiry.remove(&(entry.expires_at, id.to_owned()));
        self.bytes -= entry.bytes;
        Some(entry)
    }

    fn insert(&mut self, id: &str, kept: Kept, expires_at: i64, bytes: usize) {
        self.remove(id);
        self.by_expiry.insert((expires_at, id.to_owned()));
        self.bytes += bytes;
        let entry = Entry {
            kept,
            expires_at,
            bytes,
        };
        self.carts.insert(id.to_owned(), entry);
    }

    /// Moves `id`'s idle expiry to `expires_at`.
    fn set_expiry(&mut self, id: &str, expires_at: i64) {
        let Some(entry) = self.carts.get_mut(id) else {
            return;
        };
        let old = std::mem::replace(&mut entry.expires_at, expires_at);
        if old != expires_at {
            self.by_expiry.remove(&(old, id.to_owned()));
            self.by_expiry.insert((expires_at, id.to_owned()));
        }
    }

    /// Drops every cart whose idle expiry has passed.
    fn drop_expired(&mut self, now: i64) {
        while let Some((expires_at, id)) = self.by_expiry.first().cloned() {
            if expires_at >= now {
                break;
            }
            self.remove(&id);
        }
    }
}

/// The memory backend: one map behind one lock, shared by every worker.
#[derive(Debug, Clone)]
pub struct Memory {
    inner: Arc<Mutex<Inner>>,
    max_carts: usize,
    max_bytes: usize,
}

impl MemoryStore {
    /// A store bounded by `config`.
    pub fn new(config: &MemoryConfig, expiry: Expiry, limits: Limits) -> Self {
        let backend = Memory {
            inner: Arc::default(),
            max_carts: config.max_carts,
            max_bytes: config.max_bytes,
        };
        Self::over(backend, expiry, limits)
    }

    /// How many carts are held.
    pub fn len(&self) -> usize {
        self.backend().lock().carts.len()
    }

    /// True when no cart is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the held carts weigh, as `cartseal_memory_store_bytes`
    /// reports them.
    pub fn bytes(&self) -> usize {
        self.backend().lock().bytes
    }
}

impl Memory {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map inconsistent
        // in a way that matters more than losing the service.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// True when `id`'s cart, at `bytes`, fits: a new cart needs a free
    /// slot, and any cart needs the bytes it adds.
    fn has_room(&self, inner: &Inner, id: &str, bytes: usize) -> bool {
        let held = inner.carts.get(id).map(|e| e.bytes);
        (held.is_some() || inner.carts.len() < self.max_carts)
            && inner.bytes - held.unwrap_or(0) + bytes <= self.max_bytes
    }

    /// Stores `kept` under `id` if it fits (after dropping expired carts),
    /// else refuses it as the store being full.
    fn put(&self, inner: &mut Inner, id: &str, kept: Kept, ttl: i64, now: i64) -> Result<()> {
        let bytes = weigh(id, &kept.cart);
        if !self.has_room(inner, id, bytes) {
            inner.drop_expired(now);
            if !self.has_room(inner, id, bytes) {
                report(inner);
                let reason = "full: memory.max_carts or memory.max_bytes reached".into();
                return Err(super::unavailable(Self::NAME, "save", reason));
            }
        }
        inner.insert(id, kept, now.saturating_add(ttl), bytes);
        report(inner);
        Ok(())
    }
}

fn report(inner: &Inner) {
    metrics::gauge!("cartseal_memory_store_carts").set(inner.carts.len() as f64);
    metrics::gauge!("cartseal_memory_store_bytes").set(inner.bytes as f64);
}

impl Backend for Memory {
    const NAME: &'static str = "memory";
    type Record = Kept;

    const CAPABILITIES: Capabilities = Capabilities {
        // No interface reaches into the process to end one cart.
        revocation: false,
        survives_replica_loss: false,
        survives_store_restart: false,
        keeps_carts: true,
    };

    async fn get_and_touch(&self, id: &str, ttl: i64, now: i64) -> Result<Option<Found<Kept>>> {
        let mut inner = self.lock();
        let Some(entry) = inner.carts.get(id) else {
            return Ok(None);
        };
        if entry.expires_at < now {
            inner.remove(id);
            report(&inner);
            return Ok(None);
        }
        let kept = entry.kept.clone();
        // Reads slide the idle expiry, as Redis's GETEX does.
        inner.set_expiry(id, now.saturating_add(ttl));
        Ok(Some(Found {
            record: kept,
            cas: None,
        }))
    }

    async fn touch(&self, id: &str, ttl: i64, now: i64) {
        self.lock().set_expiry(id, now.saturating_add(ttl));
    }

    async fn delete(&self, id: &str) {
        let mut inner = self.lock();
        inner.remove(id);
        report(&inner);
    }

    async fn add(&self, id: &str, kept: Kept, ttl: i64, now: i64) -> Result<bool> {
        let mut inner = self.lock();
        if inner.carts.contains_key(id) {
            return Ok(false);
        }
        self.put(&mut inner, id, kept, ttl, now).map(|()| true)
    }

    async fn swap(&self, id: &str, kept: Kept, ttl: i64, stamp: u64, now: i64) -> Result<Swapped> {
        let mut inner = self.lock();
        match inner.carts.get(id) {
            Some(entry) if entry.expires_at < now => {
                inner.remove(id);
                report(&inner);
                Ok(Swapped::Missing)
            }
            None => Ok(Swapped::Missing),
            Some(entry) if entry.kept.revision != stamp => Ok(Swapped::Conflict),
            Some(_) => self
                .put(&mut inner, id, kept, ttl, now)
                .map(|()| Swapped::Saved),
        }
    }

    async fn ready(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CartStore, Session, StoreError};

    fn block<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(f)
    }

    /// The compare-and-set under the lock: a save from a stale load is a
    /// conflict and changes nothing (docs/architecture.md, "Concurrent
    /// writes").
    #[test]
    fn a_save_from_a_stale_load_conflicts() {
        let store = MemoryStore::new(
            &MemoryConfig::default(),
            Expiry::new(100, 3600, 60, 0),
            Limits::default(),
        );
        let line = crate::cart::Line::parse("TEE-100", 1, Default::default(), &Limits::default())
            .expect("a line");
        let mut first = Session::default();
        Arc::make_mut(&mut first.cart)
            .add(line, &Limits::default())
            .expect("added");
        first.revision = 1;
        let id = block(store.save(None, &first, 1_000))
            .expect("saved")
            .credential;
        let loaded = block(store.load(&id, 1_000)).expect("loaded").session;
        let (mut a, mut b) = (loaded.clone(), loaded);
        a.revision += 1;
        b.revision += 1;
        Arc::make_mut(&mut b.cart).clear();
        block(store.save(Some(&id), &a, 1_001)).expect("the first write saves");
        assert_eq!(
            block(store.save(Some(&id), &b, 1_002)).unwrap_err(),
            StoreError::Conflict
        );
        let kept = block(store.load(&id, 1_003)).expect("loaded").session;
        assert_eq!(kept.cart.lines().len(), 1, "the second write saved nothing");
        assert!(store.bytes() > 0);
    }
}
