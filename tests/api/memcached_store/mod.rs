//! What only the Memcached store does: its pool of connections, eviction,
//! and its item size limit. The scenarios every central store shares are in
//! tests/api/central_store. The tests that pause, kill, restart or fill
//! Memcached start their own `memcached`.

mod connection;
mod eviction;
mod values;

use std::collections::BTreeMap;
use std::time::Duration;

use cartseal::cart::{Cart, Limits, Line, Properties, Quantity, Sku};
use cartseal::config::MemcachedConfig;
use cartseal::ids::random as new_session_id;
use cartseal::store::memcached::MemcachedStore;
use cartseal::store::{Capabilities, CartStore, Session, StoreError};
use cartseal::token::{OpenError, Oversize};

use crate::central_store::{
    HANG, TIMEOUT_MS, Target, expiry, is_unavailable, memcached_config, no_hang, now, session,
};
use crate::helpers::{MemcachedTarget, noise};
use crate::process::MemcachedServer;

/// Where a test's carts go (`MEMCACHED_URL`, or a private server), and a
/// store on it.
fn target() -> (MemcachedTarget, MemcachedStore) {
    let target = MemcachedTarget::new("test");
    let store = target.store();
    (target, store)
}

fn store_at(url: &str, prefix: &str) -> MemcachedStore {
    MemcachedStore::new(&config(url, prefix), expiry(), Limits::default()).expect("a store")
}

fn config(url: &str, prefix: &str) -> MemcachedConfig {
    memcached_config(url, prefix)
}

/// A store on a port nothing listens on: any Memcached call is Unavailable.
fn dead_store() -> MemcachedStore {
    MemcachedTarget::dead()
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
        ..Session::default()
    }
}
