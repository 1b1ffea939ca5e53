//! The connection: built without Redis, a quick 503 while Redis is paused,
//! back by itself, and driven by the runtime that connected it (the shared
//! scenarios, a dead server and one store per worker included, are in
//! tests/api/central_store).

use super::*;

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
async fn a_shared_store_depends_on_the_runtime_that_connected_it() {
    // Why one store per worker: the connection's I/O task runs on the
    // runtime that first used the store. While that runtime is blocked,
    // other runtimes' calls through the same store time out.
    let (_target, store) = target::<RedisServer>();
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
