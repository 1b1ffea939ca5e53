//! One suite for the central store (`src/store/central.rs`) over each of
//! its backends. Each scenario is a generic `async fn` written once, over
//! [`Fresh`] (any backend: a fresh store) or over [`Target`] (a backend that
//! runs as a server of its own, Redis and Memcached, whose keys and TTLs a
//! test can look at); [`central_store_suite!`] expands it into a
//! `#[tokio::test]` per backend, as the acceptance suite does per store.
//! The memory backend runs the [`Fresh`] scenarios: the sessions' round
//! trip and the compare-and-set's races. What only one backend does (its
//! connections, Memcached's eviction and item size limit) stays in
//! tests/api/redis_store and tests/api/memcached_store.
//!
//! A test runs against `REDIS_URL` or `MEMCACHED_URL` when it is set (under
//! a random key prefix), or a private server on a free port. Where it looks
//! at or writes a stored value, it uses a connection of its own, not the
//! store under test, and follows the value layout documented in
//! `src/store/value.rs`: a layout byte (`1`), the revision (u64
//! big-endian), the absolute expiry (i64 big-endian), then the raw deflate
//! of the compact cart JSON.

mod outage;
mod races;
mod sessions;
mod values;

use std::collections::BTreeMap;
use std::time::Duration;

use cartseal::cart::{Cart, Limits, Line, Properties, Quantity, Sku};
use cartseal::config::{MemcachedConfig, MemoryConfig, RedisConfig};
use cartseal::expiry::Expiry;
use cartseal::store::memcached::MemcachedStore;
use cartseal::store::memory::MemoryStore;
use cartseal::store::redis::RedisStore;
use cartseal::store::{Capabilities, CartStore, Session, StoreError};
pub use cartseal_kit::fixture::now;

use crate::helpers::{Backend, StoreTarget};
use crate::process::{MemcachedServer, Private, RedisServer, free_port};

/// The stores' call timeout.
pub const TIMEOUT_MS: u64 = 200;
/// The stores' lifetimes: a short idle TTL that tests can watch pass.
pub const IDLE: u64 = 100;
pub const ABSOLUTE: u64 = 3600;
/// A bound that turns a hang into a failure; not a timing assertion.
pub const HANG: Duration = Duration::from_secs(10);
/// The layout version in a value's first byte.
pub const LAYOUT_V1: u8 = 1;
/// Bytes before the compressed cart: layout, revision, absolute expiry.
pub const HEADER_LEN: usize = 1 + 8 + 8;

pub fn expiry() -> Expiry {
    Expiry::new(IDLE, ABSOLUTE, 60, 0)
}

/// A backend, as a test reaches its server beside the store under test:
/// how a store is made on it, and the key operations a test does on its
/// own connection.
pub(crate) trait Target: Backend {
    type Store: CartStore;
    /// The scheme of the backend's URLs.
    const SCHEME: &'static str;

    /// A store on the server at `url`, its keys under `prefix`.
    fn store_at(url: &str, prefix: &str, expiry: Expiry, limits: Limits) -> Self::Store;
    /// The remaining TTL of a session's key; `None`: no such key.
    async fn ttl(target: &StoreTarget<Self>, id: &str) -> Option<i64>;
    /// Sets a session's TTL, as if time had passed.
    async fn set_ttl(target: &StoreTarget<Self>, id: &str, secs: i64);
    async fn get_raw(target: &StoreTarget<Self>, id: &str) -> Option<Vec<u8>>;
    /// Writes a value under a session's key, as a replica would.
    async fn set_raw(target: &StoreTarget<Self>, id: &str, value: &[u8]);
    /// Deletes a session's key, as an operator would; true if it was there.
    async fn delete(target: &StoreTarget<Self>, id: &str) -> bool;

    /// The backend's environment variable under a random prefix, or a
    /// private server.
    fn new(label: &str) -> StoreTarget<Self> {
        StoreTarget::shared_or_private(label)
    }

    /// A store on the server at `url` with the shipped prefix, lifetimes
    /// and limits of the tests.
    fn at(url: &str) -> Self::Store {
        Self::store_at(url, "cartseal:cart:", expiry(), Limits::default())
    }

