//! The wire side of the Memcached store: the commands it sends, how a
//! failed exchange is described (never with a key or a value), and TTLs in
//! Memcached's terms.

use std::time::{SystemTime, UNIX_EPOCH};

use async_memcached::{Client, Error as McError, ErrorKind, MetaProtocol, MetaValue, Status};

use super::{MAX_RELATIVE_TTL, STORE};
use crate::store::StoreError;

/// The commands the store sends.
#[derive(Clone, Copy)]
pub(super) enum Command<'a> {
    /// `mg key <flags>`.
    Get { key: &'a str, flags: &'a [&'a str] },
    /// `ms key <len> <flags>`: a set, an add (`ME`) or a compare-and-set
    /// (`C<cas>`).
    Set {
        key: &'a str,
        value: &'a [u8],
        flags: &'a [&'a str],
    },
    /// `md key`; a missing key is not an error.
    Delete { key: &'a str },
    /// `version`.
    Version,
}

/// What a command got back.
pub(super) enum Answer {
    /// A get's item, or `None` for a miss.
    Found(Option<MetaValue>),
    /// Done (set, delete, version).
    Done,
}

impl Command<'_> {
    /// Sends it on `client` and reads the answer. A plain method rather
    /// than a closure per call site, so that every store future stays
    /// `Send`.
    pub(super) async fn run(self, client: &mut Client) -> Result<Answer, McError> {
        match self {
            Self::Get { key, flags } => client
                .meta_get(key, false, None, Some(flags))
                .await
                .map(Answer::Found),
            Self::Set { key, value, flags } => client
                .meta_set(key, value, false, None, Some(flags))
                .await
                .map(|_| Answer::Done),
            Self::Delete { key } => match client.meta_delete(key, false, None, None).await {
                Ok(_) | Err(McError::Protocol(Status::NotFound)) => Ok(Answer::Done),
                Err(e) => Err(e),
            },
            Self::Version => client.version().await.map(|_| Answer::Done),
        }
    }
}

/// Why a call got no usable answer.
pub(super) enum Failed {
    /// Memcached answered with an error status.
    Status(Status),
    /// No answer: the reason, for the log.
    NoAnswer(String),
}

/// A new connection. The caller's deadline bounds it.
pub(super) async fn connect(dsn: &str) -> Result<Client, Failed> {
    Client::new(dsn)
        .await
        .map_err(|e| Failed::NoAnswer(describe(&e)))
}

/// Counts and logs a failed call; the 503 it is.
pub(super) fn unavailable(op: &'static str, failed: Failed) -> StoreError {
    let reason = match failed {
        Failed::Status(status) => describe_status(&status),
        Failed::NoAnswer(reason) => reason,
    };
    crate::store::unavailable(STORE, op, reason)
}

/// Whether an error is what a connection that Memcached closed while it sat
/// idle gives on its first use.
pub(super) fn is_stale(e: &McError) -> bool {
    use std::io::ErrorKind::{
        BrokenPipe, ConnectionAborted, ConnectionReset, NotConnected, UnexpectedEof,
    };
    match e {
        McError::Io(io) => matches!(
            io.kind(),
            UnexpectedEof | ConnectionReset | BrokenPipe | ConnectionAborted | NotConnected
        ),
        McError::ConnectionClosed => true,
        _ => false,
    }
}

/// An error's class, for logs: never a key or a value.
pub(super) fn describe(e: &McError) -> String {
    match e {
        McError::Connect(io) => format!("connect: {:?}", io.kind()),
        McError::ConnectionClosed => "connection closed".into(),
        McError::Io(io) => format!("io: {:?}", io.kind()),
        McError::Protocol(status) => describe_status(status),
        McError::ParseError(kind) => format!("parse error {kind:?}"),
    }
}

pub(super) fn describe_status(status: &Status) -> String {
    match status {
        // Memcached's own text ("object too large for cache", "out of
        // memory storing object"): it names no key.
        Status::Error(ErrorKind::Server(text)) => format!("server error: {text}"),
        // The client's own texts may quote what was sent: not kept.
        Status::Error(ErrorKind::Client(_)) => "client error".into(),
        Status::Error(ErrorKind::Generic(_)) => "error".into(),
        Status::Error(ErrorKind::NonexistentCommand) => "unknown command".into(),
        Status::Error(ErrorKind::Protocol(_)) => "protocol error".into(),
        Status::Error(ErrorKind::KeyTooLong) => "key too long".into(),
        Status::Error(ErrorKind::OpaqueTooLong) => "opaque too long".into(),
        other => format!("unexpected status {other:?}"),
    }
}

/// The `T` flag of a TTL of `ttl` seconds.
pub(super) fn ttl_flag(ttl: i64) -> String {
    format!("T{}", wire_ttl(ttl, unix_now()))
}

/// The expiry to send for a TTL of `ttl` seconds. Memcached reads a value
/// over 30 days (2,592,000) as a Unix time, so a longer TTL is sent as
/// `unix_now + ttl`. A TTL below 1 is sent as 1: 0 would mean "never
/// expires", and a negative one expires the item at once.
pub fn wire_ttl(ttl: i64, unix_now: i64) -> i64 {
    let ttl = ttl.max(1);
    if ttl <= MAX_RELATIVE_TTL {
        ttl
    } else {
        unix_now.saturating_add(ttl)
    }
}

/// The wall clock in Unix seconds: Memcached compares an absolute expiry
/// with its own wall clock, so this is never the app's (possibly manual)
/// clock.
pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::super::MemcachedStore;
    use super::*;
    use crate::cart::Limits;
    use crate::config::MemcachedConfig;
    use crate::expiry::Expiry;
    use crate::store::{CartStore, Session};

    #[test]
    fn ttls_over_30_days_are_sent_as_unix_times() {
        assert_eq!(wire_ttl(1, 1_000), 1);
        assert_eq!(wire_ttl(0, 1_000), 1, "0 would never expire");
        assert_eq!(wire_ttl(-5, 1_000), 1, "a negative TTL expires at once");
        assert_eq!(wire_ttl(MAX_RELATIVE_TTL, 1_000), MAX_RELATIVE_TTL);
        assert_eq!(
            wire_ttl(MAX_RELATIVE_TTL + 1, 1_700_000_000),
            1_700_000_000 + MAX_RELATIVE_TTL + 1
        );
    }

    #[test]
    fn a_url_other_than_tcp_host_port_is_refused() {
        let config = MemcachedConfig {
            url: "127.0.0.1:11211".into(),
            ..MemcachedConfig::default()
        };
        let err =
            MemcachedStore::new(&config, Expiry::new(60, 60, 0, 0), Limits::default()).unwrap_err();
        assert!(!err.to_string().contains("11211"), "{err}");
    }

    #[test]
    fn reasons_name_no_key() {
        let status = Status::Error(ErrorKind::Client("bad key cartseal:cart:AAAA".into()));
        assert!(!describe_status(&status).contains("AAAA"));
    }

    /// `CartStore: Send + Sync`, the store is shared by clones inside a
    /// worker, and its futures can move between threads: this compiles only
    /// if they are.
    #[test]
    fn the_store_and_its_futures_are_send() {
        let _: fn(MemcachedStore, Session) = send_and_sync;
    }

    fn send_and_sync(store: MemcachedStore, session: Session) {
        fn send<T: Send>(_: T) {}
        fn shared<T: Send + Sync + Clone + 'static>(_: &T) {}
        shared(&store);
        send(store.load("id", 0));
        send(store.save(None, &session, 0));
        send(store.ready());
    }
}
