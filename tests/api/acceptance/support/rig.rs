//! The store under test, what it cannot do ([`Facts`]), and a running server
//! on it ([`Rig`]).

use cartseal::config::{Settings, StoreKind};

use crate::helpers::{ConfigDir, MemcachedTarget, RedisTarget, TestApp, spawn_app_in};
use crate::redis_cluster::{ClusterTarget, age_keys};

/// `memcached.timeout_ms` of the rig. A Memcached connection carries one
/// request at a time, so a call can wait for one of the worker's pooled
/// connections, and that wait counts against the deadline; with the 50
/// shoppers of `fifty_concurrent_carts_are_all_kept` on a 2-core machine
/// busy with other builds, and 4 connections per worker, the shipped 250 ms
/// was sometimes not enough (1 run in 15). Redis multiplexes every request over one connection and has no
/// such wait. The scenarios here are about what a store keeps, not about
/// latency; the outage tests (tests/api/memcached_store, failover) set
/// their own timeout.
const MEMCACHED_TIMEOUT_MS: u64 = 1000;

/// The store a scenario runs against, and for Redis whether on a Redis
/// Cluster (`redis.cluster_nodes`) rather than one Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Store(pub StoreKind, pub bool);

impl Store {
    /// `kind` on one server (or none).
    pub const fn of(kind: StoreKind) -> Self {
        Self(kind, false)
    }

    /// The Redis store on a Redis Cluster.
    pub const fn redis_cluster() -> Self {
        Self(StoreKind::Redis, true)
    }
}

/// What a store can and cannot do: the expected outcomes that differ.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// The cart lives on the server: a copied credential names the server's
    /// cart as it is now, not the cart as it was when copied.
    pub server_side: bool,
    /// The server can end a cart before it expires.
    pub revocation: bool,
    /// A cart outlives the replica that wrote it.
    pub survives_replica_loss: bool,
    /// A cart outlives a restart of the store.
    pub survives_store_restart: bool,
    /// The code for a credential with one character changed. A token's MAC
    /// fails (`token_invalid`); a session id carries no MAC, so a changed id
    /// is merely one the store does not hold (`token_expired`).
    pub tampered_code: &'static str,
}

impl Store {
    pub fn facts(self) -> Facts {
        match self.0 {
            StoreKind::Token => Facts {
                server_side: false,
                revocation: false,
                survives_replica_loss: true,
                survives_store_restart: true,
                tampered_code: "token_invalid",
            },
            StoreKind::Redis => Facts {
                server_side: true,
                revocation: true,
                survives_replica_loss: true,
                survives_store_restart: false,
                tampered_code: "token_expired",
            },
            // As Redis: the cart lives in the store, which keeps nothing
            // across a restart. Eviction is a fact of its own, recorded by
            // tests/api/memcached_store (a full Memcached drops a live cart).
            StoreKind::Memcached => Facts {
                server_side: true,
                revocation: true,
                survives_replica_loss: true,
                survives_store_restart: false,
                tampered_code: "token_expired",
            },
            StoreKind::Memory => Facts {
                server_side: true,
                // Nothing reaches into the process to end one cart, and a
                // full store refuses new carts rather than evict one.
                revocation: false,
                survives_replica_loss: false,
                survives_store_restart: false,
                tampered_code: "token_expired",
            },
            StoreKind::None => {
                unreachable!("the none store keeps no carts: it is not in the suite")
            }
        }
    }

    pub async fn spawn(self) -> Rig {
        self.spawn_with(|_| {}).await
    }

    pub async fn spawn_with(self, adjust: impl FnOnce(&mut Settings)) -> Rig {
        let central = match self.0 {
            StoreKind::Redis if self.1 => {
                Central::RedisCluster(ClusterTarget::shared("acceptance").await)
            }
            StoreKind::Redis => Central::Redis(RedisTarget::shared_or_private("acceptance")),
            StoreKind::Memcached => {
                Central::Memcached(MemcachedTarget::shared_or_private("acceptance"))
            }
            _ => Central::None,
        };
        Rig::start(self, central, adjust).await
    }

    /// With a redis-server or memcached of its own even when `REDIS_URL` or
    /// `MEMCACHED_URL` is set: for the scenarios that restart it.
    pub async fn spawn_private(self) -> Rig {
        let central = match self.0 {
            StoreKind::Redis if self.1 => {
                Central::RedisCluster(ClusterTarget::private("acceptance").await)
            }
            StoreKind::Redis => Central::Redis(RedisTarget::private("acceptance")),
            StoreKind::Memcached => Central::Memcached(MemcachedTarget::private("acceptance")),
            _ => Central::None,
        };
        Rig::start(self, central, |_| {}).await
    }
}

