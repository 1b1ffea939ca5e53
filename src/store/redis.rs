//! The Redis store: carts in Redis under a random session id.
//!
//! The client holds a 128-bit random session id ([`crate::ids::random`]); the
//! cart lives under `redis.key_prefix + id`, in the layout of
//! [`super::value`], with a sliding idle TTL that never passes the cart's
//! absolute expiry ([`crate::expiry`]).
//!
//! It is a [`Backend`] of [`CentralStore`], which holds the load and save
//! logic; here are only its primitives. They run on one Redis
//! ([`RedisStore`]) or, unchanged, on a Redis Cluster
//! ([`super::redis_cluster::RedisClusterStore`]): every one names a single
//! key, which the cluster client routes to the node holding its slot.
//!
//! # Round trips
//! - get-and-touch (every load): one `GETEX key EX idle`. Only in the last
//!   idle window before the absolute expiry does a second call (`EXPIRE`)
//!   pull the TTL back to the absolute expiry; past it, a `DEL`.
//! - a new cart: one `SET key value NX EX ttl`.
//! - a save of a loaded cart: one script ([`SWAP`]) that replaces the value
//!   only if it still holds the revision the write loaded, atomically on
//!   the server. It names a single key, so it runs unchanged on Redis
//!   Cluster; `WATCH`/`MULTI` would need a connection of its own, not the
//!   shared multiplexed one.
//! - `ready`: one `PING`.
//!
//! # Failures
//! Every call is bounded twice: by the connection manager's connection and
//! response timeouts (`redis.timeout_ms`), and by a hard
//! [`tokio::time::timeout`] of the same length around the call. Any Redis
//! error or timeout becomes [`StoreError::Unavailable`] (503), whose reason
//! names the operation and the error class only: never the cart, the session
//! id, the key or the URL. The [`ConnectionManager`] reconnects by itself,
//! so the store recovers when Redis comes back, without being rebuilt. A
//! value that is present but unreadable is a 401, not a 503
//! ([`super::value`] says why).
//!
//! Idle expiry is Redis's own TTL, on Redis's clock; the absolute expiry is
//! checked against the `now` the caller passes. A test that moves a manual
//! clock past the idle TTL will therefore still find the cart; it must use a
//! short idle TTL and real time to observe idle expiry.
//!
//! # Runtime
//! [`RedisStore::new`] must run inside a tokio runtime (it spawns a task),
//! and the connection's I/O driver lives on the runtime that first uses it.
//! The service builds one store per actix worker, inside the worker
//! ([`super::AnyStore::for_worker`]): each worker then has its own
//! multiplexed connection, driven by its own current-thread runtime.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError, Script};

use super::value::revision_prefix;
use super::{Backend, Capabilities, CentralStore, Found, Result, SetupError, Swapped, unavailable};
use crate::cart::Limits;
use crate::config::RedisConfig;
use crate::expiry::Expiry;

/// Replaces a cart's value only if it still starts with the layout byte and
/// revision the write loaded (`value.rs`): `KEYS[1]` the cart, `ARGV[1]`
/// that prefix, `ARGV[2]` the new value, `ARGV[3]` its TTL in seconds.
/// Answers 1 when saved, 0 on a conflict, -1 when the key is gone.
const SWAP_SCRIPT: &str = r"
local held = redis.call('GET', KEYS[1])
if not held then return -1 end
if string.sub(held, 1, 9) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
";

/// The script, loaded once per process (`EVALSHA`, and `EVAL` when the
/// server does not know it yet).
static SWAP: LazyLock<Script> = LazyLock::new(|| Script::new(SWAP_SCRIPT));

/// Reconnection attempts per outage detection, after the first.
const RECONNECT_RETRIES: usize = 1;
/// Smallest and largest delay between reconnection attempts.
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(10);
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(100);

/// Carts in Redis.
pub type RedisStore = CentralStore<Redis>;

/// A connection the Redis backend can run on: one Redis
/// ([`ConnectionManager`]) or a Redis Cluster
/// ([`super::redis_cluster`]). Each is multiplexed and cheap to clone.
pub trait Connection: ConnectionLike + Clone + Send + Sync + 'static {
    /// The store's name in metrics and logs.
    const NAME: &'static str;
}

impl Connection for ConnectionManager {
    const NAME: &'static str = "redis";
}

/// The Redis backend: one multiplexed connection, to a single Redis or
/// (`C` = a cluster connection) to a Redis Cluster.
#[derive(Clone)]
pub struct Redis<C = ConnectionManager> {
    conn: C,
    settings: Arc<Settings>,
}

struct Settings {
    key_prefix: String,
    timeout: Duration,
}

impl<C: Connection> Redis<C> {
    /// A backend on `conn`.
    pub(super) fn on(conn: C, key_prefix: &str, timeout: Duration) -> Self {
        Self {
            conn,
            settings: Arc::new(Settings {
                key_prefix: key_prefix.to_owned(),
                timeout,
            }),
        }
    }
}

