//! One acceptance suite, run against every store (docs/architecture.md, "The store interface").
//!
//! Each scenario is an `async fn(Store)` written once; [`acceptance_suite!`]
//! expands it into a `#[tokio::test]` in one module per store (`token`,
//! `redis`, `redis_cluster`, `memcached`, `memory`), as tower-sessions'
//! `route_tests!` does.
//! Everything goes through the HTTP API of a real server on port 0.
//!
//! What a store cannot do is a [`Facts`] flag that decides the expected
//! outcome of a scenario, never a skipped test:
//!
//! - `revocation`: redis and memcached can end a cart server-side (an
//!   operator deletes its key); memory cannot. Nor can the token store: a
//!   token copied before a later write (which emptied the cart) still opens,
//!   with the old lines, until it expires. That replay is asserted as a
//!   fact.
//! - `survives_replica_loss`: a cart written on one instance is read on a
//!   second one (same keys, same Redis or Memcached) after the first is
//!   gone; the memory store's second instance answers `token_expired`.
//! - `survives_store_restart`: after Redis or Memcached restarts without
//!   persistence, or the memory store's process restarts, the cart is gone;
//!   a token store has no store to restart, and a new instance with the same
//!   keys opens it.
//!
//! Memcached may also evict a live cart when its memory is full; that fact
//! is recorded by tests/api/memcached_store, which fills one until it does.
//!
//! The redis and memcached variants use `REDIS_URL` or `MEMCACHED_URL` when
//! it is set (under a random key prefix per test), or a private
//! `redis-server` or `memcached` per test; the store-restart scenario always
//! starts its own, since it kills it. The `redis_cluster` variant runs on a
//! local six-node Redis Cluster (three masters, one replica each) that the
//! tests running at the same time share, each under a random key prefix
//! (tests/api/redis_cluster); the store-restart scenario makes its own.
//!
//! Time is the app's manual clock. Redis and Memcached keep idle time on
//! their own clock (a key's TTL), so [`Rig::time_passes`] also ages the
//! test's keys by the same amount: a key whose TTL runs out in that time is
//! deleted, the others lose that much TTL. That is how the suite moves the
//! store's clock.

mod races;
mod support;

use std::time::Duration;

use cartseal_kit::shopper::Request;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, raw_http};
use races::racing_adds_on_one_cart_are_all_kept;
use support::{
    ABSOLUTE, Case, DAY, Expect, IDLE, LEEWAY, Shopper, Store, Via, catalog_sku, flip_char,
};

/// Expands every scenario into a `#[tokio::test]` for one store.
macro_rules! acceptance_suite {
    ($($store:ident => $value:expr),* $(,)?) => {
        $(
            mod $store {
                use super::Store;
                const STORE: Store = $value;
                acceptance_suite!(@tests
                    empty_cart_without_a_credential,
                    cookie_cart_add_read_change_remove_clear,
                    bearer_cart_add_read_change_remove_clear,
                    guest_cart_merges_into_another,
                    bogus_credential_is_refused_and_the_cookie_cleared,
                    tampered_credential_is_refused,
                    malformed_credentials_are_refused_never_a_server_error,
                    unrelated_cookies_do_not_hide_the_cart,
                    ambiguous_credentials_are_refused,
                    idle_cart_expires,
                    write_slides_the_idle_expiry,
                    reader_near_expiry_keeps_the_cart,
                    absolute_expiry_ends_even_an_active_cart,
                    refused_writes_keep_the_cart,
                    fifty_concurrent_carts_are_all_kept,
                    racing_adds_on_one_cart_are_all_kept,
                    each_write_raises_the_revision,
                    capabilities_are_advertised,
                    revocation_is_a_recorded_fact,
                    replica_loss_is_a_recorded_fact,
                    store_restart_is_a_recorded_fact,
                );
            }
        )*
    };
    (@tests $($scenario:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $scenario() {
                super::$scenario(STORE).await;
            }
        )*
    };
}