/// The central store a rig's instances share, if any.
enum Central {
    None,
    Redis(RedisTarget),
    RedisCluster(ClusterTarget),
    Memcached(MemcachedTarget),
}

/// A running server on one store, and what the scenario may do to it.
pub struct Rig {
    app: TestApp,
    store: Store,
    central: Central,
}

impl std::ops::Deref for Rig {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Rig {
    async fn start(store: Store, central: Central, adjust: impl FnOnce(&mut Settings)) -> Self {
        let app = spawn_instance(store, &central, adjust).await;
        Self {
            app,
            store,
            central,
        }
    }

    /// Another instance of the service: the same keys, the same Redis or
    /// Memcached.
    pub async fn replica(&self) -> TestApp {
        self.replica_with(|_| {}).await
    }

    /// Another instance, with settings adjusted by `adjust`.
    pub async fn replica_with(&self, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        spawn_instance(self.store, &self.central, adjust).await
    }

    /// `secs` pass: on the app's clock, and for Redis or Memcached on its
    /// own clock.
    pub async fn time_passes(&self, secs: i64) {
        self.app.clock.advance(secs);
        match &self.central {
            Central::None => {}
            Central::Memcached(memcached) => memcached.age(secs).await,
            Central::Redis(redis) => {
                age_keys(&mut redis.connection().await, &redis.prefix, secs).await;
            }
            Central::RedisCluster(cluster) => {
                age_keys(&mut cluster.connection().await, &cluster.prefix, secs).await;
            }
        }
    }

    /// Ends a cart server-side, the only way each store can, and says
    /// whether it could: an operator deletes the Redis or Memcached key;
    /// nothing ends one
    /// cart in the memory store (no interface reaches into the process, and
    /// a full store refuses new carts instead of evicting), and nothing the
    /// server does ends a token.
    pub async fn end_cart(&self, credential: &str) -> bool {
        match self.store.0 {
            StoreKind::Token | StoreKind::Memory => false,
            StoreKind::Memcached => {
                let Central::Memcached(memcached) = &self.central else {
                    unreachable!("a memcached rig has Memcached")
                };
                let key = memcached.key(credential);
                memcached.connection().await.delete(&key).await
            }
            StoreKind::Redis => {
                let removed: i64 = match &self.central {
                    Central::Redis(redis) => ::redis::cmd("DEL")
                        .arg(redis.key(credential))
                        .query_async(&mut redis.connection().await)
                        .await
                        .expect("DEL"),
                    Central::RedisCluster(cluster) => ::redis::cmd("DEL")
                        .arg(cluster.key(credential))
                        .query_async(&mut cluster.connection().await)
                        .await
                        .expect("DEL"),
                    _ => unreachable!("a redis rig has Redis"),
                };
                removed == 1
            }
            StoreKind::None => unreachable!(),
        }
    }

    /// Restarts the store: Redis and Memcached restart empty (no
    /// persistence); for the memory store the store is the process, and for
    /// the token store there is no store, so the service restarts (a new
    /// instance, the same keys).
    pub async fn restart_store(&mut self) {
        match &mut self.central {
            Central::Redis(redis) => redis.restart().await,
            Central::RedisCluster(cluster) => cluster.restart().await,
            Central::Memcached(memcached) => memcached.restart().await,
            Central::None => self.app = self.replica().await,
        }
    }

    /// Swaps in another instance; the old one stops (its replica is lost).
    pub fn lose_replica_to(&mut self, survivor: TestApp) {
        self.app = survivor;
    }
}

async fn spawn_instance(
    store: Store,
    central: &Central,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_app_in(ConfigDir::new(), |s| {
        s.store.kind = store.0;
        match central {
            Central::None => {}
            Central::Redis(redis) => {
                s.redis.url = redis.url().to_owned();
                s.redis.key_prefix = redis.prefix.clone();
            }
            Central::RedisCluster(cluster) => {
                s.redis.url = String::new();
                s.redis.cluster_nodes = cluster.urls();
                s.redis.key_prefix = cluster.prefix.clone();
            }
            Central::Memcached(memcached) => {
                s.memcached.url = memcached.url().to_owned();
                s.memcached.key_prefix = memcached.prefix.clone();
                s.memcached.timeout_ms = MEMCACHED_TIMEOUT_MS;
            }
        }
        adjust(s);
    })
    .await
}
