//! The Memcached store through its public API, against a private
//! `memcached` on a free port, started and killed by each test, or against
//! `MEMCACHED_URL` when it is set (under a random key prefix). The tests that
//! pause, kill, restart or fill Memcached always start their own.
//!
//! Where a test looks at or writes a stored value, it uses a text-protocol
//! connection of its own (`MemcachedTarget::connection`), not the client
//! under test, and follows the value layout documented in
//! `src/store/value.rs`: a layout byte (`1`), the revision (u64 big-endian),
//! the absolute expiry (i64 big-endian), then the raw deflate of the compact
//! cart JSON.

mod connection;
mod eviction;
mod sessions;
mod values;

use std::collections::BTreeMap;
use std::time::Duration;

use cartseal::cart::{Cart, Limits, Line, Properties, Quantity, Sku};
use cartseal::config::MemcachedConfig;
use cartseal::expiry::Expiry;
use cartseal::ids::{is_random as is_session_id, random as new_session_id};
use cartseal::store::memcached::MemcachedStore;
use cartseal::store::{Capabilities, CartStore, Session, StoreError};
use cartseal::token::{InvalidReason, OpenError, Oversize, deflate};

use crate::helpers::{MemcachedTarget, noise};
use crate::process::{MemcachedServer, free_port};

const TIMEOUT_MS: u64 = 200;
const IDLE: u64 = 100;
const ABSOLUTE: u64 = 3600;
/// A bound that turns a hang into a failure; not a timing assertion.
const HANG: Duration = Duration::from_secs(10);
/// The layout version in a value's first byte.
const LAYOUT_V1: u8 = 1;
/// Bytes before the compressed cart: layout, revision, absolute expiry.
const HEADER_LEN: usize = 1 + 8 + 8;

/// The stores' lifetimes: a short idle TTL that tests can watch.
fn expiry() -> Expiry {
    Expiry::new(IDLE, ABSOLUTE, 60, 0)
}

/// Where a test's carts go (`MEMCACHED_URL`, or a private server), and a
/// store on it.
fn target() -> (MemcachedTarget, MemcachedStore) {
    let target = MemcachedTarget::shared_or_private("test");
    let store = store_at(target.url(), &target.prefix);
    (target, store)
}

fn store_at(url: &str, prefix: &str) -> MemcachedStore {
    MemcachedStore::new(&config(url, prefix), expiry(), Limits::default()).expect("a store")
}

fn config(url: &str, prefix: &str) -> MemcachedConfig {
    MemcachedConfig {
        url: url.into(),
        timeout_ms: TIMEOUT_MS,
        key_prefix: prefix.into(),
        ..MemcachedConfig::default()
    }
}

/// A store on a port nothing listens on: any Memcached call is Unavailable.
fn dead_store() -> MemcachedStore {
    store_at(
        &format!("tcp://127.0.0.1:{}", free_port()),
        "cartseal:cart:",
    )
}

/// The remaining TTL of a session's key, as Memcached reports it; `None`:
/// no such key.
async fn key_ttl(target: &MemcachedTarget, id: &str) -> Option<i64> {
    target.connection().await.ttl(&target.key(id)).await
}

/// Writes a value under a session's key, as a replica would.
async fn set_raw(target: &MemcachedTarget, id: &str, value: &[u8]) {
    target
        .connection()
        .await
        .set(&target.key(id), value, 60)
        .await;
}

/// Awaits a store call, failing the test if it hangs.
async fn no_hang<T>(call: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG, call).await.expect("no hang")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn session(lines: usize) -> Session {
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
        absolute_expiry: None,
        expires_at: None,
    }
}

/// A cart of `lines` lines whose properties do not compress: its stored
/// value is about `lines * properties * value_bytes` bytes.
fn noisy_session(lines: usize, properties: usize, value_bytes: usize, limits: &Limits) -> Session {
    let mut cart = Cart::new();
    for i in 0..lines {
        let props = (0..properties)
            .map(|p| (format!("p{p}"), noise((i * 31 + p) as u64, value_bytes)))
            .collect::<BTreeMap<_, _>>();
        let line = Line::new(
            Sku::parse(&format!("BIG-{i:04}"), limits).unwrap(),
            Quantity::parse(1, limits).unwrap(),
            Properties::parse(props, limits).unwrap(),
        );
        cart.add(line, limits).unwrap();
    }
    Session {
        cart: cart.into(),
        revision: 1,
        absolute_expiry: None,
        expires_at: None,
    }
}

fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Unavailable(_)))
}
