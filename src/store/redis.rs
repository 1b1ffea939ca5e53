//! The Redis store: carts in Redis under a random session id.
//!
//! The client holds a 128-bit random session id ([`super::new_session_id`]); the
//! cart lives under `redis.key_prefix + id` with a sliding idle TTL, and never
//! past its absolute expiry.
//!
//! # Value layout
//! A small binary record, so that a read costs no base64 or JSON envelope:
//!
//! | bytes | content |
//! |---|---|
//! | 0 | layout version, `1` |
//! | 1..9 | revision, u64 big-endian |
//! | 9..17 | absolute expiry, Unix seconds, i64 big-endian |
//! | 17.. | raw deflate of [`Cart::to_compact_json`] |
//!
//! # Round trips
//! - `load`: one `GETEX key EX idle` (read and slide the TTL). Only in the
//!   last idle window before the absolute expiry does a second call
//!   (`EXPIRE`) pull the TTL back to the absolute expiry; past it, a `DEL`.
//! - `save`: one `SET key value EX ttl`, `ttl = min(idle, abs - now)`.
//! - `revoke`: one `DEL`. `ready`: one `PING`.
//!
//! # Failures
//! Every call is bounded twice: by the connection manager's connection and
//! response timeouts (`redis.timeout_ms`), and by a hard
//! [`tokio::time::timeout`] of the same length around the call. Any Redis
//! error or timeout becomes [`StoreError::Unavailable`] (503), whose reason
//! names the operation and the error class only: never the cart, the session
//! id, the key or the URL. The [`ConnectionManager`] reconnects by itself,
//! so the store recovers when Redis comes back, without being rebuilt.
//!
//! A value that is present but unreadable (wrong layout, bad deflate, a cart
//! outside the limits) is the client's cart being unusable, not the store
//! being down: it is [`OpenError::Invalid`] (401), so the client drops the
//! credential and starts over. Reporting it as 503 would wedge that client:
//! every retry would read the same bytes, and `GETEX` would keep sliding
//! their TTL. The value is not deleted, because a newer layout written by a
//! newer replica during a rolling deploy must not be destroyed by an older
//! one; it expires with its TTL.
//!
//! Idle expiry is Redis's own TTL, on Redis's clock; the absolute expiry is
//! checked against the `now` the caller passes. A test that moves a manual
//! clock past the idle TTL will therefore still find the cart; it must use a
//! short idle TTL and real time to observe idle expiry.
//!
//! # Runtime
//! [`RedisStore::new`] must run inside a tokio runtime (it spawns a task),
//! and the connection's I/O driver lives on the runtime that first uses it.
//! Build one store per actix worker, inside the worker (the `HttpServer::new`
//! app factory closure, or `App::data_factory`): each worker then has its own
//! multiplexed connection, driven by its own current-thread runtime.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError};

use super::{
    Capabilities, CartStore, Loaded, Saved, Session, StoreError, is_session_id, session_id_for,
};
use crate::cart::{Cart, Limits};
use crate::config::RedisConfig;
use crate::token::{InvalidReason, OpenError, inflate_capped, pack};

/// The layout version in a value's first byte.
const LAYOUT_V1: u8 = 1;
/// Bytes before the compressed cart.
const HEADER_LEN: usize = 1 + 8 + 8;
/// Deflate level: level 6 beat level 1 by about 15% on a 1 KB cart, and 9
/// added nothing (CRATES.md).
const DEFLATE_LEVEL: u32 = 6;
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
    idle_ttl: i64,
    absolute_ttl: i64,
    limits: Limits,
}

impl std::fmt::Debug for RedisStore {
    // The URL may hold a password: it is not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("key_prefix", &self.settings.key_prefix)
            .field("timeout", &self.settings.timeout)
            .field("idle_ttl", &self.settings.idle_ttl)
            .field("absolute_ttl", &self.settings.absolute_ttl)
            .finish_non_exhaustive()
    }
}

/// A value read back from Redis.
struct Stored<'a> {
    revision: u64,
    absolute_expiry: i64,
    packed: &'a [u8],
}

