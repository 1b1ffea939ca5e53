//! The Redis store through its public API, against a private `redis-server`
//! on a free port, started and killed by each test, or against `REDIS_URL`
//! when it is set (under a random key prefix). The outage test always starts
//! its own server, since it stops and kills it.
//!
//! Where a test looks at or writes a stored value, it follows the value
//! layout documented in `src/store/redis.rs`: a layout byte (`1`), the
//! revision (u64 big-endian), the absolute expiry (i64 big-endian), then the
//! raw deflate of the compact cart JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use cartseal::cart::{Cart, Limits, Line, Properties, Quantity, Sku};
use cartseal::config::RedisConfig;
use cartseal::store::redis::RedisStore;
use cartseal::store::{
    Capabilities, CartStore, Session, StoreError, is_session_id, new_session_id,
};
use cartseal::token::{InvalidReason, OpenError, Oversize, deflate};

use crate::helpers::RedisTarget;
use crate::process::{RedisServer, free_port};

const TIMEOUT_MS: u64 = 200;
const IDLE: u64 = 100;
const ABSOLUTE: u64 = 3600;
/// A bound that turns a hang into a failure; not a timing assertion.
const HANG: Duration = Duration::from_secs(10);
/// The layout version in a value's first byte.
const LAYOUT_V1: u8 = 1;
/// Bytes before the compressed cart: layout, revision, absolute expiry.
const HEADER_LEN: usize = 1 + 8 + 8;

/// Where a test's carts go (`REDIS_URL`, or a private server), and a store
/// on it.
fn target() -> (RedisTarget, RedisStore) {
    let target = RedisTarget::shared_or_private("test");
    let store = store_at(target.url(), &target.prefix);
    (target, store)
}

fn store_at(url: &str, prefix: &str) -> RedisStore {
    RedisStore::new(&config(url, prefix), IDLE, ABSOLUTE, Limits::default()).expect("a store")
}

fn config(url: &str, prefix: &str) -> RedisConfig {
    RedisConfig {
        url: url.into(),
        timeout_ms: TIMEOUT_MS,
        key_prefix: prefix.into(),
    }
}

/// A store on a port nothing listens on: any Redis call is Unavailable.
fn dead_store() -> RedisStore {
    store_at(
        &format!("redis://127.0.0.1:{}", free_port()),
        "cartseal:cart:",
    )
}

/// The TTL of a session's key, as Redis reports it (-2: no such key).
async fn key_ttl(target: &RedisTarget, id: &str) -> i64 {
    ::redis::cmd("TTL")
        .arg(target.key(id))
        .query_async(&mut target.connection().await)
        .await
        .unwrap()
}

/// Writes a value under a session's key, as a replica would.
async fn set_raw(target: &RedisTarget, id: &str, value: &[u8]) {
    ::redis::cmd("SET")
        .arg(target.key(id))
        .arg(value)
        .arg("EX")
        .arg(60)
        .query_async::<()>(&mut target.connection().await)
        .await
        .unwrap();
}

/// Awaits a store call, failing the test if it hangs.
async fn no_hang<T>(call: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG, call).await.expect("no hang")
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
    let (_target, store) = target();
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
    let (target, store) = target();
    let saved = store.save(None, &session(20), now()).await.unwrap();
    let value: Vec<u8> = ::redis::cmd("GET")
        .arg(target.key(&saved.credential))
        .query_async(&mut target.connection().await)
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
    let (target, store) = target();
    let now = now();
    let saved = store.save(None, &session(1), now).await.unwrap();
    let ttl = key_ttl(&target, &saved.credential).await;
    assert!((IDLE as i64 - 2..=IDLE as i64).contains(&ttl), "ttl {ttl}");

    // As if most of the idle time had passed.
    let _: i64 = ::redis::cmd("EXPIRE")
        .arg(target.key(&saved.credential))
        .arg(5)
        .query_async(&mut target.connection().await)
        .await
        .unwrap();
    assert!(key_ttl(&target, &saved.credential).await <= 5);
    store.load(&saved.credential, now).await.unwrap();
    let ttl = key_ttl(&target, &saved.credential).await;
    assert!(ttl > 5 && ttl <= IDLE as i64, "ttl {ttl} after a load");
}

