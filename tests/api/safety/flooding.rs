//! Anonymous clients cannot evict other users' carts or push a store past
//! its budget: `POST /cart` stores nothing, and a full memory store refuses
//! new carts instead of evicting live ones. Memcached is the exception the
//! comparison records: it is a cache, and a flood of first changes evicts
//! live carts (tests/api/memcached_store/eviction.rs).

use cartseal::config::StoreKind;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Auth, MemcachedTarget, RedisTarget, spawn_app_with};

#[tokio::test]
async fn anonymous_post_cart_never_evicts_a_cart_in_memory_mode() {
    // The review's reproduction: 150 calls of POST /cart with room for 100.
    let app = spawn_app_with(|s| {
        s.store.kind = StoreKind::Memory;
        s.memory.max_carts = 100;
    })
    .await;
    let first = app.add(&Auth::None, "TEE-100", 2).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let cookie = Auth::Cookie(first.cookie_value(app.cookie_name).expect("a cookie"));
    for _ in 0..150 {
        let created = app.send(Method::POST, "/cart", &Auth::None, None).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let token = created.body["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("new."), "no stored session: {token}");
    }
    let kept = app.get_cart(&cookie).await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(kept.lines(), vec![("TEE-100".to_owned(), 2)]);
}

#[tokio::test]
async fn a_fresh_bearer_cart_works_and_is_stored_on_its_first_change() {
    for kind in [StoreKind::Memory, StoreKind::Redis, StoreKind::Memcached] {
        let redis = RedisTarget::shared_or_private("flood");
        let memcached = MemcachedTarget::shared_or_private("flood");
        let app = spawn_app_with(|s| {
            s.store.kind = kind;
            s.redis.url = redis.url().to_owned();
            s.redis.key_prefix = redis.prefix.clone();
            s.memcached.url = memcached.url().to_owned();
            s.memcached.key_prefix = memcached.prefix.clone();
        })
        .await;
        let fresh = Auth::Bearer(app.create().await);
        let empty = app.get_cart(&fresh).await;
        assert_eq!(empty.status, 200, "{kind:?}: {}", empty.text);
        assert!(empty.lines().is_empty());
        let added = app.add(&fresh, "TEE-100", 1).await;
        assert_eq!(added.status, 200, "{kind:?}: {}", added.text);
        let id = added.cart_token().expect("a session id");
        assert_eq!(
            id.len(),
            22,
            "{kind:?}: the first change stores under a new id"
        );
        let read = app.get_cart(&Auth::Bearer(id)).await;
        assert_eq!(read.lines(), vec![("TEE-100".to_owned(), 1)], "{kind:?}");
        if kind == StoreKind::Redis {
            let keys: Vec<String> = ::redis::cmd("KEYS")
                .arg(format!("{}*", redis.prefix))
                .query_async(&mut redis.connection().await)
                .await
                .expect("KEYS");
            assert_eq!(keys.len(), 1, "only the changed cart is stored: {keys:?}");
        }
        if kind == StoreKind::Memcached {
            let keys = memcached.connection().await.keys(&memcached.prefix).await;
            assert_eq!(keys.len(), 1, "only the changed cart is stored: {keys:?}");
        }
    }
}

#[tokio::test]
async fn a_full_memory_store_refuses_new_carts_and_keeps_every_cart_it_holds() {
    let app = spawn_app_with(|s| {
        s.store.kind = StoreKind::Memory;
        s.memory.max_bytes = 64 * 1024;
        s.catalog.file = String::new();
    })
    .await;
    // A real shopper first.
    let shopper = app.add(&Auth::None, "TEE-100", 1).await;
    let shopper = Auth::Cookie(shopper.cookie_value(app.cookie_name).expect("a cookie"));
    // Then a flood of carts, each as large as the limits allow.
    let big = "x".repeat(250);
    let properties: Vec<(&str, &str)> = ["a", "b", "c", "d", "e"]
        .into_iter()
        .map(|k| (k, big.as_str()))
        .collect();
    let mut refused = 0;
    for i in 0..400 {
        let reply = app
            .add_with(&Auth::None, &format!("FLOOD-{i}"), 1, &properties)
            .await;
        match reply.status {
            200 => {}
            503 => {
                reply.assert_problem(503, "store_unavailable");
                refused += 1;
            }
            other => panic!("flood cart {i}: {other} {}", reply.text),
        }
    }
    assert!(refused > 0, "the flood reached the byte budget");
    let metrics = app.metrics().await;
    let bytes: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("cartseal_memory_store_bytes "))
        .expect("the store reports its bytes")
        .trim()
        .parse()
        .unwrap();
    assert!(bytes <= 64.0 * 1024.0, "{bytes} bytes over a 64 KiB budget");
    let kept = app.get_cart(&shopper).await;
    assert_eq!(
        kept.lines(),
        vec![("TEE-100".to_owned(), 1)],
        "never evicted"
    );
    // The shopper's own cart can still change.
    let changed = app
        .send(
            Method::PATCH,
            "/cart/items/TEE-100",
            &shopper,
            Some(json!({"quantity": 3})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
}