impl RedisStore {
    /// A store on `config.url`. It does not connect: the first call does,
    /// so this succeeds while Redis is down.
    ///
    /// Must be called inside a tokio runtime (the connection manager spawns
    /// a task); outside one it returns an error instead of panicking. Call it
    /// once per actix worker, inside the worker, so that each worker's
    /// connection is driven by that worker's runtime.
    pub fn new(
        config: &RedisConfig,
        idle_ttl_secs: u64,
        absolute_ttl_secs: u64,
        limits: Limits,
    ) -> Result<Self, String> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(
                "RedisStore::new must be called inside a tokio runtime (an actix worker)".into(),
            );
        }
        let client = redis::Client::open(config.url.as_str())
            // The error text may quote the URL, which may hold a password.
            .map_err(|e| format!("redis.url is not a usable Redis URL ({})", e.category()))?;
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_min_delay(RECONNECT_MIN_DELAY)
            .set_max_delay(RECONNECT_MAX_DELAY);
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| format!("cannot set up the Redis connection ({})", e.category()))?;
        let secs = |s: u64| i64::try_from(s).unwrap_or(i64::MAX).max(1);
        Ok(Self {
            conn,
            settings: Arc::new(Settings {
                key_prefix: config.key_prefix.clone(),
                timeout,
                idle_ttl: secs(idle_ttl_secs),
                absolute_ttl: secs(absolute_ttl_secs),
                limits,
            }),
        })
    }

    /// The Redis key of a session id. Only called with ids that passed
    /// [`is_session_id`].
    fn key(&self, id: &str) -> String {
        let prefix = &self.settings.key_prefix;
        let mut key = String::with_capacity(prefix.len() + id.len());
        key.push_str(prefix);
        key.push_str(id);
        key
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
        metrics::counter!("cartseal_store_errors_total", "store" => "redis", "op" => op)
            .increment(1);
        log::debug!("redis {op} failed: {reason}");
        Err(StoreError::Unavailable(format!("redis {op}: {reason}")))
    }

    /// The value for a session.
    fn encode(
        &self,
        cart: &Cart,
        revision: u64,
        absolute_expiry: i64,
    ) -> Result<Vec<u8>, StoreError> {
        let packed = pack(
            &cart.to_compact_json(),
            DEFLATE_LEVEL,
            &self.settings.limits,
        )?;
        let mut value = Vec::with_capacity(HEADER_LEN + packed.len());
        value.push(LAYOUT_V1);
        value.extend_from_slice(&revision.to_be_bytes());
        value.extend_from_slice(&absolute_expiry.to_be_bytes());
        value.extend_from_slice(&packed);
        Ok(value)
    }

    /// Counts and returns an unreadable value's reason.
    fn unreadable(reason: InvalidReason) -> StoreError {
        metrics::counter!("cartseal_store_errors_total", "store" => "redis", "op" => "decode")
            .increment(1);
        log::warn!("redis load: a stored cart is unreadable ({reason:?})");
        OpenError::Invalid(reason).into()
    }
}

/// Splits a value into its header fields and compressed cart.
fn parse_header(value: &[u8]) -> Option<Stored<'_>> {
    if value.len() < HEADER_LEN || value[0] != LAYOUT_V1 {
        return None;
    }
    Some(Stored {
        revision: u64::from_be_bytes(value[1..9].try_into().ok()?),
        absolute_expiry: i64::from_be_bytes(value[9..17].try_into().ok()?),
        packed: &value[HEADER_LEN..],
    })
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
        // No key is ever built from text that is not a session id.
        if !is_session_id(credential) {
            return Err(OpenError::Invalid(InvalidReason::Format).into());
        }
        let settings = &*self.settings;
        let key = self.key(credential);
        let value: Option<Vec<u8>> = self
            .call(
                "load",
                redis::cmd("GETEX")
                    .arg(&key)
                    .arg("EX")
                    .arg(settings.idle_ttl),
            )
            .await?;
        // Missing: the session ended, or the store lost it.
        let Some(value) = value else {
            return Err(OpenError::Expired.into());
        };
        let stored =
            parse_header(&value).ok_or_else(|| Self::unreadable(InvalidReason::Payload))?;
        let absolute = stored.absolute_expiry;
        if now > absolute {
            // Best effort: a failure here is counted, and the cart is
            // refused anyway.
            let _ = self.call::<i64>("load", redis::cmd("DEL").arg(&key)).await;
            return Err(OpenError::Expired.into());
        }
        let idle_end = now.saturating_add(settings.idle_ttl);
        if absolute < idle_end {
            // GETEX just slid the TTL past the absolute expiry: pull it back.
            // Best effort: `load` checks the absolute expiry anyway, so a
            // failure only lets the key linger for one idle TTL.
            let ttl = absolute.saturating_sub(now).max(1);
            let _ = self
                .call::<i64>("load", redis::cmd("EXPIRE").arg(&key).arg(ttl))
                .await;
        }
        let limits = &settings.limits;
        let json = inflate_capped(stored.packed, limits)
            .map_err(|_| Self::unreadable(InvalidReason::Inflate))?;
        let cart = Cart::from_compact_json(&json, limits)
            .map_err(|_| Self::unreadable(InvalidReason::Payload))?;
        Ok(Loaded {
            session: Session {
                cart,
                revision: stored.revision,
                absolute_expiry: Some(absolute),
                expires_at: Some(idle_end.min(absolute)),
            },
            reseal: None,
        })
    }

    async fn save(
        &self,
        credential: Option<&str>,
        session: &Session,
        now: i64,
    ) -> Result<Saved, StoreError> {
        let settings = &*self.settings;
        let id = session_id_for(credential);
        let absolute = session
            .absolute_expiry
            .unwrap_or_else(|| now.saturating_add(settings.absolute_ttl));
        let expires_at = now.saturating_add(settings.idle_ttl).min(absolute);
        let ttl = expires_at.saturating_sub(now).max(1);
        let value = self.encode(&session.cart, session.revision, absolute)?;
        self.call::<()>(
            "save",
            redis::cmd("SET")
                .arg(self.key(&id))
                .arg(value)
                .arg("EX")
                .arg(ttl),
        )
        .await?;
        Ok(Saved {
            credential: id,
            expires_at,
        })
    }

    async fn revoke(&self, credential: &str) -> Result<bool, StoreError> {
        if !is_session_id(credential) {
            return Ok(false);
        }
        let removed: i64 = self
            .call("revoke", redis::cmd("DEL").arg(self.key(credential)))
            .await?;
        Ok(removed > 0)
    }

    async fn ready(&self) -> Result<(), String> {
        self.call::<String>("ready", &redis::cmd("PING"))
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }
}