    /// A store on a port nothing listens on: any call is Unavailable.
    fn dead() -> Self::Store {
        Self::at(&format!("{}://127.0.0.1:{}", Self::SCHEME, free_port()))
    }

    /// A store on a private `server`.
    fn on(server: &Self) -> Self::Store {
        Self::at(&Private::url(server))
    }
}

impl<T: Target> StoreTarget<T> {
    /// A store on this test's server, under its prefix.
    pub fn store_with(&self, expiry: Expiry, limits: Limits) -> T::Store {
        T::store_at(self.url(), &self.prefix, expiry, limits)
    }

    /// A store on this test's server, under its prefix, with the tests'
    /// lifetimes and the default limits.
    pub fn store(&self) -> T::Store {
        self.store_with(expiry(), Limits::default())
    }
}

/// A test's own place on a backend's server (see [`Target::new`]), and a
/// store on it.
pub fn target<T: Target>() -> (StoreTarget<T>, T::Store) {
    let target = T::new("test");
    let store = target.store();
    (target, store)
}

/// Any backend of the central store, as a scenario that needs only the
/// store sees it: a fresh store with the tests' lifetimes and the default
/// limits, and what keeps its carts (a server, or nothing).
pub(crate) trait Fresh {
    type Store: CartStore;
    type Place;

    fn fresh() -> (Self::Place, Self::Store);
}

impl<T: Target> Fresh for T {
    type Store = T::Store;
    type Place = StoreTarget<T>;

    fn fresh() -> (StoreTarget<T>, T::Store) {
        target::<T>()
    }
}

/// The memory backend: carts in the store itself.
pub struct InMemory;

impl Fresh for InMemory {
    type Store = MemoryStore;
    type Place = ();

    fn fresh() -> ((), MemoryStore) {
        let store = MemoryStore::new(&MemoryConfig::default(), expiry(), Limits::default());
        ((), store)
    }
}

impl Target for RedisServer {
    type Store = RedisStore;
    const SCHEME: &'static str = "redis";

    fn store_at(url: &str, prefix: &str, expiry: Expiry, limits: Limits) -> RedisStore {
        RedisStore::new(&redis_config(url, prefix), expiry, limits).expect("a store")
    }

    async fn ttl(target: &StoreTarget<Self>, id: &str) -> Option<i64> {
        let ttl: i64 = ::redis::cmd("TTL")
            .arg(target.key(id))
            .query_async(&mut target.connection().await)
            .await
            .unwrap();
        (ttl != -2).then_some(ttl)
    }

    async fn set_ttl(target: &StoreTarget<Self>, id: &str, secs: i64) {
        let _: i64 = ::redis::cmd("EXPIRE")
            .arg(target.key(id))
            .arg(secs)
            .query_async(&mut target.connection().await)
            .await
            .unwrap();
    }

    async fn get_raw(target: &StoreTarget<Self>, id: &str) -> Option<Vec<u8>> {
        ::redis::cmd("GET")
            .arg(target.key(id))
            .query_async(&mut target.connection().await)
            .await
            .unwrap()
    }

    async fn set_raw(target: &StoreTarget<Self>, id: &str, value: &[u8]) {
        ::redis::cmd("SET")
            .arg(target.key(id))
            .arg(value)
            .arg("EX")
            .arg(60)
            .query_async::<()>(&mut target.connection().await)
            .await
            .unwrap();
    }

    async fn delete(target: &StoreTarget<Self>, id: &str) -> bool {
        let removed: i64 = ::redis::cmd("DEL")
            .arg(target.key(id))
            .query_async(&mut target.connection().await)
            .await
            .unwrap();
        removed == 1
    }
}

pub fn redis_config(url: &str, prefix: &str) -> RedisConfig {
    RedisConfig {
        url: url.into(),
        timeout_ms: TIMEOUT_MS,
        key_prefix: prefix.into(),
        ..RedisConfig::default()
    }
}

impl Target for MemcachedServer {
    type Store = MemcachedStore;
    const SCHEME: &'static str = "tcp";

    fn store_at(url: &str, prefix: &str, expiry: Expiry, limits: Limits) -> MemcachedStore {
        MemcachedStore::new(&memcached_config(url, prefix), expiry, limits).expect("a store")
    }

