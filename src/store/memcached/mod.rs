//! The Memcached store: carts in Memcached under a random session id.
//!
//! As in the Redis store, the client holds a 128-bit random session id
//! ([`crate::ids::random`]); the cart lives under
//! `memcached.key_prefix + id`, in the layout of [`super::value`], with a
//! sliding idle TTL that never passes the cart's absolute expiry
//! ([`crate::expiry`]).
//!
//! # Eviction
//! Memcached is a cache. When its memory (`-m`) is full, storing an item
//! evicts the least recently used items of the same size class, whether or
//! not their TTL has run out. **A cart can therefore vanish while its
//! credential is still valid**: the next load finds no key, and the client
//! gets `401 token_expired`, exactly as if the session had expired. Every
//! first change of a cart stores a new item, so a flood of new carts can
//! push out the carts of other shoppers (the memory store refuses new carts
//! instead, and Redis as the tests run it has no `maxmemory`). Give
//! Memcached room for the carts held at peak and watch `evictions` in its
//! `stats`; with `-M` it refuses writes instead (`503 store_unavailable`
//! here) and evicts nothing. A cart that is read now and then is less likely
//! to go, since a read moves it up the LRU. tests/api/memcached_store
//! fills a small Memcached until it evicts and records what the client sees.
//!
//! # Round trips
//! - `load`: one `mg key v t T<idle>` (read and slide the TTL: a
//!   get-and-touch). Only in the last idle window before the absolute
//!   expiry does a second `mg key t T<abs - now>` pull the TTL back to it;
//!   past it, an `md key`.
//! - `save`: one `ms key <len> T<ttl>`, `ttl = min(idle, abs - now)`.
//! - `ready`: one `version`.
//!
//! Memcached reads an expiry over 30 days as a Unix time, not a number of
//! seconds: [`wire_ttl`] converts longer TTLs.
//!
//! # Size
//! A value larger than `memcached.max_value_bytes` is refused here, before
//! it is sent ([`StoreError::TooLarge`], 413): when Memcached refuses an
//! item over its own limit (`-I`), it also deletes the value the key held,
//! and the client would lose the cart it had. If Memcached refuses one
//! anyway (its `-I` set below `max_value_bytes`), that is a 413 too, never a
//! silent drop, though the old cart is then gone.
//!
//! # Connections and failures
//! An `async_memcached::Client` is one connection that carries one request
//! at a time (`&mut self`). Each store (one per actix worker) keeps a small
//! pool: `memcached.pool_size` slots, and a stack of idle connections. The
//! pool bounds a worker's calls to `pool_size` per round trip, which is
//! what sizes it (config.toml says by how much). A
//! call takes a connection out of the pool for its exchange and puts it back
//! only after a complete, successful one. Every call is bounded by one hard
//! deadline, `memcached.timeout_ms`, that covers waiting for a slot,
//! connecting and the exchange. On any error or timeout the connection is
//! dropped (a half-read reply can never answer the next request), and the
//! call is [`StoreError::Unavailable`] (503), whose reason names the
//! operation and the error class only: never the cart, the session id, the
//! key or the URL. The next call connects anew, so the store recovers by
//! itself when Memcached comes back.
//!
//! When a worker starts, [`MemcachedStore::warm`] opens the pool's
//! connections at once, each holding a slot while it connects: the first
//! burst of requests after a start or a deploy then finds them open instead
//! of opening `pool_size` at once inside their own deadlines, and `/readyz`
//! (a call, so it waits for a slot) answers only once the pool is filled or
//! its connects have failed. Through the load benchmark's delay proxy a
//! cold burst of 32 users on 16 slots timed out (docs/benchmarks.md); warm,
//! it does not.
//!
//! A pooled connection that Memcached closed while it sat idle (Memcached
//! restarted) fails on its first use. That call is retried once on a new
//! connection, inside the same deadline (every command here is idempotent),
//! and the other idle connections are dropped with it, so a restart costs
//! no failed request.
//!
//! A write that timed out may still be applied when Memcached resumes: as
//! with Redis, a 503 on a save means the outcome is unknown.
//!
//! A value that is present but unreadable is a 401, not a 503
//! ([`super::value`] says why).
//!
//! Idle expiry is Memcached's own TTL, on Memcached's clock; the absolute
//! expiry is checked against the `now` the caller passes.
//!
//! # Runtime
//! A connection is registered with the runtime that opened it. The service
//! builds one store per actix worker, inside the worker
//! ([`super::AnyStore::for_worker`]), so each worker's connections are
//! driven by its own current-thread runtime.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_memcached::{Client, Error as McError, ErrorKind, Status};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::value::Write;
use super::{
    Capabilities, CartStore, Loaded, Saved, Session, SetupError, StoreError, session_id,
    session_id_for, value,
};
use crate::cart::Limits;
use crate::config::{MemcachedConfig, is_memcached_url};
use crate::expiry::Expiry;
use crate::token::{OpenError, Oversize};

