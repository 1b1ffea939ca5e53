//! The in-process store: a map from session id to cart, with a sliding TTL
//! and a size bound. It needs sticky sessions behind a load balancer, and
//! its carts die with the process: it is here to be compared, honestly.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use super::{Capabilities, CartStore, Loaded, Saved, Session, StoreError, session_id_for};
use crate::expiry::Expiry;
use crate::ids;
use crate::token::{InvalidReason, OpenError};

#[derive(Debug)]
struct Entry {
    session: Session,
    expires_at: i64,
}

#[derive(Debug, Default)]
struct Inner {
    carts: HashMap<String, Entry>,
    /// (expiry, id), to evict the entry closest to expiry first.
    by_expiry: BTreeSet<(i64, String)>,
}

impl Inner {
    fn remove(&mut self, id: &str) -> Option<Entry> {
        let entry = self.carts.remove(id)?;
        self.by_expiry.remove(&(entry.expires_at, id.to_owned()));
        Some(entry)
    }
}

/// Carts in this process.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    max_carts: usize,
    expiry: Expiry,
}

impl MemoryStore {
    /// A store of at most `max_carts` carts.
    pub fn new(max_carts: usize, expiry: Expiry) -> Self {
        Self {
            inner: Arc::default(),
            max_carts,
            expiry,
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
}

impl CartStore for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            revocation: true,
            survives_replica_loss: false,
            survives_store_restart: false,
            keeps_carts: true,
        }
    }

    async fn load(&self, credential: &str, now: i64) -> Result<Loaded, StoreError> {
        if !ids::is_random(credential) {
            return Err(OpenError::Invalid(InvalidReason::Format).into());
        }
        let mut inner = self.lock();
        let Some(entry) = inner.carts.get_mut(credential) else {
            return Err(OpenError::Expired.into());
        };
        if entry.expires_at < now {
            inner.remove(credential);
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
        Ok(Loaded {
            session,
            reseal: None,
        })
    }

    async fn save(
        &self,
        credential: Option<&str>,
        session: &Session,
        now: i64,
    ) -> Result<Saved, StoreError> {
        let lifetimes = self.expiry.on_write(now, session.absolute_expiry)?;
        let expires_at = lifetimes.expires_at;
        let id = session_id_for(credential);
        let mut session = session.clone();
        session.absolute_expiry = Some(lifetimes.absolute_expiry);
        session.expires_at = Some(expires_at);
        let mut inner = self.lock();
        inner.remove(&id);
        while inner.carts.len() >= self.max_carts {
            let Some((_, oldest)) = inner.by_expiry.first().cloned() else {
                break;
            };
            inner.remove(&oldest);
        }
        inner.by_expiry.insert((expires_at, id.clone()));
        inner.carts.insert(
            id.clone(),
            Entry {
                session,
                expires_at,
            },
        );
        Ok(Saved {
            credential: id,
            expires_at,
        })
    }

    async fn ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
