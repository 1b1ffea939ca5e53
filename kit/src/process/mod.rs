//! The child processes of the tests and of the load benchmark: a guard that
//! kills a child with its process group, the service binary, a private
//! `redis-server`, Redis Cluster and `memcached`, nginx in front of
//! replicas, chromedriver, and free ports.
//!
//! It takes the binary's path and any wrapper around a program (such as
//! the benchmark's `taskset -c 0`) as parameters, so the `api` tests and
//! the load generator (`loadgen/`) share it as it is.

mod child;
mod chromedriver;
mod daemon;
mod memcached;
mod nginx;
mod redis_cluster;
mod redis_server;
mod service;

pub use child::ChildGuard;
pub use chromedriver::{CHROMIUM, Chromedriver};
pub use daemon::{Daemon, Kind, Private, Program, Server, Target};
pub use memcached::{Memcached, MemcachedKind, MemcachedServer};
pub use nginx::{Nginx, Routing, Tuning};
pub use redis_cluster::{RedisCluster, redis_cli};
pub use redis_server::{Redis, RedisKind, RedisServer};
pub use service::Service;

/// A local port nothing listens on: bound on port 0, then released. Another
/// process may take it before it is used, so whoever listens on it retries.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("a bound address").port()
}