acceptance_suite! {
    token => Store::of(cartseal::config::StoreKind::Token),
    redis => Store::of(cartseal::config::StoreKind::Redis),
    redis_cluster => Store::redis_cluster(),
    memcached => Store::of(cartseal::config::StoreKind::Memcached),
    memory => Store::of(cartseal::config::StoreKind::Memory),
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

async fn empty_cart_without_a_credential(store: Store) {
    let rig = store.spawn().await;
    let reply = Shopper::cookie(&rig).get().await;
    reply.assert_lines(&[], "GET /cart without a credential");
    assert_eq!(reply.body["item_count"], 0);
    assert_eq!(reply.body["revision"], 0);
    assert_eq!(reply.body["token_length"], Value::Null, "no token yet");
    reply.assert_no_new_credential();
}

async fn cookie_cart_add_read_change_remove_clear(store: Store) {
    crud(store, Via::Cookie).await;
}

async fn bearer_cart_add_read_change_remove_clear(store: Store) {
    crud(store, Via::Bearer).await;
}

/// Every cart operation, by one transport; the other transport's header
/// never appears.
async fn crud(store: Store, via: Via) {
    let rig = store.spawn().await;
    let mut shopper = match via {
        Via::Cookie => Shopper::cookie(&rig),
        Via::Bearer => Shopper::bearer(&rig).await,
    };
    let issued_by = |reply: &Reply| match via {
        Via::Cookie => {
            assert!(reply.cart_token().is_none(), "no Cart-Token in cookie mode");
            let cookie = reply
                .cookie(rig.cookie_name)
                .expect("a write sets the cookie");
            cookie.assert_cart_attributes(false);
            assert!(cookie.max_age().unwrap() > 0, "{}", cookie.raw);
        }
        Via::Bearer => {
            assert!(
                reply.header("set-cookie").is_none(),
                "no cookie in bearer mode"
            );
            assert!(reply.cart_token().is_some(), "a write returns Cart-Token");
        }
    };

    let added = shopper.add("TEE-100", 2).await;
    added.assert_lines(&[("TEE-100", 2)], "add");
    issued_by(&added);
    shopper
        .add("HOOD-101", 1)
        .await
        .assert_ok("add a second line");
    let again = shopper.add("TEE-100", 1).await;
    again.assert_lines(
        &[("TEE-100", 3), ("HOOD-101", 1)],
        "adding the same sku raises its line",
    );
    issued_by(&again);

    shopper
        .get()
        .await
        .assert_lines(&[("TEE-100", 3), ("HOOD-101", 1)], "read back");

    let line = again.line_of("HOOD-101");
    let changed = shopper.set(&line, 4).await;
    changed.assert_lines(&[("TEE-100", 3), ("HOOD-101", 4)], "change a quantity");
    issued_by(&changed);

    let removed = shopper.remove(&again.line_of("TEE-100")).await;
    removed.assert_lines(&[("HOOD-101", 4)], "remove a line");
    issued_by(&removed);

    shopper
        .set(&line, 0)
        .await
        .assert_lines(&[], "quantity 0 removes the line");
    shopper
        .add("CAP-102", 5)
        .await
        .assert_ok("add after emptying");
    let cleared = shopper.clear().await;
    cleared.assert_lines(&[], "DELETE /cart empties the cart");
    issued_by(&cleared);
    shopper.get().await.assert_lines(&[], "the emptied cart");
}

async fn guest_cart_merges_into_another(store: Store) {
    let rig = store.spawn().await;
    let mut guest = Shopper::cookie(&rig);
    guest.add("TEE-100", 1).await.assert_ok("guest adds");
    guest.add("HOOD-101", 2).await.assert_ok("guest adds");
    let mut user = Shopper::bearer(&rig).await;
    user.add("HOOD-101", 1).await.assert_ok("user adds");
    let before = user.add("CAP-102", 3).await;

    let merged = user.merge(&guest.credential()).await;
    merged.assert_lines(
        &[("HOOD-101", 3), ("CAP-102", 3), ("TEE-100", 1)],
        "quantities add up, new lines are appended",
    );
    assert!(merged.revision() > before.revision(), "a merge is a write");
    user.get().await.assert_lines(
        &[("HOOD-101", 3), ("CAP-102", 3), ("TEE-100", 1)],
        "the merged cart, read back",
    );

    // A cart that cannot be opened is the body's fault, not the caller's
    // credential: 422, and the caller's cart stays.
    let mut forged = guest.credential();
    flip_char(&mut forged);
    for (what, token) in [("garbage", "not-a-cart".to_owned()), ("tampered", forged)] {
        let refused = user.merge(&token).await;
        refused.assert_problem(422, "cart_invalid");
        refused.assert_no_new_credential();
        assert!(
            refused.header("www-authenticate").is_none(),
            "merging {what}: the caller's own credential is fine"
        );
        user.get().await.assert_lines(
            &[("HOOD-101", 3), ("CAP-102", 3), ("TEE-100", 1)],
            &format!("merging {what} changes nothing"),
        );
    }
}

async fn bogus_credential_is_refused_and_the_cookie_cleared(store: Store) {
    let rig = store.spawn().await;
    for via in [Via::Cookie, Via::Bearer] {
        let mut shopper = Shopper::holding(&rig, via, Some("bogus".into()));
        shopper.get().await.assert_refused_credential(
            via,
            rig.cookie_name,
            "token_invalid",
            &format!("GET with a bogus {via:?} credential"),
        );
        let write = shopper.add("TEE-100", 1).await;
        write.assert_refused_credential(
            via,
            rig.cookie_name,
            "token_invalid",
            &format!("a write with a bogus {via:?} credential starts no new cart"),
        );
        shopper.clear().await.assert_refused_credential(
            via,
            rig.cookie_name,
            "token_invalid",
            &format!("DELETE /cart with a bogus {via:?} credential"),
        );
    }
}

async fn tampered_credential_is_refused(store: Store) {
    let rig = store.spawn().await;
    let code = store.facts().tampered_code;
    for via in [Via::Cookie, Via::Bearer] {
        let mut shopper = match via {
            Via::Cookie => Shopper::cookie(&rig),
            Via::Bearer => Shopper::bearer(&rig).await,
        };
        shopper
            .add("TEE-100", 1)
            .await
            .assert_ok("a cart to tamper with");
        let mut forged = shopper.credential();
        flip_char(&mut forged);
        let mut forger = Shopper::holding(&rig, via, Some(forged));
        forger.get().await.assert_refused_credential(
            via,
            rig.cookie_name,
            code,
            &format!("a {via:?} credential with one character changed"),
        );
        forger.add("TEE-100", 5).await.assert_refused_credential(
            via,
            rig.cookie_name,
            code,
            "a write with it",
        );
        shopper
            .get()
            .await
            .assert_lines(&[("TEE-100", 1)], "the real cart is untouched");
    }
}

async fn malformed_credentials_are_refused_never_a_server_error(store: Store) {
    let rig = store.spawn().await;
    let long = "A".repeat(5_000);
    let huge = "A".repeat(10 * 1024);
    let cookie = |what: &str, value: &str| {
        Case::new(what, Method::GET, "/cart").header("cookie", format!("cart={value}"))
    };
    let bearer = |what: &str, value: &str| {
        Case::new(what, Method::GET, "/cart").header("authorization", value.to_owned())
    };
    let invalid = |case: Case| case.expect(401, "token_invalid");
    let rows = [
        invalid(cookie("a garbage cookie", "not-a-token")),
        invalid(bearer("a garbage bearer", "Bearer not-a-token")),
        invalid(cookie(
            "a 5,000-character cookie (past the token budget)",
            &long,
        )),
        invalid(bearer(
            "a 5,000-character bearer",
            &format!("Bearer {long}"),
        )),
        cookie("a 10 KB cookie (past the header limit)", &huge).expect(431, "header_too_large"),
        bearer("a 10 KB bearer", &format!("Bearer {huge}")).expect(431, "header_too_large"),
        invalid(cookie("a percent-encoded NUL in the cookie", "abc%00def")),
        invalid(bearer(
            "a percent-encoded NUL in the bearer",
            "Bearer abc%00def",
        )),
        invalid(cookie("a token-shaped cookie", "v4.local.AAAA.BBBB")),
        invalid(cookie("a quoted cookie", "\"abc\"")),
        invalid(bearer("Bearer without a token", "Bearer")),
        // An `Authorization` of another scheme (`Basic`) is no credential of
        // cartseal's and is ignored, the cookie counting instead:
        // errors::credentials::an_authorization_of_another_scheme_leaves_the_cookie_in_charge.
    ];
    for row in rows {
        // The same credential on a read and on a write.
        let write = Case {
            what: format!("{} (write)", row.what),
            method: Method::POST,
            path: "/cart/items",
            ..row.clone()
        }
        .json(json!({ "sku": "TEE-100", "quantity": 1 }));
        for case in [row, write] {
            let reply = Shopper::holding(&rig, Via::Cookie, None)
                .attempt(&case)
                .await;
            let what = &case.what;
            assert!(
                reply.status < 500,
                "{what}: never a server error: {}",
                reply.text
            );
            assert_eq!(
                (reply.status, reply.code()),
                (case.status, case.code),
                "{what}: {}",
                reply.text
            );
            reply.assert_problem(case.status, case.code);
            assert!(reply.cart_token().is_none(), "{what}: no new token");
            if case.status == 401 {
                let via = match case.headers[0].0 {
                    "cookie" => Via::Cookie,
                    _ => Via::Bearer,
                };
                reply.assert_refused_credential(via, rig.cookie_name, case.code, what);
            }
        }
    }

    // Bytes reqwest will not send. A NUL in a header is refused by the HTTP
    // parser itself (RFC 9110 section 5.5), before the app sees it: 400.
    // Bytes past ASCII reach the app, which cannot read them as a token.
    let raw_rows: [(&str, &[u8], u16); 4] = [
        ("a NUL byte in the cookie", b"Cookie: cart=abc\0def", 400),
        (
            "a NUL byte in the bearer",
            b"Authorization: Bearer abc\0def",
            400,
        ),
        (
            "bytes past ASCII in the bearer",
            b"Authorization: Bearer t\xc3\xb6k\xff",
            401,
        ),
        (
            "bytes past ASCII in the cookie",
            b"Cookie: cart=t\xc3\xb6k\xff",
            401,
        ),
    ];
    for (what, header, status) in raw_rows {
        let mut request =
            b"GET /cart HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".to_vec();
        request.extend_from_slice(header);
        request.extend_from_slice(b"\r\n\r\n");
        let (got, text) =
            tokio::time::timeout(Duration::from_secs(10), raw_http(rig.port, &request))
                .await
                .unwrap_or_else(|_| panic!("{what}: the server hangs"));
        assert_eq!(got, status, "{what}: {text}");
    }
}

async fn unrelated_cookies_do_not_hide_the_cart(store: Store) {
    let rig = store.spawn().await;
    let mut shopper = Shopper::cookie(&rig);
    shopper.add("TEE-100", 2).await.assert_ok("a cart");
    let cart = format!("{}={}", rig.cookie_name, shopper.credential());
    // Other cookies of the same site travel in the same header. One that is
    // not valid percent-encoded UTF-8 is that cookie's problem, not the
    // cart's.
    for (what, header) in [
        ("a plain cookie before", format!("theme=dark; {cart}")),
        ("a plain cookie after", format!("{cart}; theme=dark")),
        (
            "a cookie whose value is %FF",
            format!("{cart}; tracker=%FF"),
        ),
        ("a cookie without a value", format!("flag; {cart}")),
    ] {
        // The header is sent as is: this client adds no cookie of its own.
        let reply = Shopper::holding(&rig, Via::Cookie, None)
            .request(Request::read().header("cookie", &header))
            .await;
        reply.assert_lines(&[("TEE-100", 2)], &format!("GET with {what}"));
    }
    // A byte past ASCII in another cookie: RFC 6265 forbids it, yet other
    // software on the same site sends it. It is still not the cart's problem.
    let mut request = b"GET /cart HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".to_vec();
    request.extend_from_slice(format!("Cookie: {cart}; name=Ren").as_bytes());
    request.extend_from_slice(b"\xe9\r\n\r\n");
    let (status, text) = raw_http(rig.port, &request).await;
    let body: Value = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    assert_eq!(
        (
            status,
            body["items"][0]["sku"].as_str(),
            body["items"][0]["quantity"].as_u64()
        ),
        (200, Some("TEE-100"), Some(2)),
        "GET with a Latin-1 byte in another cookie: the cart must still be read: {text}"
    );
}

async fn ambiguous_credentials_are_refused(store: Store) {
    let rig = store.spawn().await;
    let mut one = Shopper::cookie(&rig);
    one.add("TEE-100", 1).await.assert_ok("a cookie cart");
    let two = Shopper::bearer(&rig).await;
    let cookie = format!("{}={}", rig.cookie_name, one.credential());
    let bearer = format!("Bearer {}", two.credential());
    let mut neither = Shopper::holding(&rig, Via::Cookie, None);
    let both = |authorization: &str| {
        Request::read()
            .header("cookie", &cookie)
            .header("authorization", authorization)
    };
    let reply = neither.request(both(&bearer)).await;
    reply.assert_problem(400, "credentials_ambiguous");
    reply.assert_no_new_credential();
    // The same credential both ways is not ambiguous.
    let same = format!("Bearer {}", one.credential());
    let reply = neither.request(both(&same)).await;
    reply.assert_lines(&[("TEE-100", 1)], "the same credential in both");
}

async fn idle_cart_expires(store: Store) {
    let rig = store.spawn().await;
    for via in [Via::Cookie, Via::Bearer] {
        let mut shopper = match via {
            Via::Cookie => Shopper::cookie(&rig),
            Via::Bearer => Shopper::bearer(&rig).await,
        };
        shopper.add("TEE-100", 1).await.assert_ok("a cart");
        rig.time_passes(IDLE + LEEWAY + 1).await;
        shopper.get().await.assert_refused_credential(
            via,
            rig.cookie_name,
            "token_expired",
            &format!("a {via:?} cart untouched for longer than the idle lifetime"),
        );
        shopper.add("TEE-100", 1).await.assert_refused_credential(
            via,
            rig.cookie_name,
            "token_expired",
            "a write to it",
        );
    }
}

async fn write_slides_the_idle_expiry(store: Store) {
    let rig = store.spawn().await;
    let mut shopper = Shopper::cookie(&rig);
    shopper.add("TEE-100", 1).await.assert_ok("a cart");
    rig.time_passes(IDLE - 3600).await;
    shopper
        .add("HOOD-101", 1)
        .await
        .assert_ok("a write an hour before the idle expiry");
    rig.time_passes(IDLE - 3600).await;
    shopper.get().await.assert_lines(
        &[("TEE-100", 1), ("HOOD-101", 1)],
        "the write moved the idle expiry (nearly two idle lifetimes since the cart began)",
    );
}

/// `token.reseal_within_secs`: "a token read within this many seconds of its
/// idle expiry is re-sealed on that response, so that an active reader does
/// not lose the cart". The same API promises the same to every store.
async fn reader_near_expiry_keeps_the_cart(store: Store) {
    let rig = store.spawn().await;
    let mut shopper = Shopper::cookie(&rig);
    shopper.add("TEE-100", 1).await.assert_ok("a cart");
    rig.time_passes(IDLE - 3600).await;
    shopper
        .get()
        .await
        .assert_lines(&[("TEE-100", 1)], "a read an hour before the idle expiry");
    rig.time_passes(3600 + LEEWAY + 1).await;
    shopper.get().await.assert_lines(
        &[("TEE-100", 1)],
        "past the first idle expiry: the read near expiry kept the cart",
    );
}

async fn absolute_expiry_ends_even_an_active_cart(store: Store) {
    let rig = store.spawn().await;
    let mut shopper = Shopper::cookie(&rig);
    shopper.add("TEE-100", 1).await.assert_ok("a cart");
    // A write every 4 days: the idle expiry never passes, the absolute one
    // (30 days) does.
    let step = 4 * DAY;
    let mut elapsed = 0;
    while elapsed + step < ABSOLUTE {
        rig.time_passes(step).await;
        elapsed += step;
        shopper
            .add("TEE-100", 1)
            .await
            .assert_ok(&format!("a write on day {}", elapsed / DAY));
    }
    rig.time_passes(step).await;
    shopper.get().await.assert_refused_credential(
        Via::Cookie,
        rig.cookie_name,
        "token_expired",
        &format!("day {}: past the absolute lifetime", (elapsed + step) / DAY),
    );
}

async fn refused_writes_keep_the_cart(store: Store) {
    let rig = store.spawn_with(|s| s.limits.max_lines = 3).await;
    let add = |what: &str, sku: &str, quantity: i64| {
        Case::new(what, Method::POST, "/cart/items")
            .json(json!({ "sku": sku, "quantity": quantity }))
    };
    let set = |what: &str, path: &'static str, quantity: i64| {
        Case::new(what, Method::PATCH, path).json(json!({ "quantity": quantity }))
    };
    let body = |what: &str, content_type: &'static str, body: String| {
        Case::new(what, Method::POST, "/cart/items").body(content_type, body)
    };
    for via in [Via::Cookie, Via::Bearer] {
        let mut shopper = match via {
            Via::Cookie => Shopper::cookie(&rig),
            Via::Bearer => Shopper::bearer(&rig).await,
        };
        shopper.add("TEE-100", 2).await.assert_ok("line 1");
        shopper.add("HOOD-101", 1).await.assert_ok("line 2");
        let full = shopper.add("CAP-102", 1).await;
        full.assert_ok("line 3 of 3");
        let held = shopper.credential();
        let revision = full.revision();
        let cart = [("TEE-100", 2), ("HOOD-101", 1), ("CAP-102", 1)];

        let mut rows = vec![
            add("a fourth line", "SOCK-103", 1).expect(413, "cart_too_large"),
            add("a quantity past 999 in all", "TEE-100", 998).expect(422, "cart_invalid"),
            add("quantity 0 in an add", "TEE-100", 0).expect(422, "cart_invalid"),
            add("an unknown sku", "NOPE-999", 1).expect(422, "sku_unknown"),
            add("a malformed sku", "bad sku!", 1).expect(422, "cart_invalid"),
            set("a change to a missing line", "/cart/items/MUG-104", 2)
                .expect(404, "line_not_found"),
            Case::new(
                "a removal of a missing line",
                Method::DELETE,
                "/cart/items/MUG-104",
            )
            .expect(404, "line_not_found"),
            set("a quantity of 1000", "/cart/items/TEE-100", 1000).expect(422, "cart_invalid"),
            set("a negative quantity", "/cart/items/TEE-100", -1).expect(422, "cart_invalid"),
            body("malformed JSON", "application/json", "{\"sku\":".into())
                .expect(400, "payload_invalid"),
            body(
                "an unknown field",
                "application/json",
                r#"{"sku":"MUG-104","price":1}"#.into(),
            )
            .expect(400, "payload_invalid"),
            body(
                "a body past the limit",
                "application/json",
                "A".repeat(20_000),
            )
            .expect(413, "payload_too_large"),
            Case::new("a merge of an unopenable cart", Method::POST, "/cart/merge")
                .json(json!({ "token": "garbage" }))
                .expect(422, "cart_invalid"),
        ];
        let form = r#"{"sku":"MUG-104","quantity":1}"#.to_owned();
        match via {
            Via::Cookie => rows.extend([
                add("a cross-site write", "MUG-104", 1)
                    .header("sec-fetch-site", "cross-site")
                    .expect(403, "csrf_rejected"),
                Case::new("a write from a foreign Origin", Method::DELETE, "/cart")
                    .header("origin", "https://evil.example")
                    .expect(403, "csrf_rejected"),
                body(
                    "a text/plain body, as a cross-site form sends",
                    "text/plain",
                    form,
                )
                .expect(415, "unsupported_media_type"),
            ]),
            Via::Bearer => rows.push(
                body("a body not sent as JSON", "text/plain", form)
                    .expect(415, "unsupported_media_type"),
            ),
        }
        for case in rows {
            let what = format!("{via:?}: {}", case.what);
            let reply = shopper.attempt(&case).await;
            assert_eq!(
                (reply.status, reply.code()),
                (case.status, case.code),
                "{what}: {}",
                reply.text
            );
            reply.assert_problem(case.status, case.code);
            reply.assert_no_new_credential();
            assert_eq!(
                shopper.credential(),
                held,
                "{what}: the client keeps its credential"
            );
            let after = shopper.get().await;
            after.assert_lines(&cart, &format!("{what}: the cart is unchanged"));
            assert_eq!(after.revision(), revision, "{what}: no revision was spent");
        }
    }
}

