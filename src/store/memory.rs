//! The in-process store: a map from session id to cart, with a sliding TTL.
//! It needs sticky sessions behind a load balancer, and its carts die with
//! the process: it is here to be compared, honestly.
//!
//! # Bounds
//! The store holds at most `memory.max_carts` carts and `memory.max_bytes`
//! bytes, each cart counted as its compact JSON plus its id and the map's
//! overhead; a central store's size cap ([`super::value`]) applies here too. A full store refuses *new* carts (`503
//! store_unavailable`, after dropping expired ones) and never evicts a live
//! cart to make room: clients without a credential can then be refused, but
//! can never push out a cart that another client holds, however many carts
//! they start (docs/security.md, "Store flooding"). A cart that would grow
//! the store past its byte budget is refused the same way.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use super::{
    Capabilities, CartStore, Loaded, Saved, Session, StoreError, fresh_save, session_id,
    session_id_for, value,
};
use crate::cart::Limits;
use crate::config::MemoryConfig;
use crate::expiry::Expiry;
use crate::token::OpenError;

/// What a stored cart costs beyond its value and id: the map entry, the
/// expiry index and the session's fields, rounded up.
const ENTRY_OVERHEAD: usize = 160;

#[derive(Debug)]
struct Entry {
    session: Session,
    expires_at: i64,
    bytes: usize,
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

/// Carts in this process.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    max_carts: usize,
    max_bytes: usize,
    expiry: Expiry,
    limits: Limits,
}

impl MemoryStore {
    /// A store bounded by `config`.
    pub fn new(config: &MemoryConfig, expiry: Expiry, limits: Limits) -> Self {
        Self {
            inner: Arc::default(),
            max_carts: config.max_carts,
            max_bytes: config.max_bytes,
            expiry,
            limits,
        }
    }

    /// How many carts are held.
    pub fn len(&self) -> usize {
        self.lock().carts.len()
    }

    /// True when no cart is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map inconsistent
        // in a way that matters more than losing the service.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// True when `id`'s cart, at `bytes`, fits: a new cart needs a free
    /// slot, and any cart needs the bytes it adds.
    fn has_room(&self, inner: &Inner, id: &str, bytes: usize) -> bool {
        let held = inner.carts.get(id).map(|e| e.bytes);
        (held.is_some() || inner.carts.len() < self.max_carts)
            && inner.bytes - held.unwrap_or(0) + bytes <= self.max_bytes
    }

    fn report(inner: &Inner) {
        metrics::gauge!("cartseal_memory_store_carts").set(inner.carts.len() as f64);
        metrics::gauge!("cartseal_memory_store_bytes").set(inner.bytes as f64);
    }
}

impl CartStore for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // No interface reaches into the process to end one cart.
            revocation: false,
            survives_replica_loss: false,
            survives_store_restart: false,
            keeps_carts: true,
        }
    }

    async fn load(&self, credential: &str, now: i64) -> Result<Loaded, StoreError> {
        let Some(credential) = session_id(credential)? else {
            return Ok(Loaded::fresh());
        };
        let mut inner = self.lock();
        let Some(entry) = inner.carts.get_mut(credential) else {
            return Err(OpenError::Expired.into());
        };
        if entry.expires_at < now {
            inner.remove(credential);
            Self::report(&inner);
            return Err(OpenError::Expired.into());
        }
        // Reads slide the idle expiry, as Redis's GETEX does, never past the
        // absolute expiry.
        let old_expiry = entry.expires_at;
        let absolute = entry.session.absolute_expiry.unwrap_or(i64::MAX);
        entry.expires_at = self.expiry.slide(now, absolute).max(old_expiry);
        entry.session.expires_at = Some(entry.expires_at);
        let (session, new_expiry) = (entry.session.clone(), entry.expires_at);
        if new_expiry != old_expiry {
            inner.by_expiry.remove(&(old_expiry, credential.to_owned()));
            inner.by_expiry.insert((new_expiry, credential.to_owned()));
        }
        Ok(Loaded::new(session, None))
    }

    async fn save(
        &self,
        credential: Option<&str>,
        session: &Session,
        now: i64,
    ) -> Result<Saved, StoreError> {
        if let Some(fresh) = fresh_save(session, &self.expiry, now) {
            return Ok(fresh);
        }
        let lifetimes = self.expiry.on_write(now, session.absolute_expiry)?;
        // The same cap as a central store's value: a cart that could not be
        // read back there is refused here too.
        let cart_bytes = value::cart_bytes(&session.cart, &self.limits)?;
        let expires_at = lifetimes.expires_at;
        let id = session_id_for(credential);
        let bytes = cart_bytes + id.len() + ENTRY_OVERHEAD;
        let mut session = session.clone();
        session.absolute_expiry = Some(lifetimes.absolute_expiry);
        session.expires_at = Some(expires_at);

        let mut inner = self.lock();
        if !self.has_room(&inner, &id, bytes) {
            inner.drop_expired(now);
            if !self.has_room(&inner, &id, bytes) {
                Self::report(&inner);
                return Err(super::unavailable(
                    "memory",
                    "save",
                    "full: memory.max_carts or memory.max_bytes reached".into(),
                ));
            }
        }
        inner.remove(&id);
        inner.by_expiry.insert((expires_at, id.clone()));
        inner.bytes += bytes;
        inner.carts.insert(
            id.clone(),
            Entry {
                session,
                expires_at,
                bytes,
            },
        );
        Self::report(&inner);
        Ok(Saved::new(id, expires_at))
    }

    async fn ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