mod wire;

pub use wire::wire_ttl;
use wire::{Answer, Command, Failed, connect, describe, is_stale, ttl_flag, unavailable};

/// The store's name in metrics and logs.
const STORE: &str = "memcached";

/// Memcached reads an expiry above this many seconds (30 days) as a Unix
/// time.
pub const MAX_RELATIVE_TTL: i64 = 30 * 86_400;

/// What Memcached says (after `SERVER_ERROR `) of an item over `-I`.
const TOO_LARGE: &str = "object too large for cache";

/// Carts in Memcached.
#[derive(Clone)]
pub struct MemcachedStore {
    inner: Arc<Inner>,
}

struct Inner {
    dsn: String,
    key_prefix: String,
    timeout: Duration,
    pool_size: usize,
    max_value_bytes: usize,
    expiry: Expiry,
    limits: Limits,
    /// One permit per connection a call may hold.
    slots: Arc<Semaphore>,
    /// Connections that finished their last exchange cleanly.
    idle: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for MemcachedStore {
    // The URL names a host of the deployment: it is not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("MemcachedStore")
            .field("key_prefix", &inner.key_prefix)
            .field("timeout", &inner.timeout)
            .field("pool_size", &inner.pool_size)
            .field("max_value_bytes", &inner.max_value_bytes)
            .field("expiry", &inner.expiry)
            .finish_non_exhaustive()
    }
}

impl MemcachedStore {
    /// A store on `config.url`. It does not connect: the first call does,
    /// so this succeeds while Memcached is down.
    pub fn new(
        config: &MemcachedConfig,
        expiry: Expiry,
        limits: Limits,
    ) -> Result<Self, SetupError> {
        if !is_memcached_url(&config.url) {
            return Err(SetupError::Url(
                "memcached.url",
                "not tcp://host:port".into(),
            ));
        }
        let pool_size = config.pool_size.max(1);
        Ok(Self {
            inner: Arc::new(Inner {
                dsn: config.url.clone(),
                key_prefix: config.key_prefix.clone(),
                timeout: Duration::from_millis(config.timeout_ms.max(1)),
                pool_size,
                max_value_bytes: config.max_value_bytes,
                expiry,
                limits,
                slots: Arc::new(Semaphore::new(pool_size)),
                idle: Mutex::new(Vec::with_capacity(pool_size)),
            }),
        })
    }

