//! The mobile flow: the cart travels in `Authorization: Bearer`, and every
//! response that changes or re-seals the cart carries the new token in
//! `Cart-Token` (README, "Bearer flow (mobile)").

use reqwest::Method;

use crate::helpers::{Auth, Reply, TestApp, spawn_app, tamper};

/// Asserts a bearer write: 200, a new `Cart-Token` unlike `old`, no cookie.
fn assert_bearer_write(reply: &Reply, old: &str, what: &str) -> Auth {
    assert_eq!(reply.status, 200, "{what}: {}", reply.text);
    assert!(
        reply.header("set-cookie").is_none(),
        "{what}: bearer mode sets no cookie"
    );
    let token = reply
        .cart_token()
        .unwrap_or_else(|| panic!("{what}: every write carries a new Cart-Token"));
    assert_ne!(token, old, "{what}: the Cart-Token is a new token");
    assert_eq!(
        reply.body["token_length"].as_u64(),
        Some(token.len() as u64),
        "{what}: token_length is the new token's"
    );
    Auth::Bearer(token)
}

/// A guest's cookie cart (what an SPA held before log-in).
async fn guest_cookie_cart(app: &TestApp, lines: &[(&str, i64)]) -> String {
    let mut auth = Auth::None;
    for (sku, quantity) in lines {
        let reply = app.add(&auth, sku, *quantity).await;
        assert_eq!(reply.status, 200, "guest add: {}", reply.text);
        auth = app.next_auth(&auth, &reply);
    }
    auth.token().expect("the guest has a cookie").to_owned()
}

#[tokio::test]
async fn post_cart_creates_a_bearer_cart_with_no_cookie() {
    let app = spawn_app().await;
    let created = app.send(Method::POST, "/cart", &Auth::None, None).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let token = created.body["token"].as_str().expect("token in the body");
    assert_eq!(
        created.cart_token().as_deref(),
        Some(token),
        "Cart-Token carries the same token as the body"
    );
    assert!(
        created.header("set-cookie").is_none(),
        "POST /cart sets no cookie"
    );
    assert_eq!(created.body["cart"]["items"], serde_json::json!([]));
    assert_eq!(created.body["cart"]["revision"], 0);
    assert!(created.body["cart"]["expires_at"].is_string());
    assert_eq!(created.header("cache-control"), Some("no-store"));

    let read = app.get_cart(&Auth::Bearer(token.to_owned())).await;
    assert_eq!((read.status, read.lines()), (200, vec![]), "{}", read.text);
    assert!(
        read.cart_token().is_none(),
        "a fresh token is not re-issued"
    );
    assert!(read.header("set-cookie").is_none());
}

#[tokio::test]
async fn a_mobile_client_creates_adds_reads_changes_and_merges_a_guest_cart() {
    let app = spawn_app().await;
    let token = app.create().await;
    let mut auth = Auth::Bearer(token.clone());

    // Add.
    let added = app.add(&auth, "TEE-100", 2).await;
    auth = assert_bearer_write(&added, &token, "add");
    assert_eq!(added.lines(), vec![("TEE-100".to_owned(), 2)]);
    assert_eq!(added.revision(), 1);
    let added = app.add(&auth, "CAP-102", 1).await;
    auth = assert_bearer_write(&added, auth.token().unwrap(), "second add");

    // Read.
    let read = app.get_cart(&auth).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(
        read.lines(),
        vec![("TEE-100".to_owned(), 2), ("CAP-102".to_owned(), 1)]
    );
    assert_eq!(read.body["subtotal"], 2 * 2400 + 2200);
    assert!(read.cart_token().is_none());

    // Change.
    let changed = app.set_quantity(&auth, &read.line_of("TEE-100"), 3).await;
    auth = assert_bearer_write(&changed, auth.token().unwrap(), "change");
    assert_eq!(
        changed.lines(),
        vec![("TEE-100".to_owned(), 3), ("CAP-102".to_owned(), 1)]
    );

    // Log-in: merge the guest's cookie cart; equal lines add up.
    let guest = guest_cookie_cart(&app, &[("TEE-100", 1), ("MUG-104", 2)]).await;
    let merged = app.merge(&auth, &guest).await;
    auth = assert_bearer_write(&merged, auth.token().unwrap(), "merge");
    assert_eq!(
        merged.lines(),
        vec![
            ("TEE-100".to_owned(), 4),
            ("CAP-102".to_owned(), 1),
            ("MUG-104".to_owned(), 2)
        ]
    );
    assert_eq!(merged.revision(), 4, "{}", merged.text);

    let read = app.get_cart(&auth).await;
    assert_eq!(read.lines(), merged.lines(), "the merged token reads back");
}

