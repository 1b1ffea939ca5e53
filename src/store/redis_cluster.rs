//! The Redis store on a Redis Cluster (`redis.cluster_nodes`).
//!
//! The same [`Redis`] backend as on a single Redis, over the redis crate's
//! own cluster client ([`ClusterConnection`]): it learns the slot map from
//! the seed nodes, sends each command to the master of its key's slot, and
//! follows `MOVED`/`ASK` redirections and failovers by itself. A cart's key
//! is `redis.key_prefix + id` with no hash tag, so carts spread over all
//! 16384 slots; every call touches one key, so the compare-and-set script
//! (`EVALSHA` on that key) runs unchanged (docs/architecture.md, "Redis
//! Cluster").
//!
//! # Failures
//! As on a single Redis, every call is bounded by `redis.timeout_ms`: the
//! client's connection and response timeouts, its retries (a few, close
//! together, so that a redirection after a failover is followed), and the
//! backend's hard timeout around the whole call. While a master is down and
//! no replica has taken over, calls on its slots fail with 503; calls on
//! the other slots go on.

use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;

use super::redis::{Connection, Redis};
use super::{CentralStore, SetupError};
use crate::cart::Limits;
use crate::config::RedisConfig;
use crate::expiry::Expiry;

/// Retries of one call (a redirection, a reconnection, a refreshed slot
/// map), all inside the call's timeout.
const RETRIES: u32 = 3;
/// Smallest and largest wait between retries, in milliseconds.
const MIN_RETRY_WAIT_MS: u64 = 10;
const MAX_RETRY_WAIT_MS: u64 = 100;

impl Connection for ClusterConnection {
    const NAME: &'static str = "redis-cluster";
}

/// Carts in a Redis Cluster.
pub type RedisClusterStore = CentralStore<Redis<ClusterConnection>>;

impl RedisClusterStore {
    /// A store on the cluster `config.cluster_nodes` seeds. It does not
    /// connect: the connection is made in the background, and a call made
    /// before the cluster answers fails with 503, so this succeeds while
    /// the cluster is down.
    ///
    /// Must be called inside a tokio runtime (the client spawns its task);
    /// outside one it returns an error instead of panicking.
    pub fn new(config: &RedisConfig, expiry: Expiry, limits: Limits) -> Result<Self, SetupError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SetupError::NoRuntime("redis-cluster"));
        }
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        // The error's own text may quote a URL, which may hold a password:
        // only its category is kept.
        let client = ClusterClient::builder(config.cluster_nodes.iter().map(String::as_str))
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(RETRIES)
            .min_retry_wait(MIN_RETRY_WAIT_MS)
            .max_retry_wait(MAX_RETRY_WAIT_MS)
            .build()
            .map_err(|e| SetupError::Url("redis.cluster_nodes", e.category().to_owned()))?;
        // The config's timeouts replace the builder's: both are set again.
        let conn = client.get_pending_async_connection_with_config(
            ClusterConfig::new()
                .set_connection_timeout(timeout)
                .set_response_timeout(timeout),
        );
        Ok(Self::over(
            Redis::on(conn, &config.key_prefix, timeout),
            expiry,
            limits,
        ))
    }
}
