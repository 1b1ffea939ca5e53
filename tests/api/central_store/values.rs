//! The stored value: compact, and refused when unreadable or unreadable
//! back.

use cartseal::ids::random as new_session_id;
use cartseal::token::{InvalidReason, OpenError, Oversize, deflate};

use super::*;

pub async fn the_value_is_compact_and_holds_no_plain_cart<T: Target>() {
    let target = T::new("test");
    let saved = target
        .store()
        .save(None, &session(20), now())
        .await
        .unwrap();
    let value = T::get_raw(&target, &saved.credential)
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

pub async fn an_unreadable_value_is_invalid_not_unavailable<T: Target>() {
    let (target, store) = target::<T>();
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
        T::set_raw(&target, &id, &value).await;
        assert_eq!(
            store.load(&id, now).await.unwrap_err(),
            StoreError::Credential(OpenError::Invalid(reason)),
            "{name}"
        );
    }
    // A valid header still ends the cart at its absolute expiry.
    let id = new_session_id();
    T::set_raw(&target, &id, &with(header(now - 1), b"\xff")).await;
    assert_eq!(
        store.load(&id, now).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
    // And the connection that read them all still serves.
    store.ready().await.unwrap();
}

pub async fn a_cart_that_could_not_be_read_back_is_refused<T: Target>() {
    let target = T::new("test");
    let limits = Limits {
        max_inflated_bytes: 256,
        ..Limits::default()
    };
    let store = target.store_with(expiry(), limits);
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
