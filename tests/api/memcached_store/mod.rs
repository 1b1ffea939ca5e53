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
use cartseal::config::{MemcachedConfig, Settings, StoreKind};
use cartseal::ids::random as new_session_id;
use cartseal::store::memcached::MemcachedStore;
use cartseal::store::{CartStore, Session, StoreError};
use cartseal::token::{OpenError, Oversize};

use crate::central_store::{
    HANG, TIMEOUT_MS, Target, expiry, is_unavailable, memcached_config as config, no_hang, now,
    session, target,
};
use crate::helpers::{MemcachedTarget, TestApp, noise, spawn_app_with};
use crate::process::MemcachedServer;

/// A store on the server at `url`, its keys under `prefix`.
fn store_at(url: &str, prefix: &str) -> MemcachedStore {
    MemcachedServer::store_at(url, prefix, expiry(), Limits::default())
}

/// The service with its carts on `target`, its other settings as `adjust`
/// leaves them.
async fn app_on(target: &MemcachedTarget, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.store.kind = StoreKind::Memcached;
        s.memcached.url = target.url().to_owned();
        s.memcached.key_prefix = target.prefix.clone();
        adjust(s);
    })
    .await
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
