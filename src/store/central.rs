//! The central store: the server keeps the cart under a random session id
//! (`ids::random`), and the client holds only the id.
//!
//! One [`CentralStore`] holds the logic every such store shares: the fresh
//! credential of a new cart, load (a get-and-touch that slides the idle TTL,
//! capped at the absolute expiry), save, and the compare-and-set that makes
//! racing writes safe. A [`Backend`] (Redis, Memcached, memory) supplies only
//! its primitives, and a [`Record`] is what it keeps: the value layout of
//! [`super::value`] for Redis and Memcached, the cart itself in memory
//! (docs/architecture.md, "The store interface" and "Concurrent writes").
//!
//! Idle expiry is the backend's own TTL, on its own clock (the memory store
//! keeps it on the `now` the caller passes); the absolute expiry is checked
//! here, against that `now`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Mutex as Queue, OwnedMutexGuard};

use super::{Capabilities, CartStore, Loaded, Result, Saved, Session, StoreError, value};
use crate::cart::{Cart, Limits};
use crate::expiry::Expiry;
use crate::ids;
use crate::token::{InvalidReason, OpenError};

/// What a backend keeps for a cart.
pub trait Record: Sized + Send {
    /// Its revision and absolute expiry, read without decoding the cart: an
    /// expired cart costs no decompression.
    fn header(&self) -> Result<(u64, i64), InvalidReason>;

    /// Its cart, read back under `limits`.
    fn into_cart(self, limits: &Limits) -> Result<Arc<Cart>, InvalidReason>;

    /// The record of a cart, refused when it could not be read back under
    /// `limits`.
    fn encode(
        cart: &Arc<Cart>,
        revision: u64,
        absolute_expiry: i64,
        limits: &Limits,
    ) -> Result<Self>;
}

/// A record found by [`Backend::get_and_touch`].
#[derive(Debug)]
pub struct Found<R> {
    pub record: R,
    /// The backend's own compare-and-set unique (Memcached's CAS), if it
    /// has one; the others compare the stored revision.
    pub cas: Option<u64>,
}

/// What [`Backend::swap`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swapped {
    /// The record was replaced.
    Saved,
    /// Another write replaced it first: nothing was saved.
    Conflict,
    /// No record is there any more (expired, deleted, evicted).
    Missing,
}

/// The primitives of one backend. Every call that reaches a server is
/// bounded by the backend's timeout and fails as
/// [`StoreError::Unavailable`], counted, naming no key or value.
pub trait Backend: Send + Sync {
    /// The store's name in metrics and logs.
    const NAME: &'static str;
    /// What it keeps for a cart.
    type Record: Record;

    /// What this backend can do.
    const CAPABILITIES: Capabilities;

    /// The record under `id`, its TTL set to `ttl` seconds in the same
    /// step (a get-and-touch); `None` when there is none.
    fn get_and_touch(
        &self,
        id: &str,
        ttl: i64,
        now: i64,
    ) -> impl Future<Output = Result<Option<Found<Self::Record>>>> + Send;

    /// Sets the TTL of `id` to `ttl` seconds, best effort: a failure is
    /// counted and logged.
    fn touch(&self, id: &str, ttl: i64, now: i64) -> impl Future<Output = ()> + Send;

    /// Deletes `id`, best effort.
    fn delete(&self, id: &str) -> impl Future<Output = ()> + Send;

    /// Stores `record` under `id` for `ttl` seconds, only if nothing is
    /// there; `false` when something is.
    fn add(
        &self,
        id: &str,
        record: Self::Record,
        ttl: i64,
        now: i64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Replaces the record under `id`, for `ttl` seconds, only if it still
    /// carries `stamp` ([`Session::stamp`]), atomically.
    fn swap(
        &self,
        id: &str,
        record: Self::Record,
        ttl: i64,
        stamp: u64,
        now: i64,
    ) -> impl Future<Output = Result<Swapped>> + Send;

    /// Whether the backend answers.
    fn ready(&self) -> impl Future<Output = Result<()>> + Send;
}

/// Carts kept by the server, over backend `B`.
#[derive(Debug, Clone)]
pub struct CentralStore<B> {
    backend: B,
    expiry: Expiry,
    limits: Limits,
    turns: Turns,
}

/// The writes waiting for their turn, by session id: one entry per cart
/// with a write in flight through this store instance, removed when the
/// last one ends.
type Turns = Arc<Mutex<HashMap<String, Arc<Queue<()>>>>>;

/// One write's turn on one cart (see [`CartStore::turn`]).
#[derive(Debug)]
pub struct Turn {
    id: String,
    turns: Turns,
    _held: OwnedMutexGuard<()>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
        // The map's reference and this turn's: no write is waiting.
        if turns
            .get(&self.id)
            .is_some_and(|q| Arc::strong_count(q) == 2)
        {
            turns.remove(&self.id);
        }
    }
}

