//! A value larger than Memcached takes is refused (413), never dropped.

use super::*;
use crate::helpers::Auth;

#[tokio::test]
async fn a_value_over_max_value_bytes_is_413_and_keeps_the_old_cart() {
    let (target, _) = target::<MemcachedServer>();
    let config = MemcachedConfig {
        max_value_bytes: 1024,
        ..config(target.url(), &target.prefix)
    };
    let limits = Limits::default();
    let store = MemcachedStore::new(&config, expiry(), limits.clone()).unwrap();
    let saved = store.save(None, &session(2), now()).await.unwrap();

    // Four lines of two properties of 256 characters that do not compress
    // (about 190 bytes each once deflated): over 1 KiB stored.
    let big = noisy_session(4, 2, 256, &limits);
    let err = refused_save(&store, &saved.credential, &big).await;
    assert!(
        matches!(
            err,
            StoreError::TooLarge(Oversize::Stored { length, cap: Some(1024) }) if length > 1024
        ),
        "{err:?}"
    );
    assert_eq!(
        store
            .load(&saved.credential, now())
            .await
            .unwrap()
            .session
            .cart,
        session(2).cart,
        "the cart the client had is still there"
    );
}

#[tokio::test]
async fn memcached_refusing_an_item_is_413_never_a_silent_drop() {
    // A Memcached whose item size limit (-I 512k) is below
    // max_value_bytes (1 MiB less 1 KiB): the store sends the value, and
    // Memcached refuses it. memcached 1.6.18 can crash after refusing an
    // item with -I below 512k.
    let target = MemcachedTarget::private_with("item-limit", &["-I", "512k"]);
    let limits = Limits {
        max_lines: 1000,
        max_properties: 5,
        property_value_max_bytes: 1024,
        max_inflated_bytes: 8 << 20,
        ..Limits::default()
    };
    let store = MemcachedStore::new(
        &config(target.url(), &target.prefix),
        expiry(),
        limits.clone(),
    )
    .unwrap();
    let saved = store.save(None, &session(2), now()).await.unwrap();

    // 160 lines of 5 properties of 1,000 characters that do not compress
    // (about 745 bytes each once deflated): about 600 KB stored, over
    // 512 KiB and under max_value_bytes.
    // A write of the loaded cart: it replaces the value the key holds.
    let stamp = store
        .load(&saved.credential, now())
        .await
        .unwrap()
        .session
        .stamp;
    let big = Session {
        stamp,
        ..noisy_session(160, 5, 1000, &limits)
    };
    let err = refused_save(&store, &saved.credential, &big).await;
    assert!(
        matches!(
            err,
            StoreError::TooLarge(Oversize::Stored { length, cap: None }) if length > 512 * 1024
        ),
        "a refused item is a 413: {err:?}"
    );
    // FACT: Memcached also deleted the value the key held. That is why the
    // store refuses a value over max_value_bytes itself, before sending it
    // (the test above), and why max_value_bytes must stay below -I.
    assert_eq!(
        store.load(&saved.credential, now()).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
    // The store still serves.
    let again = store.save(None, &session(1), now()).await.unwrap();
    store.load(&again.credential, now()).await.unwrap();
}

#[tokio::test]
async fn over_the_value_limit_a_client_gets_413_and_keeps_its_cart() {
    let target = MemcachedTarget::shared_or_private("http-413");
    let app = app_on(&target, |s| {
        s.memcached.max_value_bytes = 1500;
        s.catalog.file = String::new();
    })
    .await;
    // Each line holds two properties of 256 characters that hardly
    // compress: about 550 bytes stored, so two lines fit in 1,500 bytes and
    // three do not.
    let add = async |auth: &Auth, line: u64| {
        let (a, b) = (noise(2 * line, 256), noise(2 * line + 1, 256));
        app.add_with(auth, &format!("SKU-{line}"), 1, &[("a", &a), ("b", &b)])
            .await
    };
    let mut auth = Auth::None;
    for line in 0..2 {
        let reply = add(&auth, line).await;
        assert_eq!(reply.status, 200, "line {line}: {}", reply.text);
        auth = app.next_auth(&auth, &reply);
    }
    let refused = add(&auth, 2).await;
    refused.assert_problem(413, "cart_too_large");
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("over the 1500"), "{detail}");
    assert!(
        app.issued(&auth, &refused).is_none(),
        "no new credential on a refused write"
    );
    let kept = app.get_cart(&auth).await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(
        kept.lines().len(),
        2,
        "the cart is unchanged: {}",
        kept.text
    );
}

/// The error of a save of `big` over the cart `id`, which must fail.
async fn refused_save(store: &MemcachedStore, id: &str, big: &Session) -> StoreError {
    store.save(Some(id), big, now()).await.unwrap_err()
}
