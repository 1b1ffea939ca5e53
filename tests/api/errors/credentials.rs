//! 401 `token_invalid` and `token_expired` in each transport, and 400
//! `credentials_ambiguous`.

use super::*;

// ---------------------------------------------------------------------------
// 401 token_invalid, token_expired
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_unusable_bearer_token_is_401_token_invalid_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let good = client_with_cart(&app, true).await;
    let good = good.token().unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("garbage", "garbage".into()),
        ("tampered", tamper(good)),
        ("truncated", good[..good.len() - 5].into()),
        (
            "another purpose",
            good.replacen("v4.local.", "v4.public.", 1),
        ),
        ("wrong charset", format!("{good}!")),
        ("a bare header", "v4.local.".into()),
        ("over the length budget", "A".repeat(3_801)),
    ];
    for (what, token) in cases {
        for (method, path, body) in [
            (Method::GET, "/cart", None),
            (
                Method::POST,
                "/cart/items",
                Some(json!({ "sku": "TEE-100", "quantity": 1 })),
            ),
            (Method::DELETE, "/cart", None),
        ] {
            let reply = app
                .send(method.clone(), path, &Auth::Bearer(token.clone()), body)
                .await;
            assert_bearer_refused(&reply, &format!("{what} {method} {path}"));
            reply.assert_no_new_credential();
        }
    }
}

#[tokio::test]
async fn an_empty_bearer_credential_is_401() {
    let app = spawn_app().await;
    for value in ["Bearer", "bearer", "Bearer   ", "BEARER x y"] {
        let reply = app
            .raw(Method::GET, "/cart", &[("authorization", value)], None)
            .await;
        assert_bearer_refused(&reply, value);
    }
}

/// A shop behind HTTP basic auth, or an auth proxy, makes the browser send
/// its own `Authorization` on every call: only `Bearer` makes a request a
/// bearer request, and the cart cookie still counts beside any other scheme.
#[tokio::test]
async fn an_authorization_of_another_scheme_leaves_the_cookie_in_charge() {
    let app = spawn_app().await;
    let auth = client_with_cart(&app, false).await;
    for scheme in [
        "Basic dXNlcjpwYXNz",
        "Digest username=\"u\"",
        "Negotiate abc",
        "Token abc",
    ] {
        let read = app
            .client
            .get("/cart")
            .auth(&auth)
            .header("authorization", scheme)
            .send()
            .await;
        assert_eq!(
            (read.status, read.lines()),
            (200, two_lines()),
            "{scheme}: {}",
            read.text
        );
        assert!(read.header("www-authenticate").is_none(), "{scheme}");

        let write = app
            .client
            .post("/cart/items")
            .auth(&auth)
            .header("authorization", scheme)
            .json(&json!({ "sku": "CAP-102" }))
            .send()
            .await;
        assert_eq!(write.status, 200, "{scheme}: {}", write.text);
        assert!(write.cart_token().is_none(), "{scheme}: no Cart-Token");
        let cookie = write.cookie_value("cart").filter(|c| !c.is_empty());
        let written = Auth::Cookie(cookie.unwrap_or_else(|| panic!("{scheme}: a new cookie")));
        assert_eq!(app.get_cart(&written).await.lines().len(), 3, "{scheme}");
    }
    // Without a cookie, another scheme is no credential at all: an empty cart.
    let none = app
        .raw(
            Method::GET,
            "/cart",
            &[("authorization", "Basic dXNlcjpwYXNz")],
            None,
        )
        .await;
    assert_eq!((none.status, none.lines()), (200, vec![]), "{}", none.text);
}

#[tokio::test]
async fn an_unusable_cookie_is_401_token_invalid_and_clears_the_cookie() {
    let app = spawn_app().await;
    let good = client_with_cart(&app, false).await;
    let good = good.token().unwrap().to_owned();
    for (what, token) in [
        ("garbage", "garbage".to_owned()),
        ("tampered", tamper(&good)),
        ("a bare PASETO header", "v4.local.xyz".to_owned()),
    ] {
        for (method, path, body) in [
            (Method::GET, "/cart", None),
            (
                Method::POST,
                "/cart/items",
                Some(json!({ "sku": "TEE-100", "quantity": 1 })),
            ),
        ] {
            let reply = app
                .send(method.clone(), path, &Auth::Cookie(token.clone()), body)
                .await;
            reply.assert_problem(401, "token_invalid");
            let cleared = reply
                .cookie("cart")
                .unwrap_or_else(|| panic!("{what} {method} {path}: the cookie is cleared"));
            assert_eq!(cleared.value, "", "{what}: an empty value");
            assert_eq!(cleared.max_age(), Some(0), "{what}: Max-Age=0");
            assert_eq!(cleared.get("path"), Some("/"), "{what}: the same Path");
            assert!(
                reply.header("www-authenticate").is_none(),
                "{what}: no bearer challenge in cookie mode"
            );
            assert!(reply.cart_token().is_none());
        }
    }
}