async fn fifty_concurrent_carts_are_all_kept(store: Store) {
    let rig = store.spawn().await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50usize {
        let shopper = Shopper::cookie(&rig);
        tasks.spawn(async move {
            // Even users are browsers, odd ones apps.
            let mut shopper = match i % 2 {
                0 => shopper,
                _ => shopper.into_bearer().await,
            };
            let expected: Vec<(String, u64)> = (0..3)
                .map(|k| (catalog_sku((i + 7 * k) % 50), (1 + (i + k) % 9) as u64))
                .collect();
            for (sku, quantity) in &expected {
                let reply = shopper.add(sku, *quantity as i64).await;
                reply.assert_ok(&format!("cart {i}: add {sku}"));
            }
            (i, shopper, expected)
        });
    }
    let mut carts = Vec::new();
    while let Some(done) = tasks.join_next().await {
        carts.push(done.expect("a shopper finished"));
    }
    assert_eq!(carts.len(), 50);
    let mut credentials = std::collections::HashSet::new();
    for (i, mut shopper, expected) in carts {
        assert!(
            credentials.insert(shopper.credential()),
            "cart {i}: a credential of its own"
        );
        let reply = shopper.get().await;
        let expected: Vec<(&str, u64)> = expected.iter().map(|(s, q)| (s.as_str(), *q)).collect();
        reply.assert_lines(&expected, &format!("cart {i} after 50 built at once"));
    }
}

