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

#[cfg(test)]
mod tests {
    //! These run against a private `redis-server` on a free port, started and
    //! killed by each test, or against `REDIS_URL` when it is set (under a
    //! random key prefix). The outage tests always start their own server,
    //! since they stop and kill it.

    use std::collections::BTreeMap;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::process::{Child, Command, Stdio};

    use super::*;
    use crate::cart::{Line, Properties, Quantity, Sku};
    use crate::store::new_session_id;
    use crate::token::{Oversize, deflate};

    const TIMEOUT_MS: u64 = 200;
    const IDLE: u64 = 100;
    const ABSOLUTE: u64 = 3600;
    /// A bound that turns a hang into a failure; not a timing assertion.
    const HANG: Duration = Duration::from_secs(10);

    /// A private redis-server, killed on drop.
    struct Server {
        child: Child,
        port: u16,
        _dir: tempfile::TempDir,
    }

    impl Server {
        fn start() -> Self {
            Self::start_on(free_port())
        }

        fn start_on(port: u16) -> Self {
            let dir = tempfile::tempdir().expect("a temp dir");
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server must be installed (Debian package redis-server), or set REDIS_URL");
            let server = Self {
                child,
                port,
                _dir: dir,
            };
            server.wait_ready();
            server
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}", self.port)
        }

        fn wait_ready(&self) {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if ping(self.port) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("redis-server on port {} did not start", self.port);
        }

        fn signal(&self, signal: &str) {
            let status = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(self.child.id().to_string())
                .status()
                .expect("kill runs");
            assert!(status.success(), "kill -{signal} failed");
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            // SIGKILL also ends a stopped process.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
    }

    fn ping(port: u16) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// Where a test's carts go: `REDIS_URL`, or a private server.
    struct Target {
        url: String,
        prefix: String,
        _server: Option<Server>,
    }

    impl Target {
        fn new() -> Self {
            let prefix = format!("cartseal:test:{}:", new_session_id());
            match std::env::var("REDIS_URL") {
                Ok(url) if !url.is_empty() => Self {
                    url,
                    prefix,
                    _server: None,
                },
                _ => {
                    let server = Server::start();
                    Self {
                        url: server.url(),
                        prefix,
                        _server: Some(server),
                    }
                }
            }
        }

        fn store(&self) -> RedisStore {
            store_at(&self.url, &self.prefix)
        }

        async fn raw(&self) -> redis::aio::MultiplexedConnection {
            redis::Client::open(self.url.as_str())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .expect("the test server answers")
        }

        async fn ttl(&self, id: &str) -> i64 {
            redis::cmd("TTL")
                .arg(format!("{}{id}", self.prefix))
                .query_async(&mut self.raw().await)
                .await
                .unwrap()
        }

        async fn set_raw(&self, id: &str, value: &[u8]) {
            redis::cmd("SET")
                .arg(format!("{}{id}", self.prefix))
                .arg(value)
                .arg("EX")
                .arg(60)
                .query_async::<()>(&mut self.raw().await)
                .await
                .unwrap();
        }
    }

    fn store_at(url: &str, prefix: &str) -> RedisStore {
        let config = RedisConfig {
            url: url.into(),
            timeout_ms: TIMEOUT_MS,
            key_prefix: prefix.into(),
        };
        RedisStore::new(&config, IDLE, ABSOLUTE, Limits::default()).expect("a store")
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn session(lines: usize) -> Session {
        let limits = Limits::default();
        let mut cart = Cart::new();
        for i in 0..lines {
            let properties = BTreeMap::from([
                ("size".to_owned(), "M".to_owned()),
                ("colour".to_owned(), "blue".to_owned()),
            ]);
            let line = Line::new(
                Sku::parse(&format!("TEE-{i:03}"), &limits).unwrap(),
                Quantity::parse(i64::try_from(i).unwrap() + 1, &limits).unwrap(),
                Properties::parse(properties, &limits).unwrap(),
            );
            cart.add(line, &limits).unwrap();
        }
        Session {
            cart,
            revision: 7,
            absolute_expiry: None,
            expires_at: None,
        }
    }

    fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
        matches!(result, Err(StoreError::Unavailable(_)))
    }

