//! Token lifetimes through HTTP, on the manual clock (no sleeping): the idle
//! expiry (`exp`, sliding), the absolute expiry (`abs`, fixed), the leeway
//! around both, and the re-seal of a token read near its idle expiry.

use crate::helpers::{Auth, Reply, TestApp, rfc3339, spawn_app_with};

const IDLE: i64 = 3_600;
const ABSOLUTE: i64 = 7_200;
const LEEWAY: i64 = 60;
const RESEAL_WITHIN: i64 = 600;

async fn spawn_short_lived() -> TestApp {
    spawn_app_with(|s| {
        s.token.idle_ttl_secs = IDLE as u64;
        s.token.absolute_ttl_secs = ABSOLUTE as u64;
        s.token.leeway_secs = LEEWAY as u64;
        s.token.reseal_within_secs = RESEAL_WITHIN as u64;
    })
    .await
}

/// A one-line cart in either transport; returns its credential.
async fn cart(app: &TestApp, bearer: bool) -> Auth {
    let auth = if bearer {
        Auth::Bearer(app.create().await)
    } else {
        Auth::None
    };
    let reply = app.add(&auth, "TEE-100", 1).await;
    assert_eq!(reply.status, 200, "arrange: {}", reply.text);
    app.next_auth(&auth, &reply)
}

/// Runs `scenario` on a fresh one-line cart in each transport (bearer,
/// then cookie), with the time the cart was made; the clock is set back
/// to that time after each.
async fn in_each_transport(app: &TestApp, scenario: impl AsyncFn(bool, i64, Auth)) {
    for bearer in [true, false] {
        let t0 = app.now();
        let auth = cart(app, bearer).await;
        scenario(bearer, t0, auth).await;
        app.clock.set(t0);
    }
}

/// The cart `auth` holds, read with the clock set to `at`.
async fn read_at(app: &TestApp, auth: &Auth, at: i64) -> Reply {
    app.clock.set(at);
    app.get_cart(auth).await
}

fn assert_expired(reply: &Reply, what: &str) {
    assert_eq!(
        (reply.status, reply.code()),
        (401, "token_expired"),
        "{what}: {}",
        reply.text
    );
    reply.assert_problem_shape();
    assert!(reply.cart_token().is_none(), "{what}");
}

#[tokio::test]
async fn the_idle_expiry_holds_to_the_leeway_and_not_a_second_more() {
    let app = spawn_short_lived().await;
    in_each_transport(&app, async |bearer, t0, auth| {
        let inside = read_at(&app, &auth, t0 + IDLE + LEEWAY).await;
        assert_eq!(
            inside.status, 200,
            "exp + leeway (bearer {bearer}): {}",
            inside.text
        );
        assert_eq!(inside.lines(), vec![("TEE-100".to_owned(), 1)]);

        let outside = read_at(&app, &auth, t0 + IDLE + LEEWAY + 1).await;
        assert_expired(&outside, &format!("exp + leeway + 1 (bearer {bearer})"));
        let write = app.add(&auth, "TEE-100", 1).await;
        assert_expired(&write, &format!("a write after expiry (bearer {bearer})"));
    })
    .await;
}

#[tokio::test]
async fn writes_slide_the_idle_expiry_but_never_past_the_absolute_one() {
    let app = spawn_short_lived().await;
    let t0 = app.now();
    let mut auth = cart(&app, true).await;

    // Each write within the idle window keeps the cart alive.
    for at in [3_000, 6_000] {
        app.clock.set(t0 + at);
        let reply = app.add(&auth, "TEE-100", 1).await;
        assert_eq!(reply.status, 200, "write at +{at}: {}", reply.text);
        auth = app.next_auth(&auth, &reply);
    }
    // exp is now capped at abs = t0 + 7200, not t0 + 9600.
    let read = app.get_cart(&auth).await;
    assert_eq!(
        read.body["expires_at"],
        rfc3339(t0 + ABSOLUTE),
        "{}",
        read.text
    );
    assert!(
        read.cart_token().is_none(),
        "nothing to re-seal at exp == abs"
    );

    let inside = read_at(&app, &auth, t0 + ABSOLUTE + LEEWAY).await;
    assert_eq!(inside.status, 200, "abs + leeway: {}", inside.text);
    assert_eq!(inside.lines(), vec![("TEE-100".to_owned(), 3)]);

    assert_expired(
        &read_at(&app, &auth, t0 + ABSOLUTE + LEEWAY + 1).await,
        "abs + leeway + 1",
    );
    assert_expired(&app.add(&auth, "MUG-104", 1).await, "a write after abs");
}