impl<C> std::fmt::Debug for Redis<C> {
    // The URL may hold a password: it is not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("key_prefix", &self.settings.key_prefix)
            .field("timeout", &self.settings.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store on `config.url`. It does not connect: the first call does,
    /// so this succeeds while Redis is down.
    ///
    /// Must be called inside a tokio runtime (the connection manager spawns
    /// a task); outside one it returns an error instead of panicking.
    pub fn new(config: &RedisConfig, expiry: Expiry, limits: Limits) -> Result<Self, SetupError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SetupError::NoRuntime("redis"));
        }
        // The error's own text may quote the URL, which may hold a
        // password: only its category is kept.
        let client = redis::Client::open(config.url())
            .map_err(|e| SetupError::Url("redis.url", e.category().to_owned()))?;
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_min_delay(RECONNECT_MIN_DELAY)
            .set_max_delay(RECONNECT_MAX_DELAY);
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| SetupError::Connection("redis", e.category().to_owned()))?;
        Ok(Self::over(
            Redis::on(conn, &config.key_prefix, timeout),
            expiry,
            limits,
        ))
    }
}

impl<C: Connection> Redis<C> {
    /// The Redis key of a session id. Only called with ids that passed
    /// [`crate::ids::is_random`].
    fn key(&self, id: &str) -> String {
        [self.settings.key_prefix.as_str(), id].concat()
    }

    /// Runs one command under the hard timeout; every failure is
    /// [`StoreError::Unavailable`] and counted.
    async fn call<T: FromRedisValue>(&self, op: &'static str, cmd: &Cmd) -> Result<T> {
        let mut conn = self.conn.clone();
        bounded(
            C::NAME,
            op,
            self.settings.timeout,
            cmd.query_async::<T>(&mut conn),
        )
        .await
    }
}

/// A Redis call under the hard timeout; every failure is
/// [`StoreError::Unavailable`] and counted.
async fn bounded<T>(
    store: &'static str,
    op: &'static str,
    timeout: Duration,
    call: impl Future<Output = Result<T, RedisError>>,
) -> Result<T> {
    let reason = match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(e)) => describe(&e),
        Err(_) => "timed out".to_owned(),
    };
    Err(unavailable(store, op, reason))
}

/// An error's class, for logs: never its detail, which could quote a key.
fn describe(e: &RedisError) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connection_refusal() {
        "connection refused".into()
    } else if e.is_connection_dropped() {
        "connection dropped".into()
    } else if let Some(code) = e.code() {
        format!("server error {code}")
    } else {
        e.category().to_owned()
    }
}

impl<C: Connection> Backend for Redis<C> {
    const NAME: &'static str = C::NAME;
    type Record = Vec<u8>;

    const CAPABILITIES: Capabilities = Capabilities::NETWORK_MEMORY;

    async fn get_and_touch(&self, id: &str, ttl: i64, _now: i64) -> Result<Option<Found<Vec<u8>>>> {
        let get = redis::cmd("GETEX")
            .arg(self.key(id))
            .arg("EX")
            .arg(ttl)
            .clone();
        let found: Option<Vec<u8>> = self.call("load", &get).await?;
        Ok(found.map(|record| Found { record, cas: None }))
    }

    async fn touch(&self, id: &str, ttl: i64, _now: i64) {
        // Counted and logged by `call`.
        let expire = redis::cmd("EXPIRE").arg(self.key(id)).arg(ttl).clone();
        let _ = self.call::<i64>("load", &expire).await;
    }

    async fn delete(&self, id: &str) {
        let _ = self
            .call::<i64>("load", redis::cmd("DEL").arg(self.key(id)))
            .await;
    }

    async fn add(&self, id: &str, record: Vec<u8>, ttl: i64, _now: i64) -> Result<bool> {
        let set = redis::cmd("SET")
            .arg(self.key(id))
            .arg(record)
            .arg("NX")
            .arg("EX")
            .arg(ttl)
            .clone();
        // `OK`, or nil when the key exists.
        let stored: Option<String> = self.call("save", &set).await?;
        Ok(stored.is_some())
    }

    async fn swap(
        &self,
        id: &str,
        record: Vec<u8>,
        ttl: i64,
        stamp: u64,
        _now: i64,
    ) -> Result<Swapped> {
        let mut invocation = SWAP.key(self.key(id));
        invocation
            .arg(&revision_prefix(stamp)[..])
            .arg(record)
            .arg(ttl);
        let mut conn = self.conn.clone();
        let answer: i64 = bounded(
            C::NAME,
            "save",
            self.settings.timeout,
            invocation.invoke_async(&mut conn),
        )
        .await?;
        Ok(match answer {
            1 => Swapped::Saved,
            0 => Swapped::Conflict,
            _ => Swapped::Missing,
        })
    }

    async fn ready(&self) -> Result<()> {
        self.call::<String>("ready", &redis::cmd("PING"))
            .await
            .map(drop)
    }
}