    #[tokio::test]
    async fn save_then_load_round_trips() {
        let target = Target::new();
        let store = target.store();
        let now = now();
        let saved = store.save(None, &session(20), now).await.unwrap();
        assert!(is_session_id(&saved.credential));
        assert_eq!(saved.expires_at, now + IDLE as i64);

        let loaded = store.load(&saved.credential, now).await.unwrap();
        assert!(loaded.reseal.is_none());
        assert_eq!(loaded.session.cart, session(20).cart);
        assert_eq!(loaded.session.revision, 7);
        assert_eq!(loaded.session.absolute_expiry, Some(now + ABSOLUTE as i64));
        assert_eq!(loaded.session.expires_at, Some(now + IDLE as i64));

        // A write under the same id keeps it, and keeps the absolute expiry.
        let mut next = loaded.session.clone();
        next.revision += 1;
        next.cart.clear();
        let again = store
            .save(Some(&saved.credential), &next, now + 5)
            .await
            .unwrap();
        assert_eq!(again.credential, saved.credential);
        let loaded = store.load(&saved.credential, now + 5).await.unwrap();
        assert!(loaded.session.cart.is_empty());
        assert_eq!(loaded.session.revision, 8);
        assert_eq!(loaded.session.absolute_expiry, Some(now + ABSOLUTE as i64));

        // A credential that is not a session id gets a fresh one.
        let fresh = store
            .save(Some("not-a-session-id"), &next, now)
            .await
            .unwrap();
        assert!(is_session_id(&fresh.credential));
        assert_ne!(fresh.credential, saved.credential);
        let other = store.save(None, &next, now).await.unwrap();
        assert_ne!(other.credential, fresh.credential);
    }

    #[tokio::test]
    async fn the_value_is_compact_and_holds_no_plain_cart() {
        let target = Target::new();
        let store = target.store();
        let saved = store.save(None, &session(20), now()).await.unwrap();
        let value: Vec<u8> = redis::cmd("GET")
            .arg(format!("{}{}", target.prefix, saved.credential))
            .query_async(&mut target.raw().await)
            .await
            .unwrap();
        let json = session(20).cart.to_compact_json();
        assert_eq!(value[0], LAYOUT_V1);
        assert!(
            value.len() < json.len() / 2,
            "{} bytes for {} of JSON",
            value.len(),
            json.len()
        );
        assert!(!value.windows(7).any(|w| w == b"TEE-001"));
    }

    #[tokio::test]
    async fn a_load_slides_the_idle_ttl() {
        let target = Target::new();
        let store = target.store();
        let now = now();
        let saved = store.save(None, &session(1), now).await.unwrap();
        let ttl = target.ttl(&saved.credential).await;
        assert!((IDLE as i64 - 2..=IDLE as i64).contains(&ttl), "ttl {ttl}");

        // As if most of the idle time had passed.
        let _: i64 = redis::cmd("EXPIRE")
            .arg(format!("{}{}", target.prefix, saved.credential))
            .arg(5)
            .query_async(&mut target.raw().await)
            .await
            .unwrap();
        assert!(target.ttl(&saved.credential).await <= 5);
        store.load(&saved.credential, now).await.unwrap();
        let ttl = target.ttl(&saved.credential).await;
        assert!(ttl > 5 && ttl <= IDLE as i64, "ttl {ttl} after a load");
    }

