//! Every stable error code of DESIGN section 5, as RFC 9457 problem+json:
//! at least one test per code, the 401 rules of each transport, "a refused
//! write never changes the cart the client holds", and no 500 anywhere.

use std::time::Duration;

use cartseal::config::StoreKind;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::json;

use crate::helpers::{Auth, Reply, TestApp, noise, spawn_app, spawn_app_with, tamper};
use crate::process::free_port;

const BEARER_CHALLENGE: &str = r#"Bearer error="invalid_token""#;

/// A client holding a two-line cart, by cookie or by bearer.
async fn client_with_cart(app: &TestApp, bearer: bool) -> Auth {
    let mut auth = if bearer {
        Auth::Bearer(app.create().await)
    } else {
        Auth::None
    };
    for (sku, quantity) in [("TEE-100", 2), ("MUG-104", 1)] {
        let reply = app.add(&auth, sku, quantity).await;
        assert_eq!(reply.status, 200, "arrange: {}", reply.text);
        auth = app.next_auth(&auth, &reply);
    }
    auth
}

/// The cart every `client_with_cart` holds.
fn two_lines() -> Vec<(String, u64)> {
    vec![("TEE-100".to_owned(), 2), ("MUG-104".to_owned(), 1)]
}

/// A refused write issued no credential, and the old one reads the same cart.
async fn assert_cart_kept(app: &TestApp, auth: &Auth, refused: &Reply, what: &str) {
    assert!(
        refused.status >= 400,
        "{what}: expected a refusal, got {}: {}",
        refused.status,
        refused.text
    );
    refused.assert_no_new_credential();
    assert_cart_unchanged(app, auth, what).await;
}

/// The old token still reads the cart `client_with_cart` built.
async fn assert_cart_unchanged(app: &TestApp, auth: &Auth, what: &str) {
    let read = app.get_cart(auth).await;
    assert_eq!(read.status, 200, "{what}: re-read: {}", read.text);
    assert_eq!(
        (read.lines(), read.revision()),
        (two_lines(), 2),
        "{what}: the old token still reads the same cart"
    );
}

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
            reply.assert_problem(401, "token_invalid");
            assert_eq!(
                reply.header("www-authenticate"),
                Some(BEARER_CHALLENGE),
                "{what} {method} {path}"
            );
            reply.assert_no_new_credential();
        }
    }
}

