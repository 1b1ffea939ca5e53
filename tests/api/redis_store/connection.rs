//! The connection: built without Redis, a quick 503 while Redis is down or
//! paused, back by itself, and one per worker runtime.

use super::*;

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
    let err = RedisStore::new(&config, expiry(), Limits::default()).unwrap_err();
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}

#[tokio::test]
async fn a_bad_url_is_refused_without_echoing_it() {
    let config = RedisConfig {
        url: "http://user:hunter2@example".into(),
        ..RedisConfig::default()
    };
    let err = RedisStore::new(&config, expiry(), Limits::default()).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
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
    assert!(no_hang(store.ready()).await.is_err());
}

#[tokio::test]
async fn an_outage_is_503_and_the_store_recovers_by_itself() {
    let mut server = RedisServer::start();
    let store = store_at(&server.url(), "cartseal:cart:");
    let now = now();
    let saved = store.save(None, &session(3), now).await.unwrap();
    // The write the outage interrupts: of the loaded cart, to session(4).
    let mut write = store.load(&saved.credential, now).await.unwrap().session;
    write.cart = session(4).cart;
    write.revision += 1;

    // Paused: every call fails, none hangs.
    server.signal("STOP");
    let load = no_hang(store.load(&saved.credential, now)).await;
    assert!(is_unavailable(&load), "{load:?}");
    let save = no_hang(store.save(Some(&saved.credential), &write, now)).await;
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
