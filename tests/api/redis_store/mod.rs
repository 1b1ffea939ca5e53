//! The Redis store through its public API, against a private `redis-server`
//! on a free port, started and killed by each test, or against `REDIS_URL`
//! when it is set (under a random key prefix). The outage test always starts
//! its own server, since it stops and kills it.
//!
//! Where a test looks at or writes a stored value, it follows the value
//! layout documented in `src/store/value.rs`: a layout byte (`1`), the
//! revision (u64 big-endian), the absolute expiry (i64 big-endian), then the
//! raw deflate of the compact cart JSON.

mod connection;
mod sessions;
mod values;

use std::collections::BTreeMap;
use std::time::Duration;

use cartseal::cart::{Cart, Limits, Line, Properties, Quantity, Sku};
use cartseal::config::RedisConfig;
use cartseal::expiry::Expiry;
use cartseal::ids::{is_random as is_session_id, random as new_session_id};
use cartseal::store::redis::RedisStore;
use cartseal::store::{Capabilities, CartStore, Session, StoreError};
use cartseal::token::{InvalidReason, OpenError, Oversize, deflate};

use crate::helpers::RedisTarget;
use crate::process::{RedisServer, free_port};

const TIMEOUT_MS: u64 = 200;
const IDLE: u64 = 100;
const ABSOLUTE: u64 = 3600;
/// A bound that turns a hang into a failure; not a timing assertion.
const HANG: Duration = Duration::from_secs(10);
/// The layout version in a value's first byte.
const LAYOUT_V1: u8 = 1;
/// Bytes before the compressed cart: layout, revision, absolute expiry.
const HEADER_LEN: usize = 1 + 8 + 8;

/// The stores' lifetimes: a short idle TTL that tests can watch pass.
fn expiry() -> Expiry {
    Expiry::new(IDLE, ABSOLUTE, 60, 0)
}

/// Where a test's carts go (`REDIS_URL`, or a private server), and a store
/// on it.
fn target() -> (RedisTarget, RedisStore) {
    let target = RedisTarget::shared_or_private("test");
    let store = store_at(target.url(), &target.prefix);
    (target, store)
}

fn store_at(url: &str, prefix: &str) -> RedisStore {
    RedisStore::new(&config(url, prefix), expiry(), Limits::default()).expect("a store")
}

fn config(url: &str, prefix: &str) -> RedisConfig {
    RedisConfig {
        url: url.into(),
        timeout_ms: TIMEOUT_MS,
        key_prefix: prefix.into(),
    }
}

/// A store on a port nothing listens on: any Redis call is Unavailable.
fn dead_store() -> RedisStore {
    store_at(
        &format!("redis://127.0.0.1:{}", free_port()),
        "cartseal:cart:",
    )
}

/// The TTL of a session's key, as Redis reports it (-2: no such key).
async fn key_ttl(target: &RedisTarget, id: &str) -> i64 {
    ::redis::cmd("TTL")
        .arg(target.key(id))
        .query_async(&mut target.connection().await)
        .await
        .unwrap()
}

/// Writes a value under a session's key, as a replica would.
async fn set_raw(target: &RedisTarget, id: &str, value: &[u8]) {
    ::redis::cmd("SET")
        .arg(target.key(id))
        .arg(value)
        .arg("EX")
        .arg(60)
        .query_async::<()>(&mut target.connection().await)
        .await
        .unwrap();
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

fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Unavailable(_)))
}