/// Two writes sent on the same token, as an app that does not wait for one
/// answer before the next write sends them: both are answered 200, each with
/// a token that holds only its own change. The token kept last (the second
/// answer) wins, and the first add is lost. Chained on the previous answer's
/// token, as examples/mobile_client.rs does, both adds are kept.
#[tokio::test]
async fn two_writes_on_the_same_token_keep_only_the_second() {
    let app = spawn_app().await;
    let base = Auth::Bearer(app.create().await);

    let (first, second) = tokio::join!(app.add(&base, "TEE-100", 1), app.add(&base, "MUG-104", 1));
    let base_token = base.token().unwrap();
    assert_bearer_write(&first, base_token, "first add");
    let kept = assert_bearer_write(&second, base_token, "second add");
    assert_eq!(
        (first.lines(), first.revision()),
        (vec![("TEE-100".to_owned(), 1)], 1),
        "the first answer holds only the first add"
    );
    assert_eq!(
        (second.lines(), second.revision()),
        (vec![("MUG-104".to_owned(), 1)], 1),
        "the second answer holds only the second add: it never saw the first"
    );
    let read = app.get_cart(&kept).await;
    assert_eq!(
        (read.lines(), read.revision()),
        (vec![("MUG-104".to_owned(), 1)], 1),
        "the second answer's token wins: the first add is lost"
    );

    // Chained, the same two adds are both kept.
    let reply = app.add(&base, "TEE-100", 1).await;
    let chained = app.next_auth(&base, &reply);
    let reply = app.add(&chained, "MUG-104", 1).await;
    let chained = app.next_auth(&chained, &reply);
    let read = app.get_cart(&chained).await;
    assert_eq!(
        (read.lines(), read.revision()),
        (
            vec![("TEE-100".to_owned(), 1), ("MUG-104".to_owned(), 1)],
            2
        ),
        "chained on the previous answer's token, no add is lost"
    );
}

#[tokio::test]
async fn another_devices_bearer_cart_merges_in() {
    let app = spawn_app().await;
    let phone = Auth::Bearer(app.bearer_cart("SOCK-103", 2).await);

    let tablet = Auth::Bearer(app.bearer_cart("SOCK-103", 5).await);
    let tablet_reply = app.add(&tablet, "LAMP-109", 1).await;
    let tablet = app.next_auth(&tablet, &tablet_reply);

    let merged = app.merge(&phone, tablet.token().unwrap()).await;
    assert_bearer_write(&merged, phone.token().unwrap(), "merge");
    assert_eq!(
        merged.lines(),
        vec![("SOCK-103".to_owned(), 7), ("LAMP-109".to_owned(), 1)]
    );
}

#[tokio::test]
async fn merged_quantities_stay_within_the_quantity_limit() {
    let app = spawn_app().await;
    let max = i64::from(app.config.settings().limits.max_quantity);
    let mine = Auth::Bearer(app.bearer_cart("TEE-100", max - 10).await);
    let guest = guest_cookie_cart(&app, &[("TEE-100", 600)]).await;

    let merged = app.merge(&mine, &guest).await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    assert_eq!(
        merged.lines(),
        vec![("TEE-100".to_owned(), max as u64)],
        "the sum is capped at limits.max_quantity"
    );
}

