//! Where a test keeps its carts in Redis.

use std::time::Duration;

use crate::process::{Redis, RedisServer};

/// `REDIS_URL` under a key prefix of this test's own, or a private
/// `redis-server`. On a shared Redis, dropping it deletes the test's keys
/// (best effort); a private server dies with it.
pub struct RedisTarget {
    redis: Redis,
    /// Every key of this test starts with it.
    pub prefix: String,
}

impl RedisTarget {
    /// `REDIS_URL` when it is set, else a private server; keys under
    /// `cartseal:<label>:<random>:`.
    pub fn shared_or_private(label: &str) -> Self {
        let redis =
            Redis::from_env_or(|| Ok(RedisServer::start())).unwrap_or_else(|e| panic!("{e}"));
        Self::new(redis, label)
    }

    /// A private server even when `REDIS_URL` is set: for a test that stops
    /// or restarts it.
    pub fn private(label: &str) -> Self {
        Self::new(Redis::private(RedisServer::start()), label)
    }

    fn new(redis: Redis, label: &str) -> Self {
        Self {
            redis,
            prefix: format!("cartseal:{label}:{}:", cartseal::ids::random()),
        }
    }

    pub fn url(&self) -> &str {
        self.redis.url()
    }

    /// The key of a session id.
    pub fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// A connection of the test's own, beside the one under test.
    pub async fn connection(&self) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(self.url())
            .expect("a Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("the test's Redis answers")
    }

    /// Kills the private server and starts an empty one on the same port,
    /// off the runtime (a server under test may drive its connection on
    /// it).
    pub async fn restart(&mut self) {
        let mut server = self
            .redis
            .take_server()
            .expect("RedisTarget::private: a redis-server of the test's own to restart");
        let server = tokio::task::spawn_blocking(move || {
            server.restart();
            server
        })
        .await
        .expect("redis-server restarts");
        self.redis.put_server(server);
    }
}

impl Drop for RedisTarget {
    fn drop(&mut self) {
        if self.redis.server().is_some() {
            return;
        }
        let Ok(client) = ::redis::Client::open(self.url()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(1)) else {
            return;
        };
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = ::redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}
