//! Where a test keeps its carts in Redis.

use std::time::Duration;

use crate::process::RedisServer;

use super::store::{Backend, StoreTarget};

/// `REDIS_URL` under a key prefix of this test's own, or a private
/// `redis-server`.
pub type RedisTarget = StoreTarget<RedisServer>;

impl Backend for RedisServer {
    fn start() -> Self {
        RedisServer::start()
    }

    fn forget(url: &str, prefix: &str) {
        let Ok(client) = ::redis::Client::open(url) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(1)) else {
            return;
        };
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = ::redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

impl RedisTarget {
    /// A connection of the test's own, beside the one under test.
    pub async fn connection(&self) -> ::redis::aio::MultiplexedConnection {
        ::redis::Client::open(self.url())
            .expect("a Redis URL")
            .get_multiplexed_async_connection()
            .await
            .expect("the test's Redis answers")
    }
}