#[tokio::test]
async fn merging_a_token_that_cannot_be_opened_is_422_and_leaves_the_cart_alone() {
    let app = spawn_app().await;
    let mine = Auth::Bearer(app.bearer_cart("TEE-100", 2).await);
    let guest = guest_cookie_cart(&app, &[("MUG-104", 1)]).await;
    let tampered = tamper(&guest);

    let cases = [
        ("garbage", "not-a-token".to_owned()),
        ("empty", String::new()),
        ("tampered guest token", tampered),
        ("wrong version", guest.replacen("v4.local.", "v3.local.", 1)),
        ("over the length budget", "A".repeat(5_000)),
    ];
    for (what, token) in cases {
        let merged = app.merge(&mine, &token).await;
        merged.assert_problem(422, "cart_invalid");
        merged.assert_no_new_credential();
        assert!(
            merged.header("www-authenticate").is_none(),
            "{what}: the client's own credential is fine"
        );
        let read = app.get_cart(&mine).await;
        assert_eq!(read.status, 200, "{what}: {}", read.text);
        assert_eq!(
            (read.lines(), read.revision()),
            (vec![("TEE-100".to_owned(), 2)], 1),
            "{what}: the client's cart is untouched"
        );
    }
}

#[tokio::test]
async fn every_bearer_write_carries_a_new_cart_token() {
    let app = spawn_app().await;
    let token = app.create().await;
    let mut auth = Auth::Bearer(token);
    let mut seen = vec![auth.token().unwrap().to_owned()];
    let guest = guest_cookie_cart(&app, &[("PEN-108", 1)]).await;

    let steps: Vec<(&str, Method, String, Option<serde_json::Value>)> = vec![
        (
            "add",
            Method::POST,
            "/cart/items".into(),
            Some(serde_json::json!({ "sku": "TEE-100", "quantity": 1 })),
        ),
        (
            "add with properties",
            Method::POST,
            "/cart/items".into(),
            Some(serde_json::json!({ "sku": "TEE-100", "properties": { "size": "L" } })),
        ),
        (
            "change",
            Method::PATCH,
            "/cart/items/TEE-100".into(),
            Some(serde_json::json!({ "quantity": 4 })),
        ),
        (
            "merge",
            Method::POST,
            "/cart/merge".into(),
            Some(serde_json::json!({ "token": guest })),
        ),
        (
            "change to 0 removes",
            Method::PATCH,
            "/cart/items/PEN-108".into(),
            Some(serde_json::json!({ "quantity": 0 })),
        ),
        ("remove", Method::DELETE, "/cart/items/TEE-100".into(), None),
        ("clear", Method::DELETE, "/cart".into(), None),
    ];
    for (what, method, path, body) in steps {
        let reply = app.send(method, &path, &auth, body).await;
        auth = assert_bearer_write(&reply, auth.token().unwrap(), what);
        let token = auth.token().unwrap().to_owned();
        assert!(!seen.contains(&token), "{what}: a token never seen before");
        seen.push(token);
    }
    let read = app.get_cart(&auth).await;
    assert_eq!((read.lines(), read.revision()), (vec![], 7));
}

#[tokio::test]
async fn a_write_after_post_cart_needs_no_cookie_and_no_csrf_headers() {
    // Bearer clients are not browsers: no Origin, no Sec-Fetch-*, and still
    // allowed to write.
    let app = spawn_app().await;
    let auth = Auth::Bearer(app.create().await);
    let reply = app
        .raw(
            Method::POST,
            "/cart/items",
            &[
                (
                    "authorization",
                    &format!("Bearer {}", auth.token().unwrap()),
                ),
                ("content-type", "application/json"),
            ],
            Some(r#"{"sku":"TEE-100","quantity":1}"#),
        )
        .await;
    assert_bearer_write(&reply, auth.token().unwrap(), "raw bearer add");
}