    #[tokio::test]
    async fn the_absolute_expiry_caps_the_ttl_and_ends_the_cart() {
        let target = Target::new();
        let store = target.store();
        let now = now();
        let mut near_end = session(1);
        near_end.absolute_expiry = Some(now + 10);
        let saved = store.save(None, &near_end, now).await.unwrap();
        assert_eq!(saved.expires_at, now + 10);
        let ttl = target.ttl(&saved.credential).await;
        assert!(
            (1..=10).contains(&ttl),
            "ttl {ttl} past the absolute expiry"
        );

        // A load slides, but never past the absolute expiry.
        let loaded = store.load(&saved.credential, now).await.unwrap();
        assert_eq!(loaded.session.absolute_expiry, Some(now + 10));
        assert_eq!(loaded.session.expires_at, Some(now + 10));
        let ttl = target.ttl(&saved.credential).await;
        assert!((1..=10).contains(&ttl), "ttl {ttl} after a load");

        // At the absolute expiry it still opens; past it, never, and it is gone.
        store.load(&saved.credential, now + 10).await.unwrap();
        assert_eq!(
            store.load(&saved.credential, now + 11).await.unwrap_err(),
            StoreError::Credential(OpenError::Expired)
        );
        assert_eq!(
            target.ttl(&saved.credential).await,
            -2,
            "the key is deleted"
        );

        // A save at or past the absolute expiry still writes a key that dies.
        let mut past = session(1);
        past.absolute_expiry = Some(now - 5);
        let saved = store.save(None, &past, now).await.unwrap();
        assert_eq!(saved.expires_at, now - 5);
        assert!((0..=1).contains(&target.ttl(&saved.credential).await));
        assert_eq!(
            store.load(&saved.credential, now).await.unwrap_err(),
            StoreError::Credential(OpenError::Expired)
        );
    }

    #[tokio::test]
    async fn a_missing_key_is_expired() {
        let target = Target::new();
        let store = target.store();
        assert_eq!(
            store.load(&new_session_id(), now()).await.unwrap_err(),
            StoreError::Credential(OpenError::Expired)
        );
    }

    #[tokio::test]
    async fn a_bad_id_is_refused_without_touching_redis() {
        // Nothing listens there: any Redis call would be Unavailable.
        let store = store_at(
            &format!("redis://127.0.0.1:{}", free_port()),
            "cartseal:cart:",
        );
        let bad = [
            "",
            "abc",
            "AAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAA*",
            "AAAAAAAAAAAAAAAAAAAA:x",
            "AAAAAAAAAAAAAAAAAAAAA/",
            "AAAAAAAAAAAAAAAAAAAA\r\n",
            // 22 base64url characters, but not the canonical form of 16 bytes.
            "AAAAAAAAAAAAAAAAAAAAAB",
            "cartseal:cart:*",
        ];
        for id in bad {
            assert_eq!(
                store.load(id, now()).await.unwrap_err(),
                StoreError::Credential(OpenError::Invalid(InvalidReason::Format)),
                "{id:?}"
            );
            assert_eq!(store.revoke(id).await, Ok(false), "{id:?}");
        }
    }

