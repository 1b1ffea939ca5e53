//! What the tests and the benchmarks of cartseal share, and nothing the
//! service itself runs: the child processes they start (the service
//! binary, redis-server, Redis Cluster, memcached, nginx, chromedriver),
//! the one keyring and clock fixture ([`fixture`]), the virtual shopper
//! that drives the cart API through any HTTP client ([`shopper`]), and
//! replicas of the service behind nginx ([`cluster`]).
//!
//! A dev-dependency of the root package, and a dependency of the load
//! generator (`loadgen/`): both use it as `cartseal_kit::process` and
//! `cartseal_kit::shopper`.

pub mod cluster;
#[cfg(feature = "fixture")]
pub mod fixture;
pub mod process;
pub mod shopper;
