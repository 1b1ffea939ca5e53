//! What only the Redis store does: its connection. The scenarios every
//! central store shares are in tests/api/central_store. The outage test
//! starts its own `redis-server`, since it stops and kills it.

mod connection;

use cartseal::cart::Limits;
use cartseal::config::RedisConfig;
use cartseal::store::CartStore;
use cartseal::store::redis::RedisStore;

use crate::central_store::{expiry, target};
use crate::process::RedisServer;