    #[tokio::test]
    async fn an_unreadable_value_is_invalid_not_unavailable() {
        let target = Target::new();
        let store = target.store();
        let now = now();
        let header = |abs: i64| {
            let mut v = vec![LAYOUT_V1];
            v.extend_from_slice(&1u64.to_be_bytes());
            v.extend_from_slice(&abs.to_be_bytes());
            v
        };
        let with = |mut head: Vec<u8>, tail: &[u8]| {
            head.extend_from_slice(tail);
            head
        };
        let bomb = deflate(&vec![b'['; 1024 * 1024], 9);
        let cases: [(&str, Vec<u8>, InvalidReason); 6] = [
            ("garbage", b"hello".to_vec(), InvalidReason::Payload),
            ("empty", Vec::new(), InvalidReason::Payload),
            (
                "future layout",
                with(vec![2; HEADER_LEN], &deflate(b"[]", 6)),
                InvalidReason::Payload,
            ),
            (
                "bad deflate",
                with(header(now + 60), b"\xff\xff\xff"),
                InvalidReason::Inflate,
            ),
            (
                "bomb",
                with(header(now + 60), &bomb),
                InvalidReason::Inflate,
            ),
            (
                "not a cart",
                with(header(now + 60), &deflate(br#"{"a":1}"#, 6)),
                InvalidReason::Payload,
            ),
        ];
        for (name, value, reason) in cases {
            let id = new_session_id();
            target.set_raw(&id, &value).await;
            assert_eq!(
                store.load(&id, now).await.unwrap_err(),
                StoreError::Credential(OpenError::Invalid(reason)),
                "{name}"
            );
        }
        // A valid header still ends the cart at its absolute expiry.
        let id = new_session_id();
        target.set_raw(&id, &with(header(now - 1), b"\xff")).await;
        assert_eq!(
            store.load(&id, now).await.unwrap_err(),
            StoreError::Credential(OpenError::Expired)
        );
    }

    #[tokio::test]
    async fn a_cart_that_could_not_be_read_back_is_refused() {
        let target = Target::new();
        let config = RedisConfig {
            url: target.url.clone(),
            timeout_ms: TIMEOUT_MS,
            key_prefix: target.prefix.clone(),
        };
        let limits = Limits {
            max_inflated_bytes: 256,
            ..Limits::default()
        };
        let store = RedisStore::new(&config, IDLE, ABSOLUTE, limits).unwrap();
        let err = store.save(None, &session(20), now()).await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::TooLarge(Oversize::Inflated { cap: 256, .. })
            ),
            "{err:?}"
        );
        store.save(None, &session(1), now()).await.unwrap();
    }

    #[tokio::test]
    async fn revoke_ends_a_session() {
        let target = Target::new();
        let store = target.store();
        let now = now();
        let saved = store.save(None, &session(2), now).await.unwrap();
        assert_eq!(store.revoke(&saved.credential).await, Ok(true));
        assert_eq!(
            store.load(&saved.credential, now).await.unwrap_err(),
            StoreError::Credential(OpenError::Expired)
        );
        assert_eq!(store.revoke(&saved.credential).await, Ok(false));
    }

    #[tokio::test]
    async fn ready_pings() {
        let target = Target::new();
        target.store().ready().await.unwrap();
    }