async fn each_write_raises_the_revision(store: Store) {
    let rig = store.spawn().await;
    let mut shopper = Shopper::cookie(&rig);
    assert_eq!(shopper.get().await.revision(), 0, "no cart yet");
    let first = shopper.add("TEE-100", 1).await.revision();
    let second = shopper.add("HOOD-101", 1).await.revision();
    assert!(second > first, "add: {first} then {second}");
    assert_eq!(
        shopper.get().await.revision(),
        second,
        "a read is not a write"
    );
    let changed = shopper.set("TEE-100", 3).await.revision();
    assert!(changed > second, "change: {second} then {changed}");
    shopper
        .set("NOPE-1", 3)
        .await
        .assert_problem(404, "line_not_found");
    assert_eq!(shopper.get().await.revision(), changed, "a refused write");
    let removed = shopper.remove("HOOD-101").await.revision();
    assert!(removed > changed, "remove: {changed} then {removed}");
    let cleared = shopper.clear().await.revision();
    assert!(cleared > removed, "clear: {removed} then {cleared}");
}

async fn capabilities_are_advertised(store: Store) {
    let rig = store.spawn().await;
    let facts = store.facts();
    // On the admin listener: the public /readyz says only "ready".
    let reply = rig.admin.get("/store").send().await;
    reply.assert_ok("GET /store");
    assert_eq!(reply.body["kind"], store.0.as_str());
    assert_eq!(
        reply.body["capabilities"],
        json!({
            "revocation": facts.revocation,
            "survives_replica_loss": facts.survives_replica_loss,
            "survives_store_restart": facts.survives_store_restart,
            "keeps_carts": true,
        }),
        "the flags the store reports are the facts this suite asserts"
    );
}

