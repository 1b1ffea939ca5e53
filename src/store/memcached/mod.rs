//! The Memcached backend of [`CentralStore`]: carts in Memcached under
//! `memcached.key_prefix + id`, in the layout of [`super::value`].
//!
//! docs/architecture.md says what it does and why: eviction ("Memcached
//! evicts"), the meta commands it sends and the pool of connections it keeps
//! ("Facts the code relies on", async-memcached), and its compare-and-set
//! ("Concurrent writes"). In short: a load is one `mg key v c T<idle>` (a
//! get-and-touch that also reads the CAS unique), a new cart one
//! `ms key <len> T<ttl> ME` (add), a save of a loaded cart one
//! `ms key <len> T<ttl> C<cas>`; every call is bounded by one deadline,
//! `memcached.timeout_ms`, and any error or timeout drops its connection and
//! is a 503. A value over `memcached.max_value_bytes` is refused (413)
//! before it is sent: Memcached would delete the cart the key holds.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_memcached::{Client, Error as McError, ErrorKind, Status};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{Backend, Capabilities, CentralStore, Found, Result, SetupError, Swapped};
use crate::cart::Limits;
use crate::config::{MemcachedConfig, is_memcached_url};
use crate::expiry::Expiry;
use crate::token::Oversize;

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
pub type MemcachedStore = CentralStore<Memcached>;

/// The Memcached backend: a small pool of connections per worker.
#[derive(Clone)]
pub struct Memcached {
    inner: Arc<Inner>,
}

struct Inner {
    dsn: String,
    key_prefix: String,
    timeout: Duration,
    pool_size: usize,
    max_value_bytes: usize,
    /// One permit per connection a call may hold.
    slots: Arc<Semaphore>,
    /// Connections that finished their last exchange cleanly.
    idle: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for Memcached {
    // The URL names a host of the deployment: it is not shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("Memcached")
            .field("key_prefix", &inner.key_prefix)
            .field("timeout", &inner.timeout)
            .field("pool_size", &inner.pool_size)
            .field("max_value_bytes", &inner.max_value_bytes)
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
        let backend = Memcached {
            inner: Arc::new(Inner {
                dsn: config.url.clone(),
                key_prefix: config.key_prefix.clone(),
                timeout: Duration::from_millis(config.timeout_ms.max(1)),
                pool_size,
                max_value_bytes: config.max_value_bytes,
                slots: Arc::new(Semaphore::new(pool_size)),
                idle: Mutex::new(Vec::with_capacity(pool_size)),
            }),
        };
        Ok(Self::over(backend, expiry, limits))
    }

    /// Opens this worker's pool before its first request
    /// ([`Memcached::warm`]).
    pub fn warm(&self) {
        self.backend().warm();
    }
}

impl Memcached {
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
                        // stale. Once, on a new connection, inside the same
                        // deadline: the restarted Memcached never saw the
                        // command, so even an add or a compare-and-set is
                        // safe to send again.
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

    /// Sends a store command (`ms`) with `flags`: the value is refused
    /// here when over `max_value_bytes`, and Memcached's own refusal of an
    /// item over `-I` is a 413 too, never a silent drop.
    async fn store(&self, key: &str, value: &[u8], flags: &[&str]) -> Result<Option<Status>> {
        let length = value.len();
        let max = self.inner.max_value_bytes;
        if length > max {
            // Memcached would delete the cart the key holds: refused here.
            return Err(Oversize::Stored {
                length,
                cap: Some(max),
            }
            .into());
        }
        match self.call(Command::Set { key, value, flags }).await {
            Ok(_) => Ok(None),
            // Not stored, for a reason the caller reads.
            Err(Failed::Status(
                status @ (Status::NotStored | Status::Exists | Status::NotFound),
            )) => Ok(Some(status)),
            // Memcached's -I is below max_value_bytes.
            Err(Failed::Status(Status::Error(ErrorKind::Server(text)))) if text == TOO_LARGE => {
                log::warn!(
                    "memcached refused a {length}-byte cart as larger than its item size limit; \
                     set memcached.max_value_bytes below it"
                );
                Err(Oversize::Stored { length, cap: None }.into())
            }
            Err(failed) => Err(unavailable("save", failed)),
        }
    }
}

impl Backend for Memcached {
    const NAME: &'static str = STORE;
    type Record = Vec<u8>;

    const CAPABILITIES: Capabilities = Capabilities::NETWORK_MEMORY;

    async fn get_and_touch(&self, id: &str, ttl: i64, _now: i64) -> Result<Option<Found<Vec<u8>>>> {
        let key = self.key(id);
        let slide = ttl_flag(ttl);
        // The value, its CAS unique, and the TTL slid in the same step.
        let flags = ["v", "c", slide.as_str()];
        match self
            .call(Command::Get {
                key: &key,
                flags: &flags,
            })
            .await
        {
            Ok(Answer::Found(found)) => Ok(found.map(|found| Found {
                cas: found.cas,
                record: found.data.unwrap_or_default(),
            })),
            Ok(Answer::Done) => unreachable!("a get answers with a value or none"),
            Err(failed) => Err(unavailable("load", failed)),
        }
    }

    async fn touch(&self, id: &str, ttl: i64, _now: i64) {
        // `t` makes a hit answer with a flag: without any, async-memcached
        // reads a hit and a miss alike.
        let key = self.key(id);
        let ttl = ttl_flag(ttl);
        let flags = ["t", ttl.as_str()];
        if let Err(failed) = self
            .call(Command::Get {
                key: &key,
                flags: &flags,
            })
            .await
        {
            unavailable("load", failed);
        }
    }

    async fn delete(&self, id: &str) {
        let key = self.key(id);
        if let Err(failed) = self.call(Command::Delete { key: &key }).await {
            unavailable("load", failed);
        }
    }

    async fn add(&self, id: &str, record: Vec<u8>, ttl: i64, _now: i64) -> Result<bool> {
        let ttl = ttl_flag(ttl);
        // Mode E: add, only if the key holds nothing.
        let refused = self
            .store(&self.key(id), &record, &[ttl.as_str(), "ME"])
            .await?;
        Ok(refused.is_none())
    }

    async fn swap(
        &self,
        id: &str,
        record: Vec<u8>,
        ttl: i64,
        stamp: u64,
        _now: i64,
    ) -> Result<Swapped> {
        let ttl = ttl_flag(ttl);
        let cas = format!("C{stamp}");
        let refused = self
            .store(&self.key(id), &record, &[ttl.as_str(), &cas])
            .await?;
        Ok(match refused {
            None => Swapped::Saved,
            Some(Status::Exists) => Swapped::Conflict,
            Some(_) => Swapped::Missing,
        })
    }

    async fn ready(&self) -> Result<()> {
        self.call(Command::Version)
            .await
            .map(drop)
            .map_err(|failed| unavailable("ready", failed))
    }
}
