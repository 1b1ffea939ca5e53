//! Sessions: saved and loaded, their idle TTL and absolute expiry, ended.

use super::*;

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
    std::sync::Arc::make_mut(&mut next.cart).clear();
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
async fn a_load_slides_the_idle_ttl() {
    let (target, store) = target();
    let now = now();
    let saved = store.save(None, &session(1), now).await.unwrap();
    let ttl = key_ttl(&target, &saved.credential).await.unwrap();
    assert!((IDLE as i64 - 2..=IDLE as i64).contains(&ttl), "ttl {ttl}");

    // As if most of the idle time had passed.
    let key = target.key(&saved.credential);
    assert!(target.connection().await.touch(&key, 5).await);
    assert!(key_ttl(&target, &saved.credential).await.unwrap() <= 5);
    store.load(&saved.credential, now).await.unwrap();
    let ttl = key_ttl(&target, &saved.credential).await.unwrap();
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
    let ttl = key_ttl(&target, &saved.credential).await.unwrap();
    assert!(
        (1..=10).contains(&ttl),
        "ttl {ttl} past the absolute expiry"
    );

    // A load slides, but never past the absolute expiry.
    let loaded = store.load(&saved.credential, now).await.unwrap();
    assert_eq!(loaded.session.absolute_expiry, Some(now + 10));
    assert_eq!(loaded.session.expires_at, Some(now + 10));
    let ttl = key_ttl(&target, &saved.credential).await.unwrap();
    assert!((1..=10).contains(&ttl), "ttl {ttl} after a load");

    // At the absolute expiry it still opens; past it, never, and it is gone.
    store.load(&saved.credential, now + 10).await.unwrap();
    assert_eq!(
        store.load(&saved.credential, now + 11).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
    assert_eq!(
        key_ttl(&target, &saved.credential).await,
        None,
        "the key is deleted"
    );

    // A save past the absolute expiry is refused as expired, and writes
    // nothing: every store applies the same expiry policy.
    let mut past = session(1);
    past.absolute_expiry = Some(now - 5);
    assert_eq!(
        store
            .save(Some(&saved.credential), &past, now)
            .await
            .unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
    assert_eq!(
        key_ttl(&target, &saved.credential).await,
        None,
        "nothing written"
    );
}

#[tokio::test]
async fn a_ttl_over_30_days_is_not_read_as_a_date_in_1970() {
    // Memcached reads an expiry over 30 days as a Unix time: sent as is,
    // 40 days would be a date in 1970 and the cart would expire at once.
    let (target, _) = target();
    let forty_days = 40 * 86_400;
    let store = MemcachedStore::new(
        &config(target.url(), &target.prefix),
        Expiry::new(forty_days, 2 * forty_days, 60, 0),
        Limits::default(),
    )
    .unwrap();
    let saved = store.save(None, &session(1), now()).await.unwrap();
    let ttl = key_ttl(&target, &saved.credential)
        .await
        .expect("the cart is kept");
    assert!(
        (forty_days as i64 - 5..=forty_days as i64 + 5).contains(&ttl),
        "ttl {ttl}"
    );
    // A load slides it the same way.
    store.load(&saved.credential, now()).await.unwrap();
    let ttl = key_ttl(&target, &saved.credential).await.unwrap();
    assert!(ttl > forty_days as i64 - 5, "ttl {ttl} after a load");
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
async fn an_operator_ends_a_cart_by_deleting_its_key() {
    let (target, store) = target();
    let saved = store.save(None, &session(2), now()).await.unwrap();
    let key = target.key(&saved.credential);
    assert!(target.connection().await.delete(&key).await);
    assert_eq!(
        store.load(&saved.credential, now()).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
}

#[tokio::test]
async fn a_bad_id_is_refused_without_touching_memcached() {
    // Nothing listens there: any Memcached call would be Unavailable.
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
        "AAAAAAAAAAA AAAAAAAAAA",
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
    }
}