#[tokio::test]
async fn the_absolute_expiry_ends_a_cookie_cart_too_and_clears_the_cookie() {
    let app = spawn_short_lived().await;
    let t0 = app.now();
    let mut auth = cart(&app, false).await;
    for at in [3_000, 6_000, 7_000] {
        app.clock.set(t0 + at);
        let reply = app.add(&auth, "TEE-100", 1).await;
        assert_eq!(reply.status, 200, "write at +{at}: {}", reply.text);
        let cookie = reply.cookie("cart").expect("a cookie");
        assert_eq!(
            cookie.max_age(),
            Some((IDLE).min(ABSOLUTE - at)),
            "Max-Age at +{at}"
        );
        auth = app.next_auth(&auth, &reply);
    }
    let reply = read_at(&app, &auth, t0 + ABSOLUTE + LEEWAY + 1).await;
    assert_expired(&reply, "abs + leeway + 1");
    let cleared = reply.cookie("cart").expect("the cookie is cleared");
    assert_eq!(cleared.max_age(), Some(0));
}

#[tokio::test]
async fn a_read_near_the_idle_expiry_is_re_sealed_and_its_expiry_slides() {
    let app = spawn_short_lived().await;
    in_each_transport(&app, async |bearer, t0, auth| {
        // Exactly reseal_within left: not yet.
        let early = read_at(&app, &auth, t0 + IDLE - RESEAL_WITHIN).await;
        assert_eq!(early.status, 200, "{}", early.text);
        assert!(
            app.issued(&auth, &early).is_none(),
            "bearer {bearer}: {RESEAL_WITHIN} s left is not near expiry yet"
        );

        // One second later: re-sealed, in the transport it came by.
        let now = t0 + IDLE - RESEAL_WITHIN + 1;
        let near = read_at(&app, &auth, now).await;
        assert_eq!(near.status, 200, "{}", near.text);
        let resealed = app
            .issued(&auth, &near)
            .unwrap_or_else(|| panic!("bearer {bearer}: a near-expiry read is re-sealed"));
        assert_ne!(Some(resealed.as_str()), auth.token());
        if bearer {
            assert!(near.header("set-cookie").is_none());
        } else {
            let cookie = near.cookie("cart").unwrap();
            cookie.assert_cart_attributes(false);
            assert_eq!(cookie.max_age(), Some(IDLE));
        }
        assert_eq!(near.body["expires_at"], rfc3339(now + IDLE));
        assert_eq!(near.revision(), 1, "a re-seal is not a write");
        assert_eq!(near.lines(), vec![("TEE-100".to_owned(), 1)]);

        // The old token dies at its own expiry; the new one lives on.
        let new_auth = match &auth {
            Auth::Bearer(_) => Auth::Bearer(resealed),
            _ => Auth::Cookie(resealed),
        };
        assert_expired(
            &read_at(&app, &auth, t0 + IDLE + LEEWAY + 1).await,
            "the old token",
        );
        let later = app.get_cart(&new_auth).await;
        assert_eq!(later.status, 200, "the re-sealed token: {}", later.text);
        assert_eq!(later.lines(), vec![("TEE-100".to_owned(), 1)]);
    })
    .await;
}

#[tokio::test]
async fn re_seals_slide_the_idle_expiry_up_to_the_absolute_one_and_no_further() {
    let app = spawn_short_lived().await;
    let t0 = app.now();
    let abs = t0 + ABSOLUTE;
    let mut auth = cart(&app, true).await;
    // A client that only reads, each time near its token's idle expiry.
    let mut exp = t0 + IDLE;
    while exp < abs {
        let now = exp - RESEAL_WITHIN / 2;
        let read = read_at(&app, &auth, now).await;
        assert_eq!(read.status, 200, "read at {now}: {}", read.text);
        assert!(read.cart_token().is_some(), "re-sealed at {now}");
        exp = (now + IDLE).min(abs);
        assert_eq!(read.body["expires_at"], rfc3339(exp), "{}", read.text);
        auth = app.next_auth(&auth, &read);
    }

    let inside = read_at(&app, &auth, abs + LEEWAY).await;
    assert_eq!(inside.status, 200, "abs + leeway: {}", inside.text);
    assert!(inside.cart_token().is_none(), "nothing left to slide");
    assert_expired(
        &read_at(&app, &auth, abs + LEEWAY + 1).await,
        "re-seals never extend the absolute expiry",
    );
}

#[tokio::test]
async fn a_token_from_a_replica_whose_clock_runs_ahead_is_refused_beyond_the_leeway() {
    let ahead = spawn_short_lived().await;
    let behind = spawn_short_lived().await;
    let now = behind.now();

    ahead.clock.set(now + LEEWAY);
    let within = cart(&ahead, true).await;
    let read = behind.get_cart(&within).await;
    assert_eq!(read.status, 200, "iat = now + leeway: {}", read.text);

    ahead.clock.set(now + LEEWAY + 1);
    let beyond = cart(&ahead, true).await;
    let read = behind.get_cart(&beyond).await;
    read.assert_problem(401, "token_invalid");
}