async fn revocation_is_a_recorded_fact(store: Store) {
    let rig = store.spawn().await;
    let facts = store.facts();

    // Replay: a credential copied before a later write emptied the cart.
    let mut shopper = Shopper::cookie(&rig);
    shopper.add("TEE-100", 2).await.assert_ok("a cart");
    let copied = shopper.credential();
    shopper
        .clear()
        .await
        .assert_lines(&[], "a later write empties it");
    let replay = Shopper::holding(&rig, Via::Cookie, Some(copied))
        .get()
        .await;
    if facts.server_side {
        replay.assert_lines(&[], "the copy names the server's cart, which is now empty");
    } else {
        replay.assert_lines(
            &[("TEE-100", 2)],
            "FACT: a token store cannot revoke; the old token still opens with its old lines",
        );
    }

    // Ending the cart server-side.
    shopper.add("HOOD-101", 1).await.assert_ok("the cart again");
    let ended = rig.end_cart(&shopper.credential()).await;
    assert_eq!(ended, facts.revocation, "the server can end a cart");
    let after = shopper.get().await;
    if facts.revocation {
        after.assert_refused_credential(
            Via::Cookie,
            rig.cookie_name,
            "token_expired",
            "an ended cart",
        );
    } else {
        after.assert_lines(
            &[("HOOD-101", 1)],
            "FACT: nothing the server does ends this store's cart",
        );
    }
}

