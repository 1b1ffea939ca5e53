//! Where a cart lives between requests, behind one interface.
//!
//! - [`token::TokenStore`]: sealed into the client's token (the product).
//! - [`redis::RedisStore`]: in Redis; the client holds a random session id.
//! - [`memcached::MemcachedStore`]: in Memcached, the same way; Memcached
//!   may evict a cart before it expires.
//! - [`memory::MemoryStore`]: in this process; needs sticky sessions.
//! - [`none::NoneStore`]: no session layer, the benchmark's ceiling.
//!
//! [`AnyStore::from_settings`] builds the configured one. One acceptance
//! suite (tests/api/acceptance.rs) runs the same scenarios against each;
//! what a store cannot do is a [`Capabilities`] flag, never a skipped test
//! (docs/architecture.md, "The store interface").

pub mod memcached;
pub mod memory;
pub mod none;
pub mod redis;
pub mod token;
pub mod value;

use std::sync::Arc;

use crate::cart::Cart;
use crate::config::{Settings, StoreKind};
use crate::expiry::{Expiry, TimeError};
use crate::ids;
use crate::keys::KeyringHandle;
pub use crate::token::cache::Memo;
use crate::token::cache::TokenCache;
use crate::token::{InvalidReason, OpenError, Oversize, ResealReason, SealError, TokenCodec};

/// The state of one cart between requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// Shared: a request that only reads the cart never copies it, and a
    /// write copies it once, on its first change (`Arc::make_mut`).
    pub cart: Arc<Cart>,
    /// Raised by every write.
    pub revision: u64,
    /// The absolute expiry, once the cart exists.
    pub absolute_expiry: Option<i64>,
    /// The idle expiry of the credential the client holds, once it exists.
    pub expires_at: Option<i64>,
}

/// A session loaded from a credential.
#[derive(Debug)]
pub struct Loaded {
    pub session: Session,
    /// Set when the credential should be replaced on this response.
    pub reseal: Option<ResealReason>,
    /// Where the response body rendered from this session may be kept for
    /// the next read of the same credential (the token store's cache only).
    pub memo: Option<Memo>,
}

impl Loaded {
    /// A loaded session with nothing to memoize.
    pub fn new(session: Session, reseal: Option<ResealReason>) -> Self {
        Self {
            session,
            reseal,
            memo: None,
        }
    }
}

/// A session saved.
#[derive(Debug)]
pub struct Saved {
    /// What the client must send next time: a token, or a session id.
    pub credential: String,
    /// When that credential expires if unused (Unix seconds).
    pub expires_at: i64,
    /// Where the response body may be kept for the first read of the new
    /// credential (the token store's cache only).
    pub memo: Option<Memo>,
}

impl Saved {
    /// A saved session with nothing to memoize.
    pub fn new(credential: String, expires_at: i64) -> Self {
        Self {
            credential,
            expires_at,
            memo: None,
        }
    }
}

/// What a store can and cannot do, recorded by the acceptance suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    /// Can end a cart before it expires, server-side (an operator deletes
    /// its key).
    pub revocation: bool,
    /// A cart survives the loss of the replica that wrote it.
    pub survives_replica_loss: bool,
    /// A cart survives a restart of the store itself.
    pub survives_store_restart: bool,
    /// Carts are kept at all (false only for the benchmark ceiling).
    pub keeps_carts: bool,
}

/// Why a store failed. Client causes and server causes are distinct.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The client's credential cannot be used (401).
    #[error(transparent)]
    Credential(#[from] OpenError),
    /// The cart is too large to save in a form it can be read back from
    /// (413).
    #[error(transparent)]
    TooLarge(#[from] Oversize),
    /// The backing store failed or timed out (503). The text is for logs:
    /// it names the store, the operation and the error class, never a key,
    /// a value or a URL.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl From<SealError> for StoreError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::TooLarge(oversize) => Self::TooLarge(oversize),
            SealError::Expired => Self::Credential(OpenError::Expired),
            SealError::NoKey => Self::Unavailable("no active key can seal".into()),
            // Only a credential's `abs` can be that far out: the client's
            // credential is unusable, as if it had not opened.
            SealError::TimeOutOfRange => {
                Self::Credential(OpenError::Invalid(InvalidReason::Payload))
            }
        }
    }
}

impl From<TimeError> for StoreError {
    fn from(error: TimeError) -> Self {
        Self::Credential(error.into())
    }
}

/// Counts and logs a failed call to a central store.
pub(crate) fn unavailable(store: &'static str, op: &'static str, reason: String) -> StoreError {
    metrics::counter!("cartseal_store_errors_total", "store" => store, "op" => op).increment(1);
    log::debug!("{store} {op} failed: {reason}");
    StoreError::Unavailable(format!("{store} {op}: {reason}"))
}

