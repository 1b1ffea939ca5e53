//! The integration tests: one binary, the real server on port 0.

use cartseal_kit::process;

mod acceptance;
mod bearer_flow;
mod browser;
mod central_store;
mod cli;
mod concurrency;
mod contract;
mod cookie_flow;
mod csrf_cors;
mod errors;
mod example;
mod expiry;
mod failover;
mod helpers;
mod kit;
mod limits;
mod logging;
mod memcached_store;
mod memory_budget;
mod nginx_example;
mod openapi;
mod redis_cluster;
mod redis_store;
mod reseal_race;
mod rotation;
mod routing_key;
mod safety;
mod smoke;
mod token_cache;