impl<B: Backend> CentralStore<B> {
    /// A store over `backend`, under the shared expiry policy and limits.
    pub fn over(backend: B, expiry: Expiry, limits: Limits) -> Self {
        Self {
            backend,
            expiry,
            limits,
            turns: Turns::default(),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn unreadable(reason: InvalidReason) -> StoreError {
        value::unreadable(B::NAME, reason)
    }
}

impl<B: Backend> CartStore for CentralStore<B> {
    fn capabilities(&self) -> Capabilities {
        B::CAPABILITIES
    }

    async fn load(&self, credential: &str, now: i64) -> Result<Loaded> {
        let Some(id) = session_id(credential)? else {
            return Ok(Loaded::fresh());
        };
        let idle = self.expiry.idle_secs();
        // Missing: the session ended, or the store lost or evicted it.
        let Some(found) = self.backend.get_and_touch(id, idle, now).await? else {
            return Err(OpenError::Expired.into());
        };
        let (revision, absolute) = found.record.header().map_err(Self::unreadable)?;
        if now > absolute {
            // Best effort: the cart is refused anyway.
            self.backend.delete(id).await;
            return Err(OpenError::Expired.into());
        }
        let expires_at = self.expiry.slide(now, absolute);
        if expires_at < now.saturating_add(idle) {
            // The read just slid the TTL past the absolute expiry: pull it
            // back. Best effort: `load` checks the absolute expiry anyway,
            // so a failure only lets the key linger for one idle TTL.
            let ttl = absolute.saturating_sub(now).max(1);
            self.backend.touch(id, ttl, now).await;
        }
        let cart = found
            .record
            .into_cart(&self.limits)
            .map_err(Self::unreadable)?;
        let session = Session {
            cart,
            revision,
            absolute_expiry: Some(absolute),
            expires_at: Some(expires_at),
            stamp: Some(found.cas.unwrap_or(revision)),
        };
        Ok(Loaded::new(session, None))
    }

    async fn save(&self, credential: Option<&str>, session: &Session, now: i64) -> Result<Saved> {
        if let Some(fresh) = fresh_save(session, &self.expiry, now) {
            return Ok(fresh);
        }
        let lifetimes = self.expiry.on_write(now, session.absolute_expiry)?;
        let record = B::Record::encode(
            &session.cart,
            session.revision,
            lifetimes.absolute_expiry,
            &self.limits,
        )?;
        let ttl = lifetimes.expires_at.saturating_sub(now).max(1);
        let held = credential.and_then(|c| session_id(c).ok().flatten());
        let id = match (held, session.stamp) {
            // The cart the session was loaded from: replaced only if no
            // other write replaced it meanwhile.
            (Some(id), Some(stamp)) => {
                match self.backend.swap(id, record, ttl, stamp, now).await? {
                    Swapped::Saved => id.to_owned(),
                    Swapped::Conflict => {
                        metrics::counter!("cartseal_store_conflicts_total", "store" => B::NAME)
                            .increment(1);
                        return Err(StoreError::Conflict);
                    }
                    // It ended since the load (expired, deleted by an operator,
                    // evicted): a write does not bring it back.
                    Swapped::Missing => return Err(OpenError::Expired.into()),
                }
            }
            // A cart no stored value backs yet: a new session.
            _ => {
                let id = ids::random();
                if !self.backend.add(&id, record, ttl, now).await? {
                    // 128 random bits: never seen; if it were, nothing is
                    // overwritten.
                    let reason = "a new session id is taken".into();
                    return Err(super::unavailable(B::NAME, "save", reason));
                }
                id
            }
        };
        Ok(Saved::new(id, lifetimes.expires_at))
    }

    async fn turn(&self, credential: &str) -> Option<Turn> {
        let id = session_id(credential).ok().flatten()?;
        let queue = {
            let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(turns.entry(id.to_owned()).or_default())
        };
        Some(Turn {
            id: id.to_owned(),
            turns: Arc::clone(&self.turns),
            _held: queue.lock_owned().await,
        })
    }

    async fn ready(&self) -> Result<()> {
        self.backend.ready().await
    }
}

/// The credential the central stores hand out for a new cart that holds
/// nothing yet (`POST /cart`): `new.` and a random id. It names no stored
/// state, so handing it out costs the store nothing, and an anonymous flood
/// of `POST /cart` cannot fill it (docs/security.md, "Store flooding"). The
/// first change stores the cart under a fresh session id.
const FRESH_PREFIX: &str = "new.";

/// The session id a credential names: `Ok(None)` for a fresh credential
/// (an empty cart that names no state), and an invalid credential for
/// anything that is not a session id, so that no store key is ever built
/// from other text.
fn session_id(credential: &str) -> Result<Option<&str>> {
    if credential
        .strip_prefix(FRESH_PREFIX)
        .is_some_and(ids::is_random)
    {
        return Ok(None);
    }
    if ids::is_random(credential) {
        Ok(Some(credential))
    } else {
        Err(OpenError::Invalid(InvalidReason::Format).into())
    }
}

impl Loaded {
    /// The empty cart a fresh credential stands for.
    fn fresh() -> Self {
        Self::new(Session::default(), None)
    }
}

/// A fresh credential, instead of a stored session, for a new cart with no
/// line; `None` when the session must be stored.
fn fresh_save(session: &Session, expiry: &Expiry, now: i64) -> Option<Saved> {
    if session.absolute_expiry.is_some() || !session.cart.is_empty() {
        return None;
    }
    let lifetimes = expiry.on_write(now, None).ok()?;
    Some(Saved::new(
        [FRESH_PREFIX, &ids::random()].concat(),
        lifetimes.expires_at,
    ))
}
