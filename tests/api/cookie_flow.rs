//! The SPA flow: the cart travels in an HttpOnly cookie (README,
//! "Cookie flow (SPA)"). Every write answers with a new cookie whose
//! attributes are HttpOnly, SameSite=Lax, Path=/ and Max-Age equal to the
//! token's remaining lifetime.

use reqwest::Method;

use crate::helpers::{Auth, TestApp, noise, rfc3339, spawn_app, spawn_app_with};

/// Short lifetimes, so that sliding and capping are visible in a few steps.
const IDLE: i64 = 3_600;
const ABSOLUTE: i64 = 10_000;

async fn spawn_short_lived(secure: bool) -> TestApp {
    spawn_app_with(|s| {
        s.cookie.secure = secure;
        s.token.idle_ttl_secs = IDLE as u64;
        s.token.absolute_ttl_secs = ABSOLUTE as u64;
        s.token.reseal_within_secs = 600;
        s.token.leeway_secs = 60;
    })
    .await
}

#[tokio::test]
async fn a_shopper_adds_reads_changes_removes_and_clears_by_cookie() {
    let app = spawn_app().await;
    let idle = app.config.settings().token.idle_ttl_secs as i64;

    // Add: the first write issues the cookie.
    let added = app.add(&Auth::None, "TEE-100", 2).await;
    assert_eq!(added.status, 200, "add: {}", added.text);
    assert_eq!(added.lines(), vec![("TEE-100".to_owned(), 2)]);
    assert_eq!(added.revision(), 1);
    assert_eq!(added.body["items"][0]["title"], "Organic cotton tee");
    assert_eq!(added.body["items"][0]["unit_price"], 2400);
    assert_eq!(added.body["items"][0]["line_price"], 4800);
    assert_eq!(added.body["subtotal"], 4800);
    assert_eq!(added.body["currency"], "EUR");
    assert_eq!(added.body["item_count"], 2);
    let cookie = added
        .cookie("cart")
        .expect("the first write sets the cookie");
    cookie.assert_cart_attributes(false);
    assert_eq!(cookie.max_age(), Some(idle), "Max-Age of a fresh cart");
    assert!(
        added.cart_token().is_none(),
        "cookie mode sends no Cart-Token"
    );
    assert_eq!(
        added.body["token_length"].as_u64(),
        Some(cookie.value.len() as u64),
        "token_length is the cookie's length"
    );
    let mut auth = Auth::Cookie(cookie.value.clone());

    // Add a second product.
    let added = app.add(&auth, "MUG-104", 1).await;
    assert_eq!(added.status, 200, "second add: {}", added.text);
    let cookie = added.cookie("cart").expect("every write sets a new cookie");
    cookie.assert_cart_attributes(false);
    assert_ne!(Some(cookie.value.as_str()), auth.token(), "a new token");
    auth = Auth::Cookie(cookie.value);

    // Read: a fresh token is not re-issued.
    let read = app.get_cart(&auth).await;
    assert_eq!(read.status, 200, "read: {}", read.text);
    assert_eq!(
        read.lines(),
        vec![("TEE-100".to_owned(), 2), ("MUG-104".to_owned(), 1)]
    );
    assert_eq!(read.revision(), 2);
    assert!(
        read.header("set-cookie").is_none(),
        "a read of a fresh token sets no cookie: {:?}",
        read.header("set-cookie")
    );
    assert_eq!(read.body["subtotal"], 4800 + 1800);

    // Change a quantity.
    let line = read.line_of("TEE-100");
    let changed = app.set_quantity(&auth, &line, 5).await;
    assert_eq!(changed.status, 200, "change: {}", changed.text);
    assert_eq!(
        changed.lines(),
        vec![("TEE-100".to_owned(), 5), ("MUG-104".to_owned(), 1)]
    );
    let cookie = changed.cookie("cart").expect("a change sets a new cookie");
    cookie.assert_cart_attributes(false);
    auth = Auth::Cookie(cookie.value);

    // Remove a line.
    let removed = app.remove(&auth, &read.line_of("MUG-104")).await;
    assert_eq!(removed.status, 200, "remove: {}", removed.text);
    assert_eq!(removed.lines(), vec![("TEE-100".to_owned(), 5)]);
    let cookie = removed.cookie("cart").expect("a removal sets a new cookie");
    cookie.assert_cart_attributes(false);
    auth = Auth::Cookie(cookie.value);

    // Clear.
    let cleared = app.clear(&auth).await;
    assert_eq!(cleared.status, 200, "clear: {}", cleared.text);
    assert_eq!(cleared.lines(), vec![]);
    assert_eq!(cleared.body["item_count"], 0);
    let cookie = cleared.cookie("cart").expect("clearing sets a new cookie");
    cookie.assert_cart_attributes(false);
    assert_eq!(cookie.max_age(), Some(idle));
    auth = Auth::Cookie(cookie.value);

    let read = app.get_cart(&auth).await;
    assert_eq!((read.status, read.lines()), (200, vec![]));
    assert_eq!(read.revision(), 5, "five writes, five revisions");
}

