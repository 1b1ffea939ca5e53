//! The stored value: compact, refused when unreadable or unreadable back,
//! and refused (413), never dropped, when it is larger than the store
//! takes.

use cartseal::config::StoreKind;

use super::*;
use crate::helpers::{Auth, spawn_app_with};

#[tokio::test]
async fn the_value_is_compact_and_holds_no_plain_cart() {
    let (target, store) = target();
    let saved = store.save(None, &session(20), now()).await.unwrap();
    let value = target
        .connection()
        .await
        .get(&target.key(&saved.credential))
        .await
        .expect("the value is stored");
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
    let cases: [(&str, Vec<u8>, InvalidReason); 7] = [
        ("garbage", b"hello".to_vec(), InvalidReason::Payload),
        ("empty", Vec::new(), InvalidReason::Payload),
        (
            "a line break inside",
            b"\r\nEND\r\n".to_vec(),
            InvalidReason::Payload,
        ),
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
    // And the connection that read them all still serves.
    store.ready().await.unwrap();
}

#[tokio::test]
async fn a_cart_that_could_not_be_read_back_is_refused() {
    let (target, _) = target();
    let config = config(target.url(), &target.prefix);
    let limits = Limits {
        max_inflated_bytes: 256,
        ..Limits::default()
    };
    let store = MemcachedStore::new(&config, expiry(), limits).unwrap();
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
async fn a_value_over_max_value_bytes_is_413_and_keeps_the_old_cart() {
    let (target, _) = target();
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
    let err = store
        .save(Some(&saved.credential), &big, now())
        .await
        .unwrap_err();
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
    let big = noisy_session(160, 5, 1000, &limits);
    let err = store
        .save(Some(&saved.credential), &big, now())
        .await
        .unwrap_err();
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
    let app = spawn_app_with(|s| {
        s.store.kind = StoreKind::Memcached;
        s.memcached.url = target.url().to_owned();
        s.memcached.key_prefix = target.prefix.clone();
        s.memcached.max_value_bytes = 1024;
        s.catalog.file = String::new();
    })
    .await;
    // Each line holds two properties of 256 characters that do not
    // compress: about 400 bytes stored, so two lines fit in 1 KiB and three
    // do not.
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
    assert!(detail.contains("over the 1024"), "{detail}");
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
