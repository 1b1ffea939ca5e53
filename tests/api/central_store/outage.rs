//! An outage: a paused, killed and restarted server is a 503, never a hang,
//! and the same store serves again by itself.

use std::time::Instant;

use cartseal::token::OpenError;

use super::*;

/// Waits until the process is stopped (state `T` in /proc): a signal is
/// delivered asynchronously, and a server may answer one more call first.
fn until_stopped(pid: u32) {
    let deadline = Instant::now() + HANG;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state follows the command name, which is in parentheses.
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next());
        if state == Some("T") || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub async fn an_outage_is_503_and_the_store_recovers_by_itself<T: Target>() {
    let mut server = T::start();
    let store = T::on(&server);
    let now = now();
    let saved = store.save(None, &session(3), now).await.unwrap();
    // The write the outage interrupts: of the loaded cart, to session(4).
    let mut write = store.load(&saved.credential, now).await.unwrap().session;
    write.cart = session(4).cart;
    write.revision += 1;

    // Paused: every call fails at the deadline, none hangs.
    server.signal("STOP");
    until_stopped(server.pid());
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
    // The save that timed out was already on the wire: the server may apply
    // it on resuming. A 503 on a write means "unknown outcome", not "not
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

    // A new server on the same port: the store connects again by itself.
    // It keeps nothing, so the cart is gone: Expired, not Unavailable.
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
    let loaded = store.load(&again.credential, now).await.unwrap();
    assert_eq!(loaded.session.cart, session(1).cart);
    store.ready().await.unwrap();
}
