//! What only the Redis store does: its connection. The scenarios every
//! central store shares are in tests/api/central_store. The outage test
//! starts its own `redis-server`, since it stops and kills it.

mod connection;

use cartseal::cart::Limits;
use cartseal::config::RedisConfig;
use cartseal::store::redis::RedisStore;
use cartseal::store::{Capabilities, CartStore};

use crate::central_store::{Target, expiry, redis_config};
use crate::helpers::RedisTarget;

/// Where a test's carts go (`REDIS_URL`, or a private server), and a store
/// on it.
fn target() -> (RedisTarget, RedisStore) {
    let target = RedisTarget::new("test");
    let store = target.store();
    (target, store)
}

fn store_at(url: &str, prefix: &str) -> RedisStore {
    RedisStore::new(&redis_config(url, prefix), expiry(), Limits::default()).expect("a store")
}
