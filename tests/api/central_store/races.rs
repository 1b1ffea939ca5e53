//! The compare-and-set at save time (docs/architecture.md, "Concurrent
//! writes"): a save replaces the cart only if no other write replaced it
//! since the load, and never brings back a cart that ended.

use std::sync::Arc;

use cartseal::token::OpenError;

use super::*;

pub async fn a_save_after_another_write_conflicts_and_saves_nothing<T: Fresh>() {
    let (_target, store) = T::fresh();
    let now = now();
    let id = store.save(None, &session(1), now).await.unwrap().credential;

    // Two writes load the same cart.
    let mut first = store.load(&id, now).await.unwrap().session;
    let mut second = store.load(&id, now).await.unwrap().session;
    assert_eq!(first.stamp, second.stamp);
    for (session, lines) in [(&mut first, 2), (&mut second, 3)] {
        session.cart = session_cart(lines);
        session.revision += 1;
    }
    let saved = store.save(Some(&id), &first, now).await.unwrap();
    assert_eq!(saved.credential, id);
    assert_eq!(
        store.save(Some(&id), &second, now).await.unwrap_err(),
        StoreError::Conflict,
        "the second write started from a cart that is no longer there"
    );
    let kept = store.load(&id, now).await.unwrap().session;
    assert_eq!(kept.cart, session_cart(2), "the first write is kept");
    assert_eq!(kept.revision, first.revision);

    // Applied again to the fresh cart, it saves.
    write_and_read_back(&store, &id, kept, 3, now).await;
}

pub async fn reads_between_a_load_and_its_save_do_not_conflict<T: Fresh>() {
    // A read slides the TTL (a get-and-touch): it must not count as a
    // write, or every write racing a read would be retried.
    let (_target, store) = T::fresh();
    let now = now();
    let id = store.save(None, &session(1), now).await.unwrap().credential;
    let writing = store.load(&id, now).await.unwrap().session;
    for _ in 0..3 {
        store.load(&id, now).await.unwrap();
    }
    write_and_read_back(&store, &id, writing, 2, now).await;
}

pub async fn a_cart_that_ended_since_the_load_is_not_brought_back<T: Target>() {
    let (target, store) = target::<T>();
    let now = now();
    let id = store.save(None, &session(1), now).await.unwrap().credential;
    let mut writing = store.load(&id, now).await.unwrap().session;
    assert!(T::delete(&target, &id).await, "an operator ends the cart");
    writing.revision += 1;
    assert_eq!(
        store.save(Some(&id), &writing, now).await.unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
    assert_eq!(T::ttl(&target, &id).await, None, "nothing written");
}

pub async fn a_new_cart_never_overwrites_a_stored_one<T: Fresh>() {
    // A session that no load produced has no stamp: it is stored under a
    // new id, whatever credential comes with it.
    let (_target, store) = T::fresh();
    let now = now();
    let id = store.save(None, &session(1), now).await.unwrap().credential;
    let other = store.save(Some(&id), &session(2), now).await.unwrap();
    assert_ne!(other.credential, id);
    assert_eq!(
        store.load(&id, now).await.unwrap().session.cart,
        session(1).cart
    );
}

fn session_cart(lines: usize) -> Arc<cartseal::cart::Cart> {
    session(lines).cart
}

/// Saves `loaded` with a cart of `lines` lines as its next revision, and
/// asserts that the store now holds that cart.
async fn write_and_read_back(
    store: &impl CartStore,
    id: &str,
    mut loaded: Session,
    lines: usize,
    now: i64,
) {
    loaded.cart = session_cart(lines);
    loaded.revision += 1;
    store.save(Some(id), &loaded, now).await.unwrap();
    assert_eq!(
        store.load(id, now).await.unwrap().session.cart,
        session_cart(lines)
    );
}
