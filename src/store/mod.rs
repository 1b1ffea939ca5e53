//! Where a cart lives between requests, behind one interface.
//!
//! - [`token::TokenStore`]: sealed into the client's token (the product).
//! - [`redis::RedisStore`]: in Redis; the client holds a random session id.
//! - [`memory::MemoryStore`]: in this process; needs sticky sessions.
//! - [`none::NoneStore`]: no session layer, the benchmark's ceiling.
//!
//! One acceptance suite (tests/api/acceptance.rs) runs the same scenarios
//! against each; what a store cannot do is a [`Capabilities`] flag, never a
//! skipped test.

pub mod memory;
pub mod none;
pub mod redis;
pub mod token;

use crate::cart::Cart;
use crate::token::{OpenError, Oversize, ResealReason};

/// The state of one cart between requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// The cart.
    pub cart: Cart,
    /// Raised by every write.
    pub revision: u64,
    /// The absolute expiry, once the cart exists.
    pub absolute_expiry: Option<i64>,
    /// The idle expiry of the credential the client holds, once it exists.
    pub expires_at: Option<i64>,
}

/// A session loaded from a credential.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The session.
    pub session: Session,
    /// Set when the credential should be replaced on this response.
    pub reseal: Option<ResealReason>,
}

/// A session saved.
#[derive(Debug, Clone)]
pub struct Saved {
    /// What the client must send next time: a token, or a session id.
    pub credential: String,
    /// When that credential expires if unused (Unix seconds).
    pub expires_at: i64,
}

/// What a store can and cannot do, recorded by the acceptance suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Capabilities {
    /// Can end a cart before it expires, server-side.
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
    /// The backing store failed or timed out (503). The text is for logs.
    #[error("store unavailable: {0}")]
    Unavailable(String),
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

    /// Ends a session server-side. Stores without [`Capabilities::revocation`]
    /// return `Ok(false)`.
    fn revoke(&self, credential: &str) -> impl Future<Output = Result<bool, StoreError>>;

    /// Whether the store can serve requests now (for /readyz).
    fn ready(&self) -> impl Future<Output = Result<(), String>>;
}

/// The configured store, dispatched statically.
#[derive(Clone)]
pub enum AnyStore {
    /// Sealed tokens.
    Token(token::TokenStore),
    /// Redis.
    Redis(redis::RedisStore),
    /// In-process.
    Memory(memory::MemoryStore),
    /// No session layer.
    None(none::NoneStore),
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Token($store) => $call,
            AnyStore::Redis($store) => $call,
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

    async fn revoke(&self, credential: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.revoke(credential).await)
    }

    async fn ready(&self) -> Result<(), String> {
        dispatch!(self, s => s.ready().await)
    }
}

/// A fresh 128-bit session id, base64url: the credential of the Redis and
/// memory stores.
pub fn new_session_id() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The session id to save under: the client's, when it holds a well-formed
/// one (the handlers pass it only after it loaded), else a fresh one.
pub fn session_id_for(credential: Option<&str>) -> String {
    match credential {
        Some(c) if is_session_id(c) => c.to_owned(),
        _ => new_session_id(),
    }
}

/// True when `credential` has the shape of a session id; anything else is
/// refused before it reaches a store.
pub fn is_session_id(credential: &str) -> bool {
    credential.len() == 22
        && credential
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        && crate::token::is_canonical_b64url(credential)
}