#[tokio::test]
async fn the_absolute_expiry_caps_the_ttl_and_ends_the_cart() {
    let (target, store) = target();
    let now = now();
    let mut near_end = session(1);
    near_end.absolute_expiry = Some(now + 10);
    let saved = store.save(None, &near_end, now).await.unwrap();
    assert_eq!(saved.expires_at, now + 10);
    let ttl = key_ttl(&target, &saved.credential).await;
    assert!(
        (1..=10).contains(&ttl),
        "ttl {ttl} past the absolute expiry"
    );

    // A load slides, but never past the absolute expiry.
    let loaded = store.load(&saved.credential, now).await.unwrap();
    assert_eq!(loaded.session.absolute_expiry, Some(now + 10));
    assert_eq!(loaded.session.expires_at, Some(now + 10));
    let ttl = key_ttl(&target, &saved.credential).await;
    assert!((1..=10).contains(&ttl), "ttl {ttl} after a load");

    // At the absolute expiry it still opens; past it, never, and it is gone.
    store.load(&saved.credential, now + 10).await.unwrap();
    assert_eq!(
        store.load(&saved.credential, now + 11).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
    assert_eq!(
        key_ttl(&target, &saved.credential).await,
        -2,
        "the key is deleted"
    );

    // A save at or past the absolute expiry still writes a key that dies.
    let mut past = session(1);
    past.absolute_expiry = Some(now - 5);
    let saved = store.save(None, &past, now).await.unwrap();
    assert_eq!(saved.expires_at, now - 5);
    assert!((0..=1).contains(&key_ttl(&target, &saved.credential).await));
    assert_eq!(
        store.load(&saved.credential, now).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
}

#[tokio::test]
async fn a_missing_key_is_expired() {
    let (_target, store) = target();
    assert_eq!(
        store.load(&new_session_id(), now()).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
}

#[tokio::test]
async fn a_bad_id_is_refused_without_touching_redis() {
    // Nothing listens there: any Redis call would be Unavailable.
    let store = dead_store();
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
    let (target, store) = target();
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
        set_raw(&target, &id, &value).await;
        assert_eq!(
            store.load(&id, now).await.unwrap_err(),
            StoreError::Credential(OpenError::Invalid(reason)),
            "{name}"
        );
    }
    // A valid header still ends the cart at its absolute expiry.
    let id = new_session_id();
    set_raw(&target, &id, &with(header(now - 1), b"\xff")).await;
    assert_eq!(
        store.load(&id, now).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
}

#[tokio::test]
async fn a_cart_that_could_not_be_read_back_is_refused() {
    let (target, _) = target();
    let config = config(target.url(), &target.prefix);
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
    let (_target, store) = target();
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
    let (_target, store) = target();
    store.ready().await.unwrap();
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
    let store = dead_store();
    let id = new_session_id();
    let load = no_hang(store.load(&id, now())).await;
    assert!(is_unavailable(&load), "{load:?}");
    let Err(StoreError::Unavailable(reason)) = load else {
        unreachable!()
    };
    assert!(!reason.contains(&id), "{reason}");
    let save = no_hang(store.save(Some(&id), &session(1), now())).await;
    assert!(is_unavailable(&save), "{save:?}");
    let revoke = no_hang(store.revoke(&id)).await;
    assert!(is_unavailable(&revoke), "{revoke:?}");
    assert!(no_hang(store.ready()).await.is_err());
}

#[tokio::test]
async fn an_outage_is_503_and_the_store_recovers_by_itself() {
    let mut server = RedisServer::start();
    let store = store_at(&server.url(), "cartseal:cart:");
    let now = now();
    let saved = store.save(None, &session(3), now).await.unwrap();

    // Paused: every call fails, none hangs.
    server.signal("STOP");
    let load = no_hang(store.load(&saved.credential, now)).await;
    assert!(is_unavailable(&load), "{load:?}");
    let save = no_hang(store.save(Some(&saved.credential), &session(4), now)).await;
    assert!(is_unavailable(&save), "{save:?}");
    assert!(no_hang(store.ready()).await.is_err());

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
    server.kill();
    let load = no_hang(store.load(&saved.credential, now)).await;
    assert!(is_unavailable(&load), "{load:?}");
    assert!(no_hang(store.ready()).await.is_err());

    // A new server on the same port: the store reconnects by itself. It
    // has no persistence, so the cart is gone: Expired, not Unavailable.
    server.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let load = loop {
        let load = no_hang(store.load(&saved.credential, now)).await;
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
    let (target, _) = target();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (url, prefix) = (target.url().to_owned(), target.prefix.clone());
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
    let (_target, store) = target();
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
