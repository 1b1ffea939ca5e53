//! Where a cart lives between requests, behind one interface
//! ([`CartStore`], in `interface.rs`; [`AnyStore`], in `any.rs`, dispatches
//! to the configured one).
//!
//! - [`token::TokenStore`]: sealed into the client's token (the product).
//! - [`central::CentralStore`]: a cart kept by the server under a random
//!   session id, with a sliding idle TTL and a compare-and-set at every save,
//!   over one of three backends that supply only their primitives:
//!   [`redis::Redis`] (on one Redis or a Redis Cluster),
//!   [`memcached::Memcached`] (which may evict a cart
//!   before it expires) and [`memory::Memory`] (in this process; needs
//!   sticky sessions).
//! - [`none::NoneStore`]: no session layer, the benchmark's ceiling.
//!
//! [`AnyStore::from_settings`] builds the configured one. One acceptance
//! suite (tests/api/acceptance.rs) runs the same scenarios against each;
//! what a store cannot do is a [`Capabilities`] flag, never a skipped test
//! (docs/architecture.md, "The store interface").

mod any;
pub mod central;
mod interface;
pub mod memcached;
pub mod memory;
pub mod none;
pub mod redis;
pub mod redis_cluster;
pub mod token;
pub mod value;

use std::sync::Arc;

pub use any::AnyStore;
pub use central::{Backend, CentralStore, Found, Record, Swapped, Turn};
pub use interface::CartStore;

use crate::cart::Cart;
use crate::expiry::TimeError;
pub use crate::token::cache::Memo;
use crate::token::{InvalidReason, OpenError, Oversize, ResealReason, SealError};

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
    /// What a central store's compare-and-set checks at save time: the
    /// stamp of the value this session was loaded from (Memcached's CAS
    /// unique, or the revision stored in Redis or memory). `None` for a
    /// session that no stored value backs: a new cart, or a token's.
    pub stamp: Option<u64>,
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

/// What a store's operations return, as `std::io::Result` is for I/O.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl Capabilities {
    /// A store on the network that holds carts in memory only: Redis as
    /// run here (no persistence) and Memcached. An operator can delete a
    /// cart's key, and a replica's loss costs nothing, but a restart of the
    /// store itself loses every cart.
    pub const NETWORK_MEMORY: Self = Self {
        revocation: true,
        survives_replica_loss: true,
        survives_store_restart: false,
        keeps_carts: true,
    };
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
    /// Another write saved the cart after this one loaded it: the save was
    /// not made. The write path applies its change again to the fresh cart
    /// (docs/architecture.md, "Concurrent writes").
    #[error("the cart changed since it was loaded")]
    Conflict,
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