#[tokio::test]
async fn a_line_with_properties_is_its_own_line() {
    let app = spawn_app().await;
    let plain = app.add(&Auth::None, "TEE-100", 1).await;
    let auth = app.next_auth(&Auth::None, &plain);
    let engraved = app
        .add_with(&auth, "TEE-100", 1, &[("size", "M"), ("engraving", "Hi")])
        .await;
    assert_eq!(engraved.status, 200, "{}", engraved.text);
    let items = engraved.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "same sku, other properties: a new line");
    assert_eq!(items[1]["properties"]["engraving"], "Hi");
    assert_ne!(items[0]["line"], items[1]["line"]);
    let auth = app.next_auth(&auth, &engraved);
    let again = app
        .add_with(&auth, "TEE-100", 2, &[("engraving", "Hi"), ("size", "M")])
        .await;
    assert_eq!(
        again.lines(),
        vec![("TEE-100".to_owned(), 1), ("TEE-100".to_owned(), 3)],
        "the same sku and properties raise that line: {}",
        again.text
    );
}

#[tokio::test]
async fn a_read_without_a_cookie_is_an_empty_cart_and_issues_nothing() {
    let app = spawn_app().await;
    let read = app.get_cart(&Auth::None).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.lines(), vec![]);
    assert_eq!(read.revision(), 0);
    assert!(read.body["expires_at"].is_null(), "{}", read.text);
    read.assert_no_new_credential();
}

#[tokio::test]
async fn max_age_is_the_remaining_lifetime_and_slides_on_every_write() {
    let app = spawn_short_lived(false).await;
    let t0 = app.now();

    let first = app.add(&Auth::None, "TEE-100", 1).await;
    let cookie = first.cookie("cart").expect("a cookie");
    assert_eq!(cookie.max_age(), Some(IDLE), "a fresh write lives idle_ttl");
    assert_eq!(first.body["expires_at"], rfc3339(t0 + IDLE));
    let mut auth = Auth::Cookie(cookie.value);

    // Half an hour later, a write slides the idle expiry forward.
    app.clock.advance(1_800);
    let slid = app.add(&auth, "TEE-100", 1).await;
    assert_eq!(slid.status, 200, "{}", slid.text);
    let cookie = slid.cookie("cart").expect("a cookie");
    assert_eq!(cookie.max_age(), Some(IDLE), "exp slid to now + idle_ttl");
    assert_eq!(slid.body["expires_at"], rfc3339(t0 + 1_800 + IDLE));
    auth = Auth::Cookie(cookie.value);

    // Near the absolute expiry, exp is capped at abs: Max-Age shrinks.
    app.clock.advance(3_000); // t0 + 4800
    let capped = app.add(&auth, "TEE-100", 1).await;
    auth = app.next_auth(&auth, &capped);
    app.clock.advance(3_000); // t0 + 7800: exp would be t0 + 11400 > abs
    let capped = app.add(&auth, "TEE-100", 1).await;
    assert_eq!(capped.status, 200, "{}", capped.text);
    let cookie = capped.cookie("cart").expect("a cookie");
    cookie.assert_cart_attributes(false);
    assert_eq!(
        cookie.max_age(),
        Some(ABSOLUTE - 7_800),
        "Max-Age is what is left before the absolute expiry"
    );
    assert_eq!(capped.body["expires_at"], rfc3339(t0 + ABSOLUTE));
    auth = Auth::Cookie(cookie.value);

    // Later still, with no slide possible, Max-Age keeps shrinking.
    app.clock.advance(1_000); // t0 + 8800
    let later = app.add(&auth, "MUG-104", 1).await;
    let cookie = later.cookie("cart").expect("a cookie");
    assert_eq!(cookie.max_age(), Some(ABSOLUTE - 8_800));
}

