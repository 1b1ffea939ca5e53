//! [`AnyStore`]: the configured store, dispatched statically.

use super::memcached::MemcachedStore;
use super::memory::MemoryStore;
use super::none::NoneStore;
use super::redis::RedisStore;
use super::redis_cluster::RedisClusterStore;
use super::token::TokenStore;
use super::{Capabilities, CartStore, Loaded, Result, Saved, Session, SetupError, Turn};
use crate::config::{Settings, StoreKind};
use crate::keys::KeyringHandle;
use crate::token::TokenCodec;
use crate::token::cache::TokenCache;

/// The configured store, dispatched statically.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// Sealed tokens.
    Token(TokenStore),
    Redis(RedisStore),
    /// `store.kind = "redis"` with `redis.cluster_nodes`.
    RedisCluster(RedisClusterStore),
    Memcached(MemcachedStore),
    /// In-process.
    Memory(MemoryStore),
    /// No session layer.
    None(NoneStore),
}

impl AnyStore {
    /// The store `settings` configure. The token store seals under `keys`,
    /// which reloads swap in place.
    pub fn from_settings(settings: &Settings, keys: &KeyringHandle) -> Result<Self, SetupError> {
        let expiry = settings.token.expiry();
        let limits = settings.limits.clone();
        Ok(match settings.store.kind {
            StoreKind::Token => Self::Token(TokenStore::new(
                TokenCodec::new(settings.token.clone(), limits, keys.clone()),
                TokenCache::new(settings.cache.max_entries, settings.cache.max_bytes),
            )),
            StoreKind::Redis if !settings.redis.cluster_nodes.is_empty() => {
                Self::RedisCluster(RedisClusterStore::new(&settings.redis, expiry, limits)?)
            }
            StoreKind::Redis => Self::Redis(RedisStore::new(&settings.redis, expiry, limits)?),
            StoreKind::Memcached => {
                Self::Memcached(MemcachedStore::new(&settings.memcached, expiry, limits)?)
            }
            StoreKind::Memory => Self::Memory(MemoryStore::new(&settings.memory, expiry, limits)),
            StoreKind::None => Self::None(NoneStore::new(
                settings.store.none_template_lines,
                &limits,
                expiry,
            )),
        })
    }

    /// Prepares this worker's store before its first request: a Memcached
    /// store opens its pool ([`MemcachedStore::warm`]). Needs the
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
            Self::Redis(_) | Self::RedisCluster(_) | Self::Memcached(_) => {
                Self::from_settings(settings, keys)
            }
            shared => Ok(shared.clone()),
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Token($store) => $call,
            AnyStore::Redis($store) => $call,
            AnyStore::RedisCluster($store) => $call,
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

    async fn load(&self, credential: &str, now: i64) -> Result<Loaded> {
        dispatch!(self, s => s.load(credential, now).await)
    }

    async fn save(&self, credential: Option<&str>, session: &Session, now: i64) -> Result<Saved> {
        dispatch!(self, s => s.save(credential, session, now).await)
    }

    async fn turn(&self, credential: &str) -> Option<Turn> {
        dispatch!(self, s => s.turn(credential).await)
    }

    async fn ready(&self) -> Result<()> {
        dispatch!(self, s => s.ready().await)
    }
}