    async fn ttl(target: &StoreTarget<Self>, id: &str) -> Option<i64> {
        target.connection().await.ttl(&target.key(id)).await
    }

    async fn set_ttl(target: &StoreTarget<Self>, id: &str, secs: i64) {
        assert!(target.connection().await.touch(&target.key(id), secs).await);
    }

    async fn get_raw(target: &StoreTarget<Self>, id: &str) -> Option<Vec<u8>> {
        target.connection().await.get(&target.key(id)).await
    }

    async fn set_raw(target: &StoreTarget<Self>, id: &str, value: &[u8]) {
        target
            .connection()
            .await
            .set(&target.key(id), value, 60)
            .await;
    }

    async fn delete(target: &StoreTarget<Self>, id: &str) -> bool {
        target.connection().await.delete(&target.key(id)).await
    }
}

pub fn memcached_config(url: &str, prefix: &str) -> MemcachedConfig {
    MemcachedConfig {
        url: url.into(),
        timeout_ms: TIMEOUT_MS,
        key_prefix: prefix.into(),
        ..MemcachedConfig::default()
    }
}

/// Expands every scenario into a `#[tokio::test]` for each backend.
macro_rules! central_store_suite {
    ($($backend:ident => $target:ty),* $(,)?) => {
        $(
            mod $backend {
                central_store_suite!(@tests $target;
                    sessions::save_then_load_round_trips,
                    sessions::a_load_slides_the_idle_ttl,
                    sessions::the_absolute_expiry_caps_the_ttl_and_ends_the_cart,
                    sessions::a_ttl_over_30_days_is_kept,
                    sessions::a_missing_key_is_expired,
                    sessions::an_operator_ends_a_cart_by_deleting_its_key,
                    sessions::a_bad_id_is_refused_without_touching_the_server,
                    sessions::ready_answers,
                    sessions::a_dead_server_is_a_503_that_names_no_id,
                    sessions::one_store_per_worker_runtime,
                    sessions::capabilities_are_recorded,
                    outage::an_outage_is_503_and_the_store_recovers_by_itself,
                    values::the_value_is_compact_and_holds_no_plain_cart,
                    values::an_unreadable_value_is_invalid_not_unavailable,
                    values::a_cart_that_could_not_be_read_back_is_refused,
                    races::a_save_after_another_write_conflicts_and_saves_nothing,
                    races::reads_between_a_load_and_its_save_do_not_conflict,
                    races::a_cart_that_ended_since_the_load_is_not_brought_back,
                    races::a_new_cart_never_overwrites_a_stored_one,
                );
            }
        )*
    };
    (@tests $target:ty; $($module:ident :: $scenario:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $scenario() {
                super::$module::$scenario::<$target>().await;
            }
        )*
    };
}

central_store_suite! {
    redis => crate::process::RedisServer,
    memcached => crate::process::MemcachedServer,
}

mod memory {
    central_store_suite!(@tests super::InMemory;
        sessions::save_then_load_round_trips,
        sessions::a_missing_key_is_expired,
        races::a_save_after_another_write_conflicts_and_saves_nothing,
        races::reads_between_a_load_and_its_save_do_not_conflict,
        races::a_new_cart_never_overwrites_a_stored_one,
    );
}

/// Awaits a store call, failing the test if it hangs.
pub async fn no_hang<T>(call: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG, call).await.expect("no hang")
}

/// A session of `lines` lines with two properties each, not stored yet.
pub fn session(lines: usize) -> Session {
    let limits = Limits::default();
    let mut cart = Cart::new();
    for i in 0..lines {
        let properties = BTreeMap::from([
            ("size".to_owned(), "M".to_owned()),
            ("colour".to_owned(), "blue".to_owned()),
        ]);
        let line = Line::new(
            Sku::parse(&format!("TEE-{i:03}"), &limits).unwrap(),
            Quantity::parse(i64::try_from(i).unwrap() + 1, &limits).unwrap(),
            Properties::parse(properties, &limits).unwrap(),
        );
        cart.add(line, &limits).unwrap();
    }
    Session {
        cart: cart.into(),
        revision: 7,
        ..Session::default()
    }
}

pub fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Unavailable(_)))
}