#[tokio::test]
async fn an_authorization_header_that_is_not_bearer_is_401() {
    let app = spawn_app().await;
    for value in ["Basic dXNlcjpwYXNz", "Bearer", "Token abc", "bearer"] {
        let reply = app
            .raw(Method::GET, "/cart", &[("authorization", value)], None)
            .await;
        reply.assert_problem(401, "token_invalid");
        assert_eq!(
            reply.header("www-authenticate"),
            Some(BEARER_CHALLENGE),
            "{value}"
        );
    }
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
    let write = app
        .raw(
            Method::POST,
            "/cart/items",
            &headers,
            Some(r#"{"sku":"CAP-102"}"#),
        )
        .await;
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

/// Bodies that are not the JSON an endpoint takes: 400 payload_invalid in
/// either transport, the cart unchanged.
#[tokio::test]
async fn a_body_that_is_not_the_json_an_endpoint_takes_is_400_payload_invalid() {
    let app = spawn_app().await;
    let cases: &[(&str, &str, &str)] = &[
        ("malformed JSON", "/cart/items", r#"{"sku":"TEE-100","#),
        ("not JSON at all", "/cart/items", "sku=TEE-100"),
        ("empty body", "/cart/items", ""),
        ("null", "/cart/items", "null"),
        ("an array", "/cart/items", r#"["TEE-100",1]"#),
        ("sku of the wrong type", "/cart/items", r#"{"sku":5}"#),
        ("missing sku", "/cart/items", r#"{"quantity":1}"#),
        (
            "quantity as a string",
            "/cart/items",
            r#"{"sku":"TEE-100","quantity":"1"}"#,
        ),
        (
            "fractional quantity",
            "/cart/items",
            r#"{"sku":"TEE-100","quantity":1.5}"#,
        ),
        (
            "quantity in exponent form",
            "/cart/items",
            r#"{"sku":"TEE-100","quantity":1e2}"#,
        ),
        (
            "quantity 2^63",
            "/cart/items",
            r#"{"sku":"TEE-100","quantity":9223372036854775808}"#,
        ),
        (
            "quantity 2^64",
            "/cart/items",
            r#"{"sku":"TEE-100","quantity":18446744073709551616}"#,
        ),
        (
            "quantity null",
            "/cart/items",
            r#"{"sku":"TEE-100","quantity":null}"#,
        ),
        (
            "unknown field",
            "/cart/items",
            r#"{"sku":"TEE-100","quantity":1,"price":0}"#,
        ),
        (
            "properties of the wrong type",
            "/cart/items",
            r#"{"sku":"TEE-100","properties":["size","M"]}"#,
        ),
        (
            "a property value that is not a string",
            "/cart/items",
            r#"{"sku":"TEE-100","properties":{"size":42}}"#,
        ),
        (
            "duplicate JSON after the object",
            "/cart/items",
            r#"{"sku":"TEE-100"}{"sku":"TEE-100"}"#,
        ),
        (
            "patch: quantity as a string",
            "/cart/items/TEE-100",
            r#"{"quantity":"2"}"#,
        ),
        ("patch: no quantity", "/cart/items/TEE-100", r#"{}"#),
        (
            "patch: fractional",
            "/cart/items/TEE-100",
            r#"{"quantity":2.5}"#,
        ),
        (
            "patch: unknown field",
            "/cart/items/TEE-100",
            r#"{"quantity":2,"sku":"MUG-104"}"#,
        ),
        (
            "merge: token of the wrong type",
            "/cart/merge",
            r#"{"token":5}"#,
        ),
        ("merge: no token", "/cart/merge", r#"{}"#),
        ("patch: an array", "/cart/items/TEE-100", "[2]"),
        ("merge: an array", "/cart/merge", r#"["x"]"#),
    ];
    let mut mismatches = Vec::new();
    for bearer in [true, false] {
        for (what, path, body) in cases {
            // A fresh cart per case: a wrongly accepted body must not
            // spoil the next case.
            let auth = client_with_cart(&app, bearer).await;
            let method = if path.starts_with("/cart/items/") {
                Method::PATCH
            } else {
                Method::POST
            };
            let mut headers = vec![("content-type", "application/json")];
            let credential = match &auth {
                Auth::Bearer(t) => ("authorization", format!("Bearer {t}")),
                _ => ("cookie", format!("cart={}", auth.token().unwrap())),
            };
            headers.push((credential.0, &credential.1));
            let reply = app.raw(method.clone(), path, &headers, Some(body)).await;
            if (reply.status, reply.code()) != (400, "payload_invalid") {
                mismatches.push(format!(
                    "{what} (bearer: {bearer}): {method} {path} {body} -> {} {}",
                    reply.status, reply.text
                ));
                continue;
            }
            reply.assert_problem_shape();
            assert!(
                !reply.text.contains("TEE-100") && !reply.text.contains("MUG-104"),
                "{what}: the detail does not echo the client's data: {}",
                reply.text
            );
            assert_cart_kept(&app, &auth, &reply, what).await;
        }
    }
    assert!(
        mismatches.is_empty(),
        "expected 400 payload_invalid:\n{}",
        mismatches.join("\n")
    );
}

#[tokio::test]
async fn a_bearer_body_that_does_not_say_json_is_400_payload_invalid() {
    let app = spawn_app().await;
    let auth = client_with_cart(&app, true).await;
    let bearer = format!("Bearer {}", auth.token().unwrap());
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut headers = vec![("authorization", bearer.as_str())];
        if let Some(content_type) = content_type {
            headers.push(("content-type", content_type));
        }
        let reply = app
            .raw(
                Method::POST,
                "/cart/items",
                &headers,
                Some(r#"{"sku":"TEE-100"}"#),
            )
            .await;
        reply.assert_problem(400, "payload_invalid");
        assert_cart_kept(&app, &auth, &reply, &format!("{content_type:?}")).await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_400_payload_invalid() {
    let app = spawn_app().await;
    let token = app.create().await;
    let reply = app
        .client
        .post("/cart/items")
        .auth(&Auth::Bearer(token))
        .header("content-type", "application/json")
        .body(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'])
        .send()
        .await;
    reply.assert_problem(400, "payload_invalid");
}

// ---------------------------------------------------------------------------
// 403 csrf_rejected (the full rule is in csrf_cors.rs)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_cross_site_cookie_write_is_403_csrf_rejected() {
    let app = spawn_app().await;
    let auth = client_with_cart(&app, false).await;
    let cookie = format!("cart={}", auth.token().unwrap());
    let reply = app
        .raw(
            Method::POST,
            "/cart/items",
            &[
                ("cookie", &cookie),
                ("content-type", "application/json"),
                ("sec-fetch-site", "cross-site"),
            ],
            Some(r#"{"sku":"CAP-102"}"#),
        )
        .await;
    reply.assert_problem(403, "csrf_rejected");
    assert_cart_kept(&app, &auth, &reply, "cross-site").await;
}

// ---------------------------------------------------------------------------
// 404 line_not_found, not_found; 405
// ---------------------------------------------------------------------------

#[tokio::test]
async fn changing_or_removing_a_line_the_cart_lacks_is_404_line_not_found() {
    let app = spawn_app().await;
    for bearer in [true, false] {
        let auth = client_with_cart(&app, bearer).await;
        for line in ["CAP-102", "TEE-100~000000000000", "nope"] {
            let reply = app.set_quantity(&auth, line, 2).await;
            reply.assert_problem(404, "line_not_found");
            assert_cart_kept(&app, &auth, &reply, &format!("PATCH {line}")).await;
            let reply = app.remove(&auth, line).await;
            reply.assert_problem(404, "line_not_found");
            assert_cart_kept(&app, &auth, &reply, &format!("DELETE {line}")).await;
        }
    }
    // With no cart at all.
    let reply = app.set_quantity(&Auth::None, "TEE-100", 1).await;
    reply.assert_problem(404, "line_not_found");
    reply.assert_no_new_credential();
    let reply = app.remove(&Auth::None, "TEE-100").await;
    reply.assert_problem(404, "line_not_found");
    reply.assert_no_new_credential();
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/nope"),
        (Method::POST, "/nope"),
        (Method::GET, "/cart/items/TEE-100/extra"),
        (Method::GET, "/cart/"),
        (Method::GET, "/api/v2/cart"),
        (Method::DELETE, "/cart/items/"),
    ] {
        let reply = app.send(method.clone(), path, &Auth::None, None).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.text);
        reply.assert_problem_shape();
    }
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem() {
    let app = spawn_app().await;
    let mut failures = Vec::new();
    for (method, path) in [
        (Method::PUT, "/cart"),
        (Method::PATCH, "/cart"),
        (Method::GET, "/cart/items"),
        (Method::DELETE, "/cart/items"),
        (Method::GET, "/cart/items/TEE-100"),
        (Method::POST, "/cart/items/TEE-100"),
        (Method::PUT, "/cart/items/TEE-100"),
        (Method::GET, "/cart/merge"),
        (Method::POST, "/products"),
        (Method::POST, "/healthz"),
        (Method::POST, "/readyz"),
        (Method::DELETE, "/metrics"),
        (Method::POST, "/.well-known/jwks.json"),
        (Method::PUT, "/openapi.json"),
        (Method::POST, "/"),
    ] {
        let reply = app.send(method.clone(), path, &Auth::None, None).await;
        let ok = reply.status == 405
            && reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/problem+json"))
            && reply.body["status"] == 405
            && reply.body["code"].is_string();
        if !ok {
            failures.push(format!(
                "{method} {path}: {} {:?} {:?}",
                reply.status,
                reply.header("content-type"),
                reply.text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "wrong methods must get a 405 problem+json:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// 413 payload_too_large, cart_too_large
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_body_over_the_limit_is_413_payload_too_large() {
    let app = spawn_app().await;
    let limit = app.config.settings().limits.body_max_bytes;
    let body = format!(
        r#"{{"sku":"TEE-100","properties":{{"note":"{}"}}}}"#,
        "x".repeat(limit)
    );
    for bearer in [true, false] {
        let auth = client_with_cart(&app, bearer).await;
        for path in ["/cart/items", "/cart/merge"] {
            let reply = app
                .send(
                    Method::POST,
                    path,
                    &auth,
                    Some(serde_json::from_str(&body).unwrap()),
                )
                .await;
            reply.assert_problem(413, "payload_too_large");
            assert_cart_kept(&app, &auth, &reply, path).await;
        }
    }
}

#[tokio::test]
async fn a_cart_over_max_lines_is_413_cart_too_large() {
    let app = spawn_app_with(|s| s.limits.max_lines = 3).await;
    let budget = app.config.settings().limits.token_max_chars;
    let mut auth = Auth::Bearer(app.create().await);
    for sku in ["TEE-100", "MUG-104", "CAP-102"] {
        let reply = app.add(&auth, sku, 1).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        auth = app.next_auth(&auth, &reply);
    }
    let full = app.get_cart(&auth).await;

    let reply = app.add(&auth, "SOCK-103", 1).await;
    reply.assert_problem(413, "cart_too_large");
    assert_eq!(reply.body["token_budget"], budget, "{}", reply.text);
    reply.assert_no_new_credential();
    let read = app.get_cart(&auth).await;
    assert_eq!((read.lines(), read.revision()), (full.lines(), 3));

    // A line that exists can still grow.
    let reply = app.add(&auth, "MUG-104", 1).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    // A merge that would need a fourth line is refused whole.
    let guest = app.add(&Auth::None, "LAMP-109", 1).await;
    let guest = guest.cookie_value("cart").unwrap();
    let reply = app.merge(&auth, &guest).await;
    reply.assert_problem(413, "cart_too_large");
    reply.assert_no_new_credential();
    let read = app.get_cart(&auth).await;
    assert_eq!(read.lines(), full.lines(), "the merge changed nothing");
}

#[tokio::test]
async fn a_write_whose_token_would_exceed_the_budget_is_413_with_the_room_left() {
    let budget = 600;
    let app = spawn_app_with(|s| s.limits.token_max_chars = budget).await;
    let created = app.send(Method::POST, "/cart", &Auth::None, None).await;
    let token = created.body["token"].as_str().unwrap().to_owned();
    assert!(token.len() < budget, "an empty cart fits: {}", token.len());
    let auth = Auth::Bearer(token.clone());

    let reply = app
        .add_with(&auth, "TEE-100", 1, &[("engraving", &noise(7, 256))])
        .await;
    reply.assert_problem(413, "cart_too_large");
    assert_eq!(reply.body["token_budget"], budget, "{}", reply.text);
    let needed = reply.body["token_length"]
        .as_u64()
        .expect("token_length in the body") as usize;
    assert!(needed > budget, "{}", reply.text);
    assert_eq!(
        reply.body["room_left"].as_u64(),
        Some((budget - token.len()) as u64),
        "room_left is the budget minus the current token: {}",
        reply.text
    );
    reply.assert_no_new_credential();
    let read = app.get_cart(&auth).await;
    assert_eq!((read.lines(), read.revision()), (vec![], 0));
}

// ---------------------------------------------------------------------------
// 422 cart_invalid, sku_unknown
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_well_formed_but_invalid_change_is_422_cart_invalid() {
    let app = spawn_app().await;
    let long_value = "v".repeat(257);
    let long_key = "k".repeat(33);
    let long_sku = "S".repeat(65);
    let six: serde_json::Map<String, serde_json::Value> =
        (0..6).map(|i| (format!("p{i}"), json!("x"))).collect();
    let cases: Vec<(&str, &str, serde_json::Value)> = vec![
        (
            "negative quantity",
            "/cart/items",
            json!({ "sku": "TEE-100", "quantity": -1 }),
        ),
        (
            "zero quantity",
            "/cart/items",
            json!({ "sku": "TEE-100", "quantity": 0 }),
        ),
        (
            "quantity over the limit",
            "/cart/items",
            json!({ "sku": "TEE-100", "quantity": 1000 }),
        ),
        (
            "quantity i64::MAX",
            "/cart/items",
            json!({ "sku": "TEE-100", "quantity": i64::MAX }),
        ),
        (
            "quantity i64::MIN",
            "/cart/items",
            json!({ "sku": "TEE-100", "quantity": i64::MIN }),
        ),
        (
            "a sum over the limit",
            "/cart/items",
            json!({ "sku": "TEE-100", "quantity": 998 }),
        ),
        (
            "a sku with a space",
            "/cart/items",
            json!({ "sku": "TEE 100" }),
        ),
        ("an empty sku", "/cart/items", json!({ "sku": "" })),
        ("a sku too long", "/cart/items", json!({ "sku": long_sku })),
        (
            "a sku with a slash",
            "/cart/items",
            json!({ "sku": "../TEE-100" }),
        ),
        (
            "too many properties",
            "/cart/items",
            json!({ "sku": "TEE-100", "properties": six }),
        ),
        (
            "a property key too long",
            "/cart/items",
            json!({ "sku": "TEE-100", "properties": { long_key: "x" } }),
        ),
        (
            "a property key with a space",
            "/cart/items",
            json!({ "sku": "TEE-100", "properties": { "gift wrap": "x" } }),
        ),
        (
            "a property value too long",
            "/cart/items",
            json!({ "sku": "TEE-100", "properties": { "note": long_value } }),
        ),
        (
            "a control character in a value",
            "/cart/items",
            json!({ "sku": "TEE-100", "properties": { "note": "a\nb" } }),
        ),
        (
            "patch: negative",
            "/cart/items/TEE-100",
            json!({ "quantity": -3 }),
        ),
        (
            "patch: over the limit",
            "/cart/items/TEE-100",
            json!({ "quantity": 1000 }),
        ),
        (
            "patch: i64::MAX",
            "/cart/items/TEE-100",
            json!({ "quantity": i64::MAX }),
        ),
    ];
    for bearer in [true, false] {
        let auth = client_with_cart(&app, bearer).await;
        for (what, path, body) in &cases {
            let method = if path.starts_with("/cart/items/") {
                Method::PATCH
            } else {
                Method::POST
            };
            let reply = app.send(method, path, &auth, Some(body.clone())).await;
            assert_eq!(
                (reply.status, reply.code()),
                (422, "cart_invalid"),
                "{what} (bearer: {bearer}): {}",
                reply.text
            );
            reply.assert_problem_shape();
            assert_cart_kept(&app, &auth, &reply, what).await;
        }
    }
}

#[tokio::test]
async fn a_sku_the_catalog_lacks_is_422_sku_unknown() {
    let app = spawn_app().await;
    for bearer in [true, false] {
        let auth = client_with_cart(&app, bearer).await;
        let reply = app.add(&auth, "NOPE-999", 1).await;
        reply.assert_problem(422, "sku_unknown");
        assert!(!reply.text.contains("NOPE-999"), "{}", reply.text);
        assert_cart_kept(&app, &auth, &reply, "unknown sku").await;
    }
}

#[tokio::test]
async fn without_a_catalog_any_well_formed_sku_is_accepted_without_prices() {
    let app = spawn_app_with(|s| s.catalog.file = String::new()).await;
    let reply = app.add(&Auth::None, "ANY-SKU.1", 2).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.lines(), vec![("ANY-SKU.1".to_owned(), 2)]);
    assert!(reply.body["items"][0]["unit_price"].is_null());
    assert!(reply.body["subtotal"].is_null());
}

// ---------------------------------------------------------------------------
// 431 header_too_large
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_oversized_cookie_or_authorization_is_431_before_any_decoding() {
    let app = spawn_app().await;
    let limit = app.config.settings().limits.header_max_bytes;
    let garbage = "A".repeat(9 * 1024);
    assert!(garbage.len() > limit);
    let cookie = format!("cart={garbage}");
    let bearer = format!("Bearer {garbage}");
    for (method, path, body) in [
        (Method::GET, "/cart", None),
        (Method::POST, "/cart/items", Some(r#"{"sku":"TEE-100"}"#)),
        (
            Method::PATCH,
            "/cart/items/TEE-100",
            Some(r#"{"quantity":2}"#),
        ),
        (Method::DELETE, "/cart/items/TEE-100", None),
        (Method::DELETE, "/cart", None),
        (Method::POST, "/cart/merge", Some(r#"{"token":"x"}"#)),
    ] {
        for header in [
            ("cookie", cookie.as_str()),
            ("authorization", bearer.as_str()),
        ] {
            let reply = app
                .raw(
                    method.clone(),
                    path,
                    &[header, ("content-type", "application/json")],
                    body,
                )
                .await;
            assert_eq!(
                (reply.status, reply.code()),
                (431, "header_too_large"),
                "{method} {path} with a 9 KB {}: a 431, not a 401: {}",
                header.0,
                reply.text
            );
            reply.assert_problem_shape();
            reply.assert_no_new_credential();
        }
    }
}

#[tokio::test]
async fn many_small_cookies_that_add_up_over_the_limit_are_431() {
    let app = spawn_app().await;
    let limit = app.config.settings().limits.header_max_bytes;
    let filler = format!("pad={}", "p".repeat(limit / 4));
    let headers: Vec<(&str, &str)> = (0..5).map(|_| ("cookie", filler.as_str())).collect();
    let reply = app.raw(Method::GET, "/cart", &headers, None).await;
    reply.assert_problem(431, "header_too_large");
}

// ---------------------------------------------------------------------------
// 503 store_unavailable
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_store_that_does_not_answer_is_503_store_unavailable_not_a_hang() {
    let port = free_port();
    let app = spawn_app_with(|s| {
        s.store.kind = StoreKind::Redis;
        s.redis.url = format!("redis://127.0.0.1:{port}");
        s.redis.timeout_ms = 200;
    })
    .await;
    let session_id = "AAAAAAAAAAAAAAAAAAAAAA".to_owned();
    let requests: Vec<(&str, Method, &str, Auth, Option<serde_json::Value>)> = vec![
        ("create", Method::POST, "/cart", Auth::None, None),
        (
            "first add",
            Method::POST,
            "/cart/items",
            Auth::None,
            Some(json!({ "sku": "TEE-100" })),
        ),
        (
            "bearer read",
            Method::GET,
            "/cart",
            Auth::Bearer(session_id.clone()),
            None,
        ),
        (
            "cookie read",
            Method::GET,
            "/cart",
            Auth::Cookie(session_id.clone()),
            None,
        ),
        (
            "bearer add",
            Method::POST,
            "/cart/items",
            Auth::Bearer(session_id.clone()),
            Some(json!({ "sku": "TEE-100" })),
        ),
    ];
    for (what, method, path, auth, body) in requests {
        // A hang guard only: the store's own timeout is 200 ms.
        let reply =
            tokio::time::timeout(Duration::from_secs(30), app.send(method, path, &auth, body))
                .await
                .unwrap_or_else(|_| panic!("{what}: the request hung"));
        reply.assert_problem(503, "store_unavailable");
        reply.assert_no_new_credential();
        assert!(
            !reply.text.contains(&port.to_string()),
            "{what}: no store address in the body: {}",
            reply.text
        );
    }
    let ready = app.send(Method::GET, "/readyz", &Auth::None, None).await;
    assert_eq!(ready.status, 503, "/readyz: {}", ready.text);
}

// ---------------------------------------------------------------------------
// No 500 anywhere
// ---------------------------------------------------------------------------

/// Throws garbage at every endpoint: nothing may answer 5xx, and every
/// error is a problem.
#[tokio::test]
async fn garbage_at_every_endpoint_never_gets_a_500() {
    let app = spawn_app().await;
    let good = client_with_cart(&app, true).await;
    let good = good.token().unwrap().to_owned();
    let endpoints: &[(Method, &str)] = &[
        (Method::GET, "/cart"),
        (Method::POST, "/cart"),
        (Method::DELETE, "/cart"),
        (Method::POST, "/cart/items"),
        (Method::PATCH, "/cart/items/TEE-100"),
        (Method::DELETE, "/cart/items/TEE-100"),
        (Method::PATCH, "/cart/items/%00%ff%2F..%2F"),
        (Method::DELETE, "/cart/items/%E2%82%AC"),
        (Method::POST, "/cart/merge"),
        (Method::GET, "/products"),
        (Method::GET, "/healthz"),
        (Method::GET, "/readyz"),
        (Method::GET, "/metrics"),
        (Method::GET, "/.well-known/jwks.json"),
        (Method::GET, "/openapi.json"),
        (Method::GET, "/"),
        (Method::OPTIONS, "/cart"),
        (Method::HEAD, "/cart"),
    ];
    let long_line = format!("/cart/items/{}", "L".repeat(4_000));
    let credentials: Vec<Vec<(&'static str, HeaderValue)>> = vec![
        vec![],
        vec![("authorization", HeaderValue::from_static("Bearer "))],
        vec![(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {}", tamper(&good))).unwrap(),
        )],
        vec![(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {good}.{good}")).unwrap(),
        )],
        vec![(
            "authorization",
            HeaderValue::from_static("Bearer v4.local.AAAA.eyJraWQiOiJrNC5saWQuQUFBQSJ9"),
        )],
        vec![(
            "authorization",
            HeaderValue::from_static("Bearer eyJhbGciOiJub25lIn0.eyJleHAiOjF9."),
        )],
        vec![(
            "authorization",
            HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )],
        vec![("cookie", HeaderValue::from_static("cart=%%%; cart=second"))],
        vec![(
            "cookie",
            HeaderValue::from_bytes(b"cart=\xff\xfe\xfd").unwrap(),
        )],
        vec![("cookie", HeaderValue::from_static("cart=\"quoted\""))],
        vec![("cookie", HeaderValue::from_static(";;;=;="))],
        vec![(
            "cookie",
            HeaderValue::from_str(&format!("cart={}", "A".repeat(3_800))).unwrap(),
        )],
    ];
    let bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
        (None, vec![]),
        (Some("application/json"), b"{".to_vec()),
        (Some("application/json"), b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec()),
        (Some("application/json"), br#"{"sku":"TEE-100","quantity":-9223372036854775808}"#.to_vec()),
        (Some("application/json"), br#"{"quantity":99999999999999999999999999}"#.to_vec()),
        (Some("application/json"), br#"{"token":"v4.local.AAAA"}"#.to_vec()),
        (Some("application/json"), br#"{"token":null,"sku":null,"quantity":null}"#.to_vec()),
        (Some("application/json"), b"\xff\xfe\x00\x00".to_vec()),
        (Some("application/json; charset=utf-16"), b"{}".to_vec()),
        (Some("text/plain"), b"hello".to_vec()),
        (Some("multipart/form-data; boundary=x"), b"--x--".to_vec()),
        (Some("application/json"), vec![b' '; 20_000]),
    ];
    let mut failures = Vec::new();
    let mut sent = 0;
    let mut paths: Vec<(Method, String)> = endpoints
        .iter()
        .map(|(m, p)| (m.clone(), (*p).to_owned()))
        .collect();
    paths.push((Method::PATCH, long_line.clone()));
    paths.push((Method::DELETE, long_line));
    for (method, path) in &paths {
        for credential in &credentials {
            for (content_type, body) in &bodies {
                let mut call = app.client.request(method.clone(), path);
                for (name, value) in credential {
                    call = call.header_value(name, value.clone());
                }
                if let Some(content_type) = content_type {
                    call = call.header("content-type", content_type);
                }
                if !body.is_empty() {
                    call = call.body(body.clone());
                }
                let reply = call.send().await;
                sent += 1;
                let problem_ok = reply.status < 400
                    || *method == Method::HEAD
                    || reply
                        .header("content-type")
                        .is_some_and(|c| c.starts_with("application/problem+json"));
                if reply.status >= 500 || !problem_ok {
                    failures.push(format!(
                        "{method} {} cred={:?} ct={content_type:?} body={:?} -> {} {:?} {}",
                        &path[..path.len().min(40)],
                        credential.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                        String::from_utf8_lossy(&body[..body.len().min(30)]),
                        reply.status,
                        reply.header("content-type"),
                        &reply.text[..reply.text.len().min(120)]
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} garbage requests got a 5xx or a non-problem error, for example:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}
