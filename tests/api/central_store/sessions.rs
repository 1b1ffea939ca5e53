//! Sessions: saved and loaded, their idle TTL and absolute expiry, ended.

use cartseal::ids::{is_random as is_session_id, random as new_session_id};
use cartseal::token::{InvalidReason, OpenError};

use super::*;

pub async fn save_then_load_round_trips<T: Fresh>() {
    let (_target, store) = T::fresh();
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

    // A write of the loaded session keeps the id and the absolute expiry.
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

pub async fn a_load_slides_the_idle_ttl<T: Target>() {
    let (target, store) = target::<T>();
    let now = now();
    let saved = store.save(None, &session(1), now).await.unwrap();
    let ttl = T::ttl(&target, &saved.credential).await.unwrap();
    assert!((IDLE as i64 - 2..=IDLE as i64).contains(&ttl), "ttl {ttl}");

    // As if most of the idle time had passed.
    T::set_ttl(&target, &saved.credential, 5).await;
    assert!(T::ttl(&target, &saved.credential).await.unwrap() <= 5);
    store.load(&saved.credential, now).await.unwrap();
    let ttl = T::ttl(&target, &saved.credential).await.unwrap();
    assert!(ttl > 5 && ttl <= IDLE as i64, "ttl {ttl} after a load");
}

pub async fn the_absolute_expiry_caps_the_ttl_and_ends_the_cart<T: Target>() {
    let (target, store) = target::<T>();
    let now = now();
    let mut near_end = session(1);
    near_end.absolute_expiry = Some(now + 10);
    let saved = store.save(None, &near_end, now).await.unwrap();
    assert_eq!(saved.expires_at, now + 10);
    let ttl = T::ttl(&target, &saved.credential).await.unwrap();
    assert!(
        (1..=10).contains(&ttl),
        "ttl {ttl} past the absolute expiry"
    );

    // A load slides, but never past the absolute expiry.
    let loaded = store.load(&saved.credential, now).await.unwrap();
    assert_eq!(loaded.session.absolute_expiry, Some(now + 10));
    assert_eq!(loaded.session.expires_at, Some(now + 10));
    let ttl = T::ttl(&target, &saved.credential).await.unwrap();
    assert!((1..=10).contains(&ttl), "ttl {ttl} after a load");

    // At the absolute expiry it still opens; past it, never, and it is gone.
    store.load(&saved.credential, now + 10).await.unwrap();
    assert_eq!(
        store.load(&saved.credential, now + 11).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
    assert_eq!(
        T::ttl(&target, &saved.credential).await,
        None,
        "the key is deleted"
    );

    // A save past the absolute expiry is refused as expired, and writes
    // nothing: every store applies the same expiry policy.
    let mut past = loaded.session;
    past.absolute_expiry = Some(now - 5);
    assert_eq!(
        store
            .save(Some(&saved.credential), &past, now)
            .await
            .unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
    assert_eq!(
        T::ttl(&target, &saved.credential).await,
        None,
        "nothing written"
    );
}

pub async fn a_ttl_over_30_days_is_kept<T: Target>() {
    // Memcached reads an expiry over 30 days as a Unix time: sent as is,
    // 40 days would be a date in 1970 and the cart would expire at once.
    let target = T::new("test");
    let forty_days = 40 * 86_400;
    let store = target.store_with(
        Expiry::new(forty_days, 2 * forty_days, 60, 0),
        Limits::default(),
    );
    let saved = store.save(None, &session(1), now()).await.unwrap();
    let ttl = T::ttl(&target, &saved.credential)
        .await
        .expect("the cart is kept");
    assert!(
        (forty_days as i64 - 5..=forty_days as i64 + 5).contains(&ttl),
        "ttl {ttl}"
    );
    // A load slides it the same way.
    store.load(&saved.credential, now()).await.unwrap();
    let ttl = T::ttl(&target, &saved.credential).await.unwrap();
    assert!(ttl > forty_days as i64 - 5, "ttl {ttl} after a load");
}

pub async fn a_missing_key_is_expired<T: Fresh>() {
    let (_target, store) = T::fresh();
    assert_eq!(
        store.load(&new_session_id(), now()).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
}

pub async fn an_operator_ends_a_cart_by_deleting_its_key<T: Target>() {
    let (target, store) = target::<T>();
    let saved = store.save(None, &session(2), now()).await.unwrap();
    assert!(T::delete(&target, &saved.credential).await);
    assert_eq!(
        store.load(&saved.credential, now()).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
}

pub async fn a_bad_id_is_refused_without_touching_the_server<T: Target>() {
    // Nothing listens there: any call would be Unavailable.
    let store = T::dead();
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

pub async fn ready_answers<T: Target>() {
    let target = T::new("test");
    target.store().ready().await.unwrap();
}

pub async fn a_dead_server_is_a_503_that_names_no_id<T: Target>() {
    // Built without a server, and every call is a 503 that names no id.
    let store = T::dead();
    let id = new_session_id();
    let load = no_hang(store.load(&id, now())).await;
    let Err(StoreError::Unavailable(reason)) = load else {
        panic!("{load:?}")
    };
    assert!(!reason.contains(&id), "{reason}");
    assert!(reason.contains(" load"), "names the operation: {reason}");
    let save = no_hang(store.save(Some(&id), &session(1), now())).await;
    assert!(is_unavailable(&save), "{save:?}");
    assert!(no_hang(store.ready()).await.is_err());
}

pub async fn one_store_per_worker_runtime<T: Target + Sync>() {
    // As actix runs it: each worker thread has a current-thread runtime
    // and builds its own store inside it.
    let target = T::new("test");
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let store = target.store();
                    for _ in 0..20 {
                        let saved = store.save(None, &session(2), now()).await.unwrap();
                        store.load(&saved.credential, now()).await.unwrap();
                    }
                });
            });
        }
    });
}

pub async fn capabilities_are_recorded<T: Target>() {
    assert_eq!(
        T::dead().capabilities(),
        Capabilities {
            revocation: true,
            survives_replica_loss: true,
            survives_store_restart: false,
            keeps_carts: true,
        }
    );
}
