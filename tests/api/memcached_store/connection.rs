//! The connections: a quick 503 while Memcached is down or paused, bounded
//! even when every pooled connection is busy, never reused after a
//! half-read reply, back by themselves, and warmed per worker (the shared
//! scenarios, a dead server and one store per worker included, are in
//! tests/api/central_store).

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

#[tokio::test]
async fn a_refused_connection_fails_at_once_not_at_the_timeout() {
    // (tests/api/central_store says that a dead server is a 503.)
    let store = MemcachedServer::dead();
    let id = new_session_id();
    let started = Instant::now();
    let load = no_hang(store.load(&id, now())).await;
    assert!(is_unavailable(&load), "{load:?}");
    let save = no_hang(store.save(Some(&id), &session(1), now())).await;
    assert!(is_unavailable(&save), "{save:?}");
    assert!(no_hang(store.ready()).await.is_err());
    assert!(
        started.elapsed() < Duration::from_millis(3 * TIMEOUT_MS),
        "three calls took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_restart_while_connections_sit_idle_costs_no_failed_request() {
    let mut server = MemcachedServer::start();
    let store = MemcachedServer::on(&server);
    // Fill the pool: four calls at once leave four idle connections.
    let saved = store.save(None, &session(1), now()).await.unwrap();
    for load in loads_at_once(&store, &saved.credential, 4).await {
        load.unwrap();
    }
    // Memcached restarts; no call sees it happen.
    server.restart();
    // The first call meets a closed connection, and is retried once on a
    // new one: the cart is gone, but no call is a 503.
    assert_eq!(
        store.load(&saved.credential, now()).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
    for _ in 0..4 {
        store.ready().await.unwrap();
    }
}

#[tokio::test]
async fn the_deadline_covers_waiting_for_a_pooled_connection() {
    let server = MemcachedServer::start();
    let config = MemcachedConfig {
        pool_size: 2,
        ..config(&server.url(), "cartseal:cart:")
    };
    let store = MemcachedStore::new(&config, expiry(), Limits::default()).unwrap();
    let saved = store.save(None, &session(1), now()).await.unwrap();
    server.signal("STOP");
    // Twenty calls for two connections: had each waited for a slot and
    // then for its own deadline, the last would take ten deadlines.
    let started = Instant::now();
    let results = no_hang(loads_at_once(&store, &saved.credential, 20)).await;
    let took = started.elapsed();
    server.signal("CONT");
    assert!(results.iter().all(is_unavailable), "{results:?}");
    assert!(
        took < Duration::from_millis(3 * TIMEOUT_MS),
        "20 calls on a pool of 2 took {took:?}: they waited for each other's deadlines"
    );
    store.load(&saved.credential, now()).await.unwrap();
}

#[tokio::test]
async fn a_half_read_reply_never_answers_the_next_call() {
    // A stand-in for Memcached: its first connection answers half a value
    // and goes silent; every later one is passed through to the real one.
    let (target, real) = target::<MemcachedServer>();
    let saved = real.save(None, &session(2), now()).await.unwrap();
    let upstream = target.url().strip_prefix("tcp://").unwrap().to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let (mut client, _) = listener.accept().await.unwrap();
            if std::mem::take(&mut first) {
                tokio::spawn(async move {
                    let mut request = [0u8; 256];
                    let _ = client.read(&mut request).await;
                    let _ = client.write_all(b"VA 20 t100\r\n\x01\x00\x00").await;
                    tokio::time::sleep(HANG).await;
                });
                continue;
            }
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let mut server = TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    let store = store_at(&format!("tcp://127.0.0.1:{port}"), &target.prefix);

    let first = no_hang(store.load(&saved.credential, now())).await;
    assert!(is_unavailable(&first), "{first:?}");
    let second = no_hang(store.load(&saved.credential, now())).await;
    assert_eq!(
        second.expect("a new connection answers").session.cart,
        session(2).cart
    );
}

/// `n` loads of one cart at once, on this runtime.
async fn loads_at_once(
    store: &MemcachedStore,
    id: &str,
    n: usize,
) -> Vec<Result<cartseal::store::Loaded, StoreError>> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (store, id) = (store.clone(), id.to_owned());
        tasks.spawn(async move { store.load(&id, now()).await });
    }
    tasks.join_all().await
}

/// Memcached's count of open client connections, asked on one connection
/// kept for it (a new one each time would count the last one while
/// Memcached has yet to see it close).
async fn connections(stats: &mut crate::helpers::MemcachedConnection) -> u64 {
    // `curr_connections` counts the asking connection too.
    stats.stat("curr_connections").await - 1
}

/// A connection kept for `stats` on a private Memcached, once no other
/// client is connected: the launcher's own `version` probe may still be
/// counted just after the start.
async fn alone_on(target: &MemcachedTarget) -> crate::helpers::MemcachedConnection {
    let mut stats = target.connection().await;
    let started = Instant::now();
    while connections(&mut stats).await > 0 {
        assert!(started.elapsed() < HANG, "another client stays connected");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stats
}

/// Waits until `n` clients are connected.
async fn until_connected(stats: &mut crate::helpers::MemcachedConnection, n: u64) {
    let started = Instant::now();
    while connections(stats).await < n {
        assert!(
            started.elapsed() < HANG,
            "only {} of {n} connections opened",
            connections(stats).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn warm_opens_the_pool_before_the_first_call_and_no_more() {
    let target = MemcachedTarget::private("warm");
    let config = MemcachedConfig {
        pool_size: 4,
        // About the pool, not latency: on a busy machine a connect can
        // outlast the tests' 200 ms, and warm drops such a connection.
        timeout_ms: 2000,
        ..config(target.url(), &target.prefix)
    };
    let mut stats = alone_on(&target).await;
    let store = MemcachedStore::new(&config, expiry(), Limits::default()).unwrap();
    store.warm();
    until_connected(&mut stats, 4).await;
    // Warm connections serve calls, and sixteen calls at once on a pool of
    // four open none beside them.
    let saved = store.save(None, &session(1), now()).await.unwrap();
    let results = no_hang(loads_at_once(&store, &saved.credential, 16)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(connections(&mut stats).await, 4);
}

#[tokio::test]
async fn warming_against_a_dead_memcached_costs_nothing() {
    let store = MemcachedServer::dead();
    store.warm();
    // The slots the failed connects held are free again: a call is still a
    // quick 503, not a wait behind them.
    let started = Instant::now();
    let result = no_hang(store.ready()).await;
    assert!(is_unavailable(&result), "{result:?}");
    assert!(started.elapsed() < Duration::from_millis(3 * TIMEOUT_MS));
}

#[tokio::test]
async fn the_service_opens_every_workers_pool_before_its_first_request() {
    let target = MemcachedTarget::private("warm-http");
    let mut stats = alone_on(&target).await;
    // The test app runs two workers.
    let app = app_on(&target, |s| {
        s.memcached.pool_size = 3;
        // About the pools, not latency (a busy machine's connects).
        s.memcached.timeout_ms = 2000;
    })
    .await;
    until_connected(&mut stats, 2 * 3).await;
    // No request has reached the cart routes: the pools are all open, and
    // no more.
    assert_eq!(connections(&mut stats).await, 2 * 3);
    drop(app);
}