#[tokio::test]
async fn a_near_expiry_read_resets_the_cookie_with_its_remaining_lifetime() {
    let app = spawn_short_lived(false).await;
    let first = app.add(&Auth::None, "TEE-100", 1).await;
    let auth = app.next_auth(&Auth::None, &first);

    // Inside reseal_within (600 s) of the idle expiry.
    app.clock.advance(IDLE - 300);
    let read = app.get_cart(&auth).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let cookie = read
        .cookie("cart")
        .expect("a near-expiry read re-seals the cookie");
    cookie.assert_cart_attributes(false);
    assert_eq!(cookie.max_age(), Some(IDLE), "re-sealed: exp slid");
    assert_ne!(Some(cookie.value.as_str()), auth.token());
    assert_eq!(read.lines(), vec![("TEE-100".to_owned(), 1)]);
}

#[tokio::test]
async fn a_secure_deployment_names_the_cookie_host_cart_and_marks_it_secure() {
    let app = spawn_short_lived(true).await;
    assert_eq!(app.cookie_name, "__Host-cart");
    let added = app.add(&Auth::None, "TEE-100", 1).await;
    assert_eq!(added.status, 200, "{}", added.text);
    assert!(added.cookie("cart").is_none(), "no plain `cart` cookie");
    let cookie = added.cookie("__Host-cart").expect("__Host-cart is set");
    cookie.assert_cart_attributes(true);
    assert_eq!(cookie.max_age(), Some(IDLE));

    // The browser sends it back under the same name.
    let auth = Auth::Cookie(cookie.value);
    let read = app.get_cart(&auth).await;
    assert_eq!(read.lines(), vec![("TEE-100".to_owned(), 1)]);
    let changed = app.set_quantity(&auth, "TEE-100", 4).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    changed
        .cookie("__Host-cart")
        .expect("a new __Host-cart")
        .assert_cart_attributes(true);

    // A plain `cart` cookie means nothing to a secure deployment.
    let plain = app
        .raw(
            Method::GET,
            "/cart",
            &[("cookie", &format!("cart={}", auth.token().unwrap()))],
            None,
        )
        .await;
    assert_eq!((plain.status, plain.lines()), (200, vec![]));
}

#[tokio::test]
async fn a_plain_http_deployment_names_the_cookie_cart_without_secure() {
    let app = spawn_short_lived(false).await;
    assert_eq!(app.cookie_name, "cart");
    let added = app.add(&Auth::None, "TEE-100", 1).await;
    assert!(added.cookie("__Host-cart").is_none());
    added
        .cookie("cart")
        .expect("`cart` is set")
        .assert_cart_attributes(false);
}

/// Fills a cart with incompressible properties until the service refuses,
/// so that the last token is within a few characters of the budget, then
/// checks that its Set-Cookie name+value fits the 4,096 bytes browsers keep.
#[tokio::test]
async fn the_set_cookie_of_a_cart_at_the_token_budget_fits_in_4096_bytes() {
    let app = spawn_app_with(|s| s.cookie.secure = true).await;
    let budget = app.config.settings().limits.token_max_chars;
    let skus = ["TEE-100", "HOOD-101", "CAP-102", "SOCK-103", "MUG-104"];
    let mut auth = Auth::None;
    let mut last_cookie = None;
    let mut refusals = 0;
    let mut seed = 1;
    for size in [256, 128, 64, 32, 16, 8, 4, 2, 1] {
        loop {
            seed += 1;
            let value = noise(seed, size);
            let sku = skus[seed as usize % skus.len()];
            let reply = app.add_with(&auth, sku, 1, &[("engraving", &value)]).await;
            if reply.status == 200 {
                let cookie = reply
                    .cookie("__Host-cart")
                    .expect("a write sets the cookie");
                cookie.assert_cart_attributes(true);
                auth = Auth::Cookie(cookie.value.clone());
                last_cookie = Some(cookie);
                continue;
            }
            reply.assert_problem(413, "cart_too_large");
            reply.assert_no_new_credential();
            refusals += 1;
            break;
        }
    }
    assert_eq!(refusals, 9, "every size ended at the budget");
    let cookie = last_cookie.expect("at least one line fitted");
    assert!(
        cookie.value.len() <= budget && cookie.value.len() + 64 >= budget,
        "the last token ({} chars) is at the budget ({budget})",
        cookie.value.len()
    );
    let pair = format!("{}={}", cookie.name, cookie.value);
    assert!(
        pair.len() <= 4096,
        "Set-Cookie name+value is {} bytes",
        pair.len()
    );
    assert!(
        cookie.raw.starts_with(&pair),
        "the value is sent verbatim, unquoted"
    );

    // And the browser's copy still opens.
    let read = app.get_cart(&auth).await;
    assert_eq!(read.status, 200, "{}", read.text);
}