/// Why a store could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// The store's client needs a tokio runtime (an actix worker).
    #[error("the {0} store must be built inside a tokio runtime (an actix worker)")]
    NoRuntime(&'static str),
    /// The configured URL is unusable. Only the error's category is kept:
    /// the URL itself may hold a password.
    #[error("{0} is not a usable URL ({1})")]
    Url(&'static str, String),
    /// The client could not be set up.
    #[error("cannot set up the {0} connection ({1})")]
    Connection(&'static str, String),
}

/// One backend.
pub trait CartStore: Send + Sync {
    /// What this store can do.
    fn capabilities(&self) -> Capabilities;

    /// Loads the session a credential names.
    fn load(&self, credential: &str, now: i64) -> impl Future<Output = Result<Loaded, StoreError>>;

    /// Saves a session, under `credential` when the client has one, and
    /// returns the credential the client must hold from now on.
    fn save(
        &self,
        credential: Option<&str>,
        session: &Session,
        now: i64,
    ) -> impl Future<Output = Result<Saved, StoreError>>;

    /// Whether the store can serve requests now (for /readyz).
    fn ready(&self) -> impl Future<Output = Result<(), StoreError>>;
}

/// The configured store, dispatched statically.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// Sealed tokens.
    Token(token::TokenStore),
    Redis(redis::RedisStore),
    Memcached(memcached::MemcachedStore),
    /// In-process.
    Memory(memory::MemoryStore),
    /// No session layer.
    None(none::NoneStore),
}

impl AnyStore {
    /// The store `settings` configure. The token store seals under `keys`,
    /// which reloads swap in place.
    pub fn from_settings(settings: &Settings, keys: &KeyringHandle) -> Result<Self, SetupError> {
        let expiry = settings.token.expiry();
        let limits = settings.limits.clone();
        Ok(match settings.store.kind {
            StoreKind::Token => Self::Token(token::TokenStore::new(
                TokenCodec::new(settings.token.clone(), limits, keys.clone()),
                TokenCache::new(settings.cache.max_entries, settings.cache.max_bytes),
            )),
            StoreKind::Redis => {
                Self::Redis(redis::RedisStore::new(&settings.redis, expiry, limits)?)
            }
            StoreKind::Memcached => Self::Memcached(memcached::MemcachedStore::new(
                &settings.memcached,
                expiry,
                limits,
            )?),
            StoreKind::Memory => {
                Self::Memory(memory::MemoryStore::new(&settings.memory, expiry, limits))
            }
            StoreKind::None => Self::None(none::NoneStore::new(
                settings.store.none_template_lines,
                &limits,
                expiry,
            )),
        })
    }

    /// Prepares this worker's store before its first request: a Memcached
    /// store opens its pool ([`memcached::MemcachedStore::warm`]). Needs the
    /// worker's runtime.
    pub fn warm(&self) {
        if let Self::Memcached(store) = self {
            store.warm();
        }
    }

    /// This store as one actix worker should hold it. A central store's
    /// connection is driven by the runtime that made it, so each worker
    /// (a current-thread runtime of its own) builds its own, and a worker
    /// that cannot fails to start; the other stores are shared.
    pub fn for_worker(
        &self,
        settings: &Settings,
        keys: &KeyringHandle,
    ) -> Result<Self, SetupError> {
        match self {
            Self::Redis(_) | Self::Memcached(_) => Self::from_settings(settings, keys),
            shared => Ok(shared.clone()),
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Token($store) => $call,
            AnyStore::Redis($store) => $call,
            AnyStore::Memcached($store) => $call,
            AnyStore::Memory($store) => $call,
            AnyStore::None($store) => $call,
        }
    };
}

impl CartStore for AnyStore {
    fn capabilities(&self) -> Capabilities {
        dispatch!(self, s => s.capabilities())
    }

    async fn load(&self, credential: &str, now: i64) -> Result<Loaded, StoreError> {
        dispatch!(self, s => s.load(credential, now).await)
    }

    async fn save(
        &self,
        credential: Option<&str>,
        session: &Session,
        now: i64,
    ) -> Result<Saved, StoreError> {
        dispatch!(self, s => s.save(credential, session, now).await)
    }

    async fn ready(&self) -> Result<(), StoreError> {
        dispatch!(self, s => s.ready().await)
    }
}

/// The credential the central stores hand out for a new cart that holds
/// nothing yet (`POST /cart`): `new.` and a random id. It names no stored
/// state, so handing it out costs the store nothing, and an anonymous flood
/// of `POST /cart` cannot fill it (docs/security.md, "Store flooding"). The
/// first change stores the cart under a fresh session id.
const FRESH_PREFIX: &str = "new.";

/// The session id a credential names, for a store that keeps carts:
/// `Ok(None)` for a fresh credential (an empty cart that names no state),
/// and an invalid credential for anything that is not a session id, so that
/// no store key is ever built from other text.
pub(crate) fn session_id(credential: &str) -> Result<Option<&str>, StoreError> {
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
    pub(crate) fn fresh() -> Self {
        Self::new(Session::default(), None)
    }
}

/// For a central store: a fresh credential, instead of a stored session,
/// for a new cart with no line; `None` when the session must be stored.
pub(crate) fn fresh_save(session: &Session, expiry: &Expiry, now: i64) -> Option<Saved> {
    if session.absolute_expiry.is_some() || !session.cart.is_empty() {
        return None;
    }
    let lifetimes = expiry.on_write(now, None).ok()?;
    Some(Saved::new(
        [FRESH_PREFIX, &ids::random()].concat(),
        lifetimes.expires_at,
    ))
}

/// The session id to save under: the client's, when it holds a well-formed
/// one (the handlers pass it only after it loaded), else a fresh one.
pub fn session_id_for(credential: Option<&str>) -> String {
    match credential {
        Some(c) if ids::is_random(c) => c.to_owned(),
        _ => ids::random(),
    }
}
