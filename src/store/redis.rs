//! The Redis store: carts in Redis under a random session id.
//!
//! The client holds a 128-bit random session id ([`crate::ids::random`]); the
//! cart lives under `redis.key_prefix + id`, in the layout of
//! [`super::value`], with a sliding idle TTL that never passes the cart's
//! absolute expiry ([`crate::expiry`]).
//!
//! # Round trips
//! - `load`: one `GETEX key EX idle` (read and slide the TTL). Only in the
//!   last idle window before the absolute expiry does a second call
//!   (`EXPIRE`) pull the TTL back to the absolute expiry; past it, a `DEL`.
//! - `save`: one `SET key value EX ttl`, `ttl = min(idle, abs - now)`.
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

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError};

use super::value::Write;
use super::{
    Capabilities, CartStore, Loaded, Saved, Session, SetupError, StoreError, session_id,
    session_id_for, value,
};
use crate::cart::Limits;
use crate::config::RedisConfig;
use crate::expiry::Expiry;
use crate::token::OpenError;

/// Reconnection attempts per outage detection, after the first.
const RECONNECT_RETRIES: usize = 1;
/// Smallest and largest delay between reconnection attempts.
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(10);
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(100);

/// Carts in Redis.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    settings: Arc<Settings>,
}

struct Settings {
    key_prefix: String,
    timeout: Duration,
    expiry: Expiry,
    limits: Limits,
}

impl std::fmt::Debug for RedisStore {
    // The URL may hold a password: it is not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.settings.key_prefix)
            .field("timeout", &self.settings.timeout)
            .field("expiry", &self.settings.expiry)
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
        let client = redis::Client::open(config.url.as_str())
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
        Ok(Self {
            conn,
            settings: Arc::new(Settings {
                key_prefix: config.key_prefix.clone(),
                timeout,
                expiry,
                limits,
            }),
        })
    }

    /// The Redis key of a session id. Only called with ids that passed
    /// [`crate::ids::is_random`].
    fn key(&self, id: &str) -> String {
        [self.settings.key_prefix.as_str(), id].concat()
    }

    /// Runs one command under the hard timeout; every failure is
    /// [`StoreError::Unavailable`] and counted.
    async fn call<T: FromRedisValue>(&self, op: &'static str, cmd: &Cmd) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        let reason = match tokio::time::timeout(
            self.settings.timeout,
            cmd.query_async::<T>(&mut conn),
        )
        .await
        {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => describe(&e),
            Err(_) => "timed out".to_owned(),
        };
        Err(super::unavailable("redis", op, reason))
    }
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

impl CartStore for RedisStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            revocation: true,
            survives_replica_loss: true,
            // Run without persistence, as benchmarked: a restart loses every cart.
            survives_store_restart: false,
            keeps_carts: true,
        }
    }

    async fn load(&self, credential: &str, now: i64) -> Result<Loaded, StoreError> {
        let Some(credential) = session_id(credential)? else {
            return Ok(Loaded::fresh());
        };
        let settings = &*self.settings;
        let key = self.key(credential);
        let idle = settings.expiry.idle_secs();
        let stored: Option<Vec<u8>> = self
            .call("load", redis::cmd("GETEX").arg(&key).arg("EX").arg(idle))
            .await?;
        // Missing: the session ended, or the store lost it.
        let Some(stored) = stored else {
            return Err(OpenError::Expired.into());
        };
        let absolute = value::absolute_expiry(&stored, "redis")?;
        if now > absolute {
            // Best effort: a failure here is counted, and the cart is
            // refused anyway.
            let _ = self.call::<i64>("load", redis::cmd("DEL").arg(&key)).await;
            return Err(OpenError::Expired.into());
        }
        let expires_at = settings.expiry.slide(now, absolute);
        if expires_at < now.saturating_add(idle) {
            // GETEX just slid the TTL past the absolute expiry: pull it back.
            // Best effort: `load` checks the absolute expiry anyway, so a
            // failure only lets the key linger for one idle TTL.
            let ttl = absolute.saturating_sub(now).max(1);
            let _ = self
                .call::<i64>("load", redis::cmd("EXPIRE").arg(&key).arg(ttl))
                .await;
        }
        let stored = value::decode(&stored, &settings.limits, "redis")?;
        Ok(stored.into_loaded(expires_at))
    }

    async fn save(
        &self,
        credential: Option<&str>,
        session: &Session,
        now: i64,
    ) -> Result<Saved, StoreError> {
        let settings = &*self.settings;
        let (lifetimes, stored) =
            match value::prepare(session, &settings.expiry, &settings.limits, now)? {
                Write::Fresh(fresh) => return Ok(fresh),
                Write::Value { lifetimes, bytes } => (lifetimes, bytes),
            };
        let id = session_id_for(credential);
        let ttl = lifetimes.expires_at.saturating_sub(now).max(1);
        self.call::<()>(
            "save",
            redis::cmd("SET")
                .arg(self.key(&id))
                .arg(stored)
                .arg("EX")
                .arg(ttl),
        )
        .await?;
        Ok(Saved::new(id, lifetimes.expires_at))
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.call::<String>("ready", &redis::cmd("PING"))
            .await
            .map(drop)
    }
}