async fn replica_loss_is_a_recorded_fact(store: Store) {
    let mut rig = store.spawn().await;
    let facts = store.facts();
    let mut shopper = Shopper::cookie(&rig);
    shopper
        .add("TEE-100", 2)
        .await
        .assert_ok("written on the first replica");
    shopper
        .add("HOOD-101", 1)
        .await
        .assert_ok("written on the first replica");

    let second = rig.replica().await;
    rig.lose_replica_to(second);
    let mut moved = shopper.at(&rig);
    let reply = moved.get().await;
    if facts.survives_replica_loss {
        reply.assert_lines(
            &[("TEE-100", 2), ("HOOD-101", 1)],
            "the second replica reads the cart the lost one wrote",
        );
        moved
            .add("CAP-102", 1)
            .await
            .assert_ok("and takes writes on it");
    } else {
        reply.assert_refused_credential(
            Via::Cookie,
            rig.cookie_name,
            "token_expired",
            "FACT: the memory store's cart died with its replica",
        );
    }
}

async fn store_restart_is_a_recorded_fact(store: Store) {
    let mut rig = store.spawn_private().await;
    let facts = store.facts();
    let mut shopper = Shopper::cookie(&rig);
    shopper.add("TEE-100", 2).await.assert_ok("a cart");
    rig.restart_store().await;
    let reply = shopper.at(&rig).get_once_the_store_answers().await;
    if facts.survives_store_restart {
        reply.assert_lines(
            &[("TEE-100", 2)],
            "no store to lose: the token opens anywhere",
        );
    } else {
        reply.assert_refused_credential(
            Via::Cookie,
            rig.cookie_name,
            "token_expired",
            "FACT: a restart without persistence lost the cart",
        );
    }
    // The service works again either way.
    let mut fresh = Shopper::cookie(&rig);
    fresh
        .add("MUG-104", 1)
        .await
        .assert_lines(&[("MUG-104", 1)], "a new cart after the restart");
}