    #[test]
    fn capabilities_are_recorded() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = runtime.block_on(async { store_at("redis://127.0.0.1:1", "p:") });
        assert_eq!(
            store.capabilities(),
            Capabilities {
                revocation: true,
                survives_replica_loss: true,
                survives_store_restart: false,
                keeps_carts: true,
            }
        );
    }

    #[test]
    fn new_outside_a_runtime_is_an_error_not_a_panic() {
        let config = RedisConfig::default();
        let err = RedisStore::new(&config, IDLE, ABSOLUTE, Limits::default()).unwrap_err();
        assert!(err.contains("tokio runtime"), "{err}");
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_without_echoing_it() {
        let config = RedisConfig {
            url: "http://user:hunter2@example".into(),
            ..RedisConfig::default()
        };
        let err = RedisStore::new(&config, IDLE, ABSOLUTE, Limits::default()).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn new_needs_no_redis_and_a_dead_redis_is_a_quick_503() {
        let store = store_at(
            &format!("redis://127.0.0.1:{}", free_port()),
            "cartseal:cart:",
        );
        let id = new_session_id();
        let load = tokio::time::timeout(HANG, store.load(&id, now()))
            .await
            .expect("no hang");
        assert!(is_unavailable(&load), "{load:?}");
        let Err(StoreError::Unavailable(reason)) = load else {
            unreachable!()
        };
        assert!(!reason.contains(&id), "{reason}");
        let save = tokio::time::timeout(HANG, store.save(Some(&id), &session(1), now()))
            .await
            .expect("no hang");
        assert!(is_unavailable(&save), "{save:?}");
        let revoke = tokio::time::timeout(HANG, store.revoke(&id))
            .await
            .expect("no hang");
        assert!(is_unavailable(&revoke), "{revoke:?}");
        assert!(
            tokio::time::timeout(HANG, store.ready())
                .await
                .expect("no hang")
                .is_err()
        );
    }

    #[tokio::test]
    async fn an_outage_is_503_and_the_store_recovers_by_itself() {
        let server = Server::start();
        let port = server.port;
        let store = store_at(&server.url(), "cartseal:cart:");
        let now = now();
        let saved = store.save(None, &session(3), now).await.unwrap();

        // Paused: every call fails, none hangs.
        server.signal("STOP");
        let load = tokio::time::timeout(HANG, store.load(&saved.credential, now))
            .await
            .expect("no hang");
        assert!(is_unavailable(&load), "{load:?}");
        let save =
            tokio::time::timeout(HANG, store.save(Some(&saved.credential), &session(4), now))
                .await
                .expect("no hang");
        assert!(is_unavailable(&save), "{save:?}");
        assert!(
            tokio::time::timeout(HANG, store.ready())
                .await
                .expect("no hang")
                .is_err()
        );

        // Resumed: the same store serves again, and the cart is there.
        server.signal("CONT");
        let loaded = store
            .load(&saved.credential, now)
            .await
            .expect("works again after SIGCONT");
        // The save that timed out was already on the wire: Redis may apply it
        // on resuming. A 503 on a write means "unknown outcome", not "not
        // applied"; either cart is correct here.
        let cart = loaded.session.cart;
        assert!(
            cart == session(3).cart || cart == session(4).cart,
            "{cart:?}"
        );
        store.ready().await.unwrap();

        // Killed: 503.
        drop(server);
        let load = tokio::time::timeout(HANG, store.load(&saved.credential, now))
            .await
            .expect("no hang");
        assert!(is_unavailable(&load), "{load:?}");
        assert!(
            tokio::time::timeout(HANG, store.ready())
                .await
                .expect("no hang")
                .is_err()
        );

        // A new server on the same port: the store reconnects by itself. It
        // has no persistence, so the cart is gone: Expired, not Unavailable.
        let _server = Server::start_on(port);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let load = loop {
            let load = tokio::time::timeout(HANG, store.load(&saved.credential, now))
                .await
                .expect("no hang");
            if !is_unavailable(&load) || tokio::time::Instant::now() > deadline {
                break load;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(
            load.unwrap_err(),
            StoreError::Credential(OpenError::Expired)
        );
        let again = store.save(None, &session(1), now).await.unwrap();
        assert_eq!(
            store
                .load(&again.credential, now)
                .await
                .unwrap()
                .session
                .cart,
            session(1).cart
        );
        store.ready().await.unwrap();
    }

    #[tokio::test]
    async fn one_store_per_worker_runtime() {
        // As actix runs it: each worker thread has a current-thread runtime
        // and builds its own store inside it.
        let target = Target::new();
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (url, prefix) = (target.url.clone(), target.prefix.clone());
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    runtime.block_on(async {
                        let store = store_at(&url, &prefix);
                        for _ in 0..20 {
                            let saved = store.save(None, &session(2), now()).await.unwrap();
                            store.load(&saved.credential, now()).await.unwrap();
                        }
                    });
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("a worker ran");
        }
    }

    #[tokio::test]
    async fn a_shared_store_depends_on_the_runtime_that_connected_it() {
        // Why one store per worker: the connection's I/O task runs on the
        // runtime that first used the store. While that runtime is blocked,
        // other runtimes' calls through the same store time out.
        let target = Target::new();
        let store = target.store();
        store.ready().await.unwrap(); // connects on this test's runtime
        let shared = store.clone();
        let other = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(shared.ready())
        });
        // This runtime is blocked in join(): the other thread's call cannot
        // be driven, and fails within the timeout instead of hanging.
        let result = other.join().unwrap();
        assert!(result.is_err(), "{result:?}");
        store.ready().await.unwrap();
    }
}