#[tokio::test]
async fn a_secure_deployment_clears_host_cart_on_401() {
    let app = spawn_app_with(|s| s.cookie.secure = true).await;
    let reply = app.get_cart(&Auth::Cookie("garbage".into())).await;
    reply.assert_problem(401, "token_invalid");
    let cleared = reply.cookie("__Host-cart").expect("__Host-cart is cleared");
    assert_eq!(cleared.max_age(), Some(0));
    cleared.assert_cart_attributes(true);
}

#[tokio::test]
async fn a_token_of_another_deployment_is_401_token_invalid() {
    let other = spawn_app_with(|s| s.token.audience = "another-shop".into()).await;
    let foreign = Auth::Bearer(other.create().await);
    let app = spawn_app().await;
    let reply = app.get_cart(&foreign).await;
    reply.assert_problem(401, "token_invalid");
}

#[tokio::test]
async fn an_expired_token_is_401_token_expired_in_both_transports() {
    let app = spawn_app().await;
    let token = app.config.settings().token;
    let past_idle = (token.idle_ttl_secs + token.leeway_secs + 1) as i64;
    let bearer = client_with_cart(&app, true).await;
    let cookie = client_with_cart(&app, false).await;

    app.clock.advance(past_idle);

    let reply = app.get_cart(&bearer).await;
    reply.assert_problem(401, "token_expired");
    assert_eq!(reply.header("www-authenticate"), Some(BEARER_CHALLENGE));
    reply.assert_no_new_credential();

    let reply = app.add(&cookie, "TEE-100", 1).await;
    reply.assert_problem(401, "token_expired");
    let cleared = reply.cookie("cart").expect("the cookie is cleared");
    assert_eq!((cleared.value.as_str(), cleared.max_age()), ("", Some(0)));
}

// ---------------------------------------------------------------------------
// 400 credentials_ambiguous, payload_invalid
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_cookie_and_a_bearer_token_that_disagree_are_400_credentials_ambiguous() {
    let app = spawn_app().await;
    let one = client_with_cart(&app, true).await;
    let other = client_with_cart(&app, false).await;
    let both = [
        ("cookie", format!("cart={}", other.token().unwrap())),
        ("authorization", format!("Bearer {}", one.token().unwrap())),
    ];
    let both: Vec<(&str, &str)> = both.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for (method, path, body) in [
        (Method::GET, "/cart", None),
        (Method::POST, "/cart/items", Some(r#"{"sku":"TEE-100"}"#)),
        (Method::DELETE, "/cart", None),
    ] {
        let mut headers = both.clone();
        headers.push(("content-type", "application/json"));
        let reply = app.raw(method.clone(), path, &headers, body).await;
        reply.assert_problem(400, "credentials_ambiguous");
        reply.assert_no_new_credential();
    }
    assert_cart_unchanged(&app, &one, "bearer side").await;
    assert_cart_unchanged(&app, &other, "cookie side").await;
}

#[tokio::test]
async fn the_same_token_as_cookie_and_bearer_is_not_ambiguous() {
    let app = spawn_app().await;
    let auth = client_with_cart(&app, false).await;
    let token = auth.token().unwrap();
    let headers = [
        ("cookie", format!("cart={token}")),
        ("authorization", format!("Bearer {token}")),
        ("content-type", "application/json".into()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let read = app.raw(Method::GET, "/cart", &headers, None).await;
    assert_eq!(
        (read.status, read.lines()),
        (200, two_lines()),
        "{}",
        read.text
    );
    let write = app.raw_add(&headers, "CAP-102").await;
    assert_eq!(write.status, 200, "{}", write.text);
    assert!(
        write.cart_token().is_some(),
        "with Authorization present, the answer is a Cart-Token"
    );
}

#[tokio::test]
async fn two_authorization_headers_are_400_credentials_ambiguous() {
    let app = spawn_app().await;
    let a = Auth::Bearer(app.create().await);
    let b = Auth::Bearer(app.create().await);
    let reply = app
        .raw(
            Method::GET,
            "/cart",
            &[
                ("authorization", &format!("Bearer {}", a.token().unwrap())),
                ("authorization", &format!("Bearer {}", b.token().unwrap())),
            ],
            None,
        )
        .await;
    reply.assert_problem(400, "credentials_ambiguous");
}

/// Asserts a 401 `token_invalid` that challenges the client for a new
/// bearer token (`what` names the request).
fn assert_bearer_refused(reply: &Reply, what: &str) {
    reply.assert_problem(401, "token_invalid");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(BEARER_CHALLENGE),
        "{what}"
    );
}