    /// The key of a session id. Only called with ids that passed
    /// [`crate::ids::is_random`]: 22 base64url characters, so the key holds no
    /// space or control byte and stays under Memcached's 250 bytes.
    fn key(&self, id: &str) -> String {
        [self.inner.key_prefix.as_str(), id].concat()
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Client>> {
        // Never held across an await; a panic while holding it leaves at
        // worst a connection too many or too few.
        self.inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one command on a pooled connection, under the hard deadline.
    async fn call(&self, command: Command<'_>) -> Result<Answer, Failed> {
        let inner = &*self.inner;
        let deadline = Instant::now() + inner.timeout;
        let attempt = async {
            // Waiting for a slot counts against the deadline: under load a
            // call fails as 503 instead of queueing without bound.
            let _permit = inner
                .slots
                .acquire()
                .await
                .map_err(|_| Failed::NoAnswer("pool closed".into()))?;
            let mut retried = false;
            loop {
                let (mut client, pooled) = match self.checkout() {
                    Some(client) => (client, true),
                    None => (connect(&inner.dsn).await?, false),
                };
                match command.run(&mut client).await {
                    Ok(answer) => {
                        self.idle().push(client);
                        return Ok(answer);
                    }
                    // The connection is dropped on any error.
                    Err(e) if pooled && !retried && is_stale(&e) => {
                        // Memcached closed it while it sat idle: it was
                        // restarted, and every other idle connection is as
                        // stale. Once, on a new connection.
                        retried = true;
                        self.idle().clear();
                    }
                    Err(McError::Protocol(status)) => return Err(Failed::Status(status)),
                    Err(e) => return Err(Failed::NoAnswer(describe(&e))),
                }
            }
        };
        // On timeout the attempt is dropped, and with it the connection it
        // held: a half-read reply never goes back to the pool.
        tokio::time::timeout_at(deadline, attempt)
            .await
            .unwrap_or_else(|_| Err(Failed::NoAnswer("timed out".into())))
    }

    /// Opens up to `pool_size` connections in the background, best effort:
    /// a connect that fails or outlasts the deadline is dropped, and calls
    /// then connect as they would have. Needs a tokio runtime (an actix
    /// worker's).
    pub fn warm(&self) {
        for _ in 0..self.inner.pool_size {
            // Taken now, not in the task: a request that arrives before
            // the task runs waits for the warm connection instead of
            // opening one more.
            let Ok(permit) = Arc::clone(&self.inner.slots).try_acquire_owned() else {
                return;
            };
            let store = self.clone();
            tokio::spawn(async move {
                let inner = &*store.inner;
                if let Ok(Ok(client)) =
                    tokio::time::timeout(inner.timeout, connect(&inner.dsn)).await
                {
                    store.idle().push(client);
                }
                drop(permit);
            });
        }
    }

    /// An idle connection that the client does not know to be closed.
    fn checkout(&self) -> Option<Client> {
        let mut idle = self.idle();
        while let Some(client) = idle.pop() {
            if !client.is_closed() {
                return Some(client);
            }
        }
        None
    }

    /// Deletes a key, best effort: a failure is counted and logged.
    async fn delete(&self, op: &'static str, key: &str) {
        if let Err(failed) = self.call(Command::Delete { key }).await {
            unavailable(op, failed);
        }
    }

    /// Sets a key's TTL without reading it, best effort.
    async fn touch(&self, op: &'static str, key: &str, ttl: i64) {
        // `t` makes a hit answer with a flag: without any, async-memcached
        // reads a hit and a miss alike.
        let ttl = ttl_flag(ttl);
        let flags = ["t", ttl.as_str()];
        if let Err(failed) = self.call(Command::Get { key, flags: &flags }).await {
            unavailable(op, failed);
        }
    }
}
impl CartStore for MemcachedStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // An operator deletes the key.
            revocation: true,
            survives_replica_loss: true,
            // Memcached keeps nothing on disk: a restart loses every cart.
            survives_store_restart: false,
            keeps_carts: true,
        }
    }

    async fn load(&self, credential: &str, now: i64) -> Result<Loaded, StoreError> {
        let Some(credential) = session_id(credential)? else {
            return Ok(Loaded::fresh());
        };
        let inner = &*self.inner;
        let key = self.key(credential);
        let idle = inner.expiry.idle_secs();
        let slide = ttl_flag(idle);
        let flags = ["v", "t", slide.as_str()];
        let found = match self
            .call(Command::Get {
                key: &key,
                flags: &flags,
            })
            .await
        {
            Ok(Answer::Found(found)) => found,
            Ok(Answer::Done) => unreachable!("a get answers with a value or none"),
            Err(failed) => return Err(unavailable("load", failed)),
        };
        // Missing: the session ended, Memcached evicted it, or lost it.
        let Some(found) = found else {
            return Err(OpenError::Expired.into());
        };
        let stored = found.data.unwrap_or_default();
        let absolute = value::absolute_expiry(&stored, STORE)?;
        if now > absolute {
            // Best effort: the cart is refused anyway.
            self.delete("load", &key).await;
            return Err(OpenError::Expired.into());
        }
        let expires_at = inner.expiry.slide(now, absolute);
        if expires_at < now.saturating_add(idle) {
            // The read just slid the TTL past the absolute expiry: pull it
            // back. Best effort: `load` checks the absolute expiry anyway,
            // so a failure only lets the key linger for one idle TTL.
            self.touch("load", &key, absolute.saturating_sub(now)).await;
        }
        let stored = value::decode(&stored, &inner.limits, STORE)?;
        Ok(stored.into_loaded(expires_at))
    }

    async fn save(
        &self,
        credential: Option<&str>,
        session: &Session,
        now: i64,
    ) -> Result<Saved, StoreError> {
        let inner = &*self.inner;
        let (lifetimes, stored) = match value::prepare(session, &inner.expiry, &inner.limits, now)?
        {
            Write::Fresh(fresh) => return Ok(fresh),
            Write::Value { lifetimes, bytes } => (lifetimes, bytes),
        };
        let length = stored.len();
        if length > inner.max_value_bytes {
            // Memcached would delete the cart the key holds: refused here.
            return Err(Oversize::Stored {
                length,
                cap: Some(inner.max_value_bytes),
            }
            .into());
        }
        let id = session_id_for(credential);
        let key = self.key(&id);
        let ttl = ttl_flag(lifetimes.expires_at.saturating_sub(now));
        let flags = [ttl.as_str()];
        self.call(Command::Set {
            key: &key,
            value: &stored,
            flags: &flags,
        })
        .await
        .map_err(|failed| match failed {
            // Memcached's -I is below max_value_bytes.
            Failed::Status(Status::Error(ErrorKind::Server(text))) if text == TOO_LARGE => {
                log::warn!(
                    "memcached refused a {length}-byte cart as larger than its item size limit; \
                     set memcached.max_value_bytes below it"
                );
                Oversize::Stored { length, cap: None }.into()
            }
            failed => unavailable("save", failed),
        })?;
        Ok(Saved::new(id, lifetimes.expires_at))
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.call(Command::Version)
            .await
            .map(drop)
            .map_err(|failed| unavailable("ready", failed))
    }
}
