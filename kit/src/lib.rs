//! What the tests and the benchmarks of cartseal share, and nothing the
//! service itself runs: the child processes they start (the service
//! binary, redis-server, Redis Cluster, memcached, nginx, chromedriver).
//!
//! A dev-dependency of the root package, and a dependency of the load
//! generator (`loadgen/`): both use it as `cartseal_kit::process`.

pub mod process;
