//! Eviction: Memcached is a cache, and a full one drops live carts. These
//! tests fill a small private Memcached (`-m 1 -I 512k`: 1 MB for items,
//! the smallest it starts with) until it evicts, and record what the store
//! and the client then see: the same as an expired session.

use std::time::Instant;

use reqwest::Method;
use serde_json::json;

use super::*;
use crate::helpers::Auth;

/// A Memcached with 1 MB for items.
const SMALL: [&str; 4] = ["-m", "1", "-I", "512k"];
/// New carts started between two looks at the first one.
const BATCH: usize = 64;
/// A bound on the filling: far more carts than 1 MB holds.
const MAX_CARTS: usize = 20_000;

#[tokio::test]
async fn an_evicted_cart_loads_as_expired() {
    let target = MemcachedTarget::private_with("eviction", &SMALL);
    let store = store_at(target.url(), &target.prefix);
    let mut raw = target.connection().await;
    let now = now();
    let first = store.save(None, &session(3), now).await.unwrap();
    let first_key = target.key(&first.credential);
    let item = raw.peek(&first_key).await.expect("the cart is stored");

    // Other carts of the same size (the same slab class), until Memcached
    // evicts the first one, which nobody read since.
    let mut saved = 0;
    while raw.peek(&first_key).await.is_some() {
        assert!(saved < MAX_CARTS, "no eviction after {saved} carts");
        store.save(None, &session(3), now).await.unwrap();
        saved += 1;
    }
    let evictions = raw.stat("evictions").await;
    assert!(evictions > 0);
    println!(
        "memcached {}: a cart of {} bytes (slab class {}) was evicted by the {saved}th cart \
         saved after it ({evictions} evictions)",
        SMALL.join(" "),
        item.get("size").map_or("?", String::as_str),
        item.get("cls").map_or("?", String::as_str),
    );
    // Evicted, long before its TTL: to the store, a missing key.
    assert_eq!(
        store.load(&first.credential, now).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
}

#[tokio::test]
async fn a_flood_of_new_carts_evicts_a_live_cart_and_its_client_sees_token_expired() {
    let target = MemcachedTarget::private_with("eviction-http", &SMALL);
    let app = app_on(&target, |s| {
        // About eviction, not latency: BATCH requests at once on a debug
        // build queue for the pooled connections, and on a busy machine
        // some waited past the shipped 250 ms.
        s.memcached.timeout_ms = 2000;
        s.catalog.file = String::new();
    })
    .await;
    let mut raw = target.connection().await;
    // Every cart here is this one: a line with four notes of 256 characters
    // that do not compress, about 800 bytes stored. The same size puts every
    // cart in the same slab class, and the size makes 1 MB fill after a
    // thousand carts or so.
    let notes: serde_json::Map<String, serde_json::Value> = (0..4)
        .map(|i| (format!("note{i}"), noise(i, 256).into()))
        .collect();
    let cart = json!({ "sku": "TEE-100", "quantity": 2, "properties": notes });
    let start = async |client: &crate::helpers::Client| {
        client
            .send(Method::POST, "/cart/items", &Auth::None, Some(cart.clone()))
            .await
    };

    // A shopper who starts a cart and comes back later, without reading it
    // in between.
    let first = start(&app.client).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let id = first.cookie_value(app.cookie_name).expect("a session id");
    let away = Auth::Cookie(id.clone());
    let key = target.key(&id);
    let item = raw.peek(&key).await.expect("the cart is stored");
    // A shopper who reads a cart like it now and then.
    let second = start(&app.client).await;
    let active = Auth::Cookie(second.cookie_value(app.cookie_name).expect("a session id"));

    // Anonymous clients start carts like the first one, BATCH at a time,
    // until the first cart is gone.
    let started_at = Instant::now();
    let mut started = 0;
    while raw.peek(&key).await.is_some() {
        assert!(started < MAX_CARTS, "no eviction after {started} new carts");
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..BATCH {
            let (client, cart) = (app.client.clone(), cart.clone());
            batch.spawn(async move {
                client
                    .send(Method::POST, "/cart/items", &Auth::None, Some(cart))
                    .await
                    .status
            });
        }
        for status in batch.join_all().await {
            assert_eq!(status, 200, "a new cart");
        }
        started += BATCH;
        let read = app.get_cart(&active).await;
        assert_eq!(read.status, 200, "the active shopper's cart: {}", read.text);
    }
    let took = started_at.elapsed();
    let evictions = raw.stat("evictions").await;
    let items = raw.stat("curr_items").await;
    let bytes = raw.stat("bytes").await;
    println!(
        "memcached {}: a cart of {} bytes (slab class {}) was evicted after at most {started} \
         new carts in {} ms; then {evictions} evictions, {items} items, {bytes} bytes held",
        SMALL.join(" "),
        item.get("size").map_or("?", String::as_str),
        item.get("cls").map_or("?", String::as_str),
        took.as_millis(),
    );
    assert!(evictions > 0, "memcached evicted");

    // What the shopper sees on coming back: the cart is unknown, as an
    // expired one is. The cookie is cleared, and a write starts no cart
    // under the old id.
    let back = app.get_cart(&away).await;
    back.assert_problem(401, "token_expired");
    let cleared = back.cookie(app.cookie_name).expect("the cookie is cleared");
    assert!(
        cleared.value.is_empty() && cleared.max_age() == Some(0),
        "{}",
        cleared.raw
    );
    let write = app.add(&away, "TEE-100", 1).await;
    write.assert_problem(401, "token_expired");
    assert!(raw.peek(&key).await.is_none(), "nothing stored under it");

    // The shopper who read its cart kept it: a read moves a cart up
    // Memcached's LRU.
    let kept = app.get_cart(&active).await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(kept.lines(), vec![("TEE-100".to_owned(), 2)]);
}
