//! CSRF and CORS (DESIGN section 5).
//!
//! CSRF: cookie-mode writes follow the Fetch-Metadata/Origin rule of Go 1.25's
//! `CrossOriginProtection`; bearer requests are exempt (a browser never
//! attaches a bearer token by itself). CORS: exact configured origins only,
//! with credentials, `Vary: Origin` and `Cart-Token` exposed; never `*`,
//! never `null`, never a reflected origin.

use reqwest::Method;

use crate::helpers::{Auth, TestApp, spawn_app, spawn_app_with};

const SHOP: &str = "http://shop.example";

/// A browser holding a one-line cookie cart.
async fn browser_with_cart(app: &TestApp) -> String {
    let reply = app.add(&Auth::None, "TEE-100", 1).await;
    assert_eq!(reply.status, 200, "arrange: {}", reply.text);
    reply.cookie_value(app.cookie_name).expect("a cookie")
}

/// The writes a page can attempt, with their bodies.
fn writes() -> Vec<(Method, &'static str, Option<&'static str>)> {
    vec![
        (
            Method::POST,
            "/cart/items",
            Some(r#"{"sku":"MUG-104","quantity":1}"#),
        ),
        (
            Method::PATCH,
            "/cart/items/TEE-100",
            Some(r#"{"quantity":9}"#),
        ),
        (Method::DELETE, "/cart/items/TEE-100", None),
        (Method::DELETE, "/cart", None),
        (Method::POST, "/cart/merge", Some(r#"{"token":"x"}"#)),
    ]
}

/// Sends a cookie-mode write with `extra` headers (and JSON unless `extra`
/// sets a content type).
async fn cookie_write(
    app: &TestApp,
    cookie: &str,
    method: Method,
    path: &str,
    body: Option<&str>,
    extra: &[(&str, &str)],
) -> crate::helpers::Reply {
    let cookie = format!("{}={cookie}", app.cookie_name);
    let mut headers = vec![("cookie", cookie.as_str())];
    if !extra.iter().any(|(k, _)| *k == "content-type") && body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    headers.extend_from_slice(extra);
    app.raw(method, path, &headers, body).await
}

async fn assert_cart_unchanged(app: &TestApp, cookie: &str, what: &str) {
    let read = app.get_cart(&Auth::Cookie(cookie.to_owned())).await;
    assert_eq!(
        (read.status, read.lines(), read.revision()),
        (200, vec![("TEE-100".to_owned(), 1)], 1),
        "{what}: the cart is unchanged"
    );
}

// ---------------------------------------------------------------------------
// CSRF
// ---------------------------------------------------------------------------

#[tokio::test]
async fn cross_origin_cookie_writes_are_403_csrf_rejected_and_change_nothing() {
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![SHOP.into()]).await;
    let cookie = browser_with_cart(&app).await;
    let same_host = format!("127.0.0.1:{}", app.port);
    let lookalike = format!("http://127.0.0.1:{}.evil.example", app.port);
    let other_port = format!("http://127.0.0.1:{}", app.port.wrapping_add(1));
    let other_scheme_host = format!("ftp://{same_host}");
    let same_origin = format!("http://{same_host}");
    let refusals: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "Sec-Fetch-Site: cross-site",
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "Sec-Fetch-Site: same-site",
            vec![("sec-fetch-site", "same-site")],
        ),
        (
            "cross-site even with a same-origin Origin",
            vec![("sec-fetch-site", "cross-site"), ("origin", &same_origin)],
        ),
        ("a foreign Origin", vec![("origin", "https://evil.example")]),
        ("Origin: null", vec![("origin", "null")]),
        ("a look-alike Origin", vec![("origin", &lookalike)]),
        ("another port", vec![("origin", &other_port)]),
        ("another scheme", vec![("origin", &other_scheme_host)]),
        (
            "an allowed origin with a trailing slash",
            vec![("origin", "http://shop.example/")],
        ),
        (
            "an allowed origin's subdomain",
            vec![("origin", "http://evil.shop.example")],
        ),
    ];
    for (what, headers) in &refusals {
        for (method, path, body) in writes() {
            let reply = cookie_write(&app, &cookie, method.clone(), path, body, headers).await;
            reply.assert_problem(403, "csrf_rejected");
            reply.assert_no_new_credential();
            assert_cart_unchanged(&app, &cookie, &format!("{what}, {method} {path}")).await;
        }
    }
}

#[tokio::test]
async fn a_cookie_write_whose_body_is_not_json_is_403_csrf_rejected() {
    let app = spawn_app().await;
    let cookie = browser_with_cart(&app).await;
    // What an HTML form or a "simple" fetch can send without a preflight.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain; charset=application/json",
    ] {
        for (method, path, body) in writes() {
            let Some(body) = body else { continue };
            let reply = cookie_write(
                &app,
                &cookie,
                method.clone(),
                path,
                Some(body),
                &[("content-type", content_type)],
            )
            .await;
            reply.assert_problem(403, "csrf_rejected");
            reply.assert_no_new_credential();
            assert_cart_unchanged(&app, &cookie, &format!("{content_type}, {method} {path}")).await;
        }
    }
    // A body with no Content-Type at all is not JSON either.
    let reply = app
        .raw(
            Method::POST,
            "/cart/items",
            &[("cookie", &format!("cart={cookie}"))],
            Some(r#"{"sku":"MUG-104"}"#),
        )
        .await;
    reply.assert_problem(403, "csrf_rejected");
    assert_cart_unchanged(&app, &cookie, "no content type").await;
}

#[tokio::test]
async fn a_first_cookie_write_from_another_site_is_refused_too() {
    // No cookie yet: the write would start a cart the attacker picked.
    let app = spawn_app().await;
    let reply = app
        .raw(
            Method::POST,
            "/cart/items",
            &[
                ("content-type", "application/json"),
                ("origin", "https://evil.example"),
            ],
            Some(r#"{"sku":"TEE-100"}"#),
        )
        .await;
    reply.assert_problem(403, "csrf_rejected");
    reply.assert_no_new_credential();
}

#[tokio::test]
async fn same_origin_cookie_writes_pass() {
    let app = spawn_app().await;
    let origin = format!("http://127.0.0.1:{}", app.port);
    let passes: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("an Origin naming this host", vec![("origin", &origin)]),
        (
            "Sec-Fetch-Site: same-origin",
            vec![("sec-fetch-site", "same-origin")],
        ),
        (
            "same-origin metadata and Origin",
            vec![("sec-fetch-site", "same-origin"), ("origin", &origin)],
        ),
        (
            "Sec-Fetch-Site: none (typed by the user)",
            vec![("sec-fetch-site", "none")],
        ),
        ("no Origin, no metadata (not a browser)", vec![]),
    ];
    for (what, headers) in passes {
        let cookie = browser_with_cart(&app).await;
        let reply = cookie_write(
            &app,
            &cookie,
            Method::POST,
            "/cart/items",
            Some(r#"{"sku":"MUG-104"}"#),
            &headers,
        )
        .await;
        assert_eq!(reply.status, 200, "{what}: {}", reply.text);
        assert_eq!(
            reply.lines(),
            vec![("TEE-100".to_owned(), 1), ("MUG-104".to_owned(), 1)],
            "{what}"
        );
        assert!(
            reply.cookie(app.cookie_name).is_some(),
            "{what}: a new cookie"
        );
        let cookie = reply.cookie_value(app.cookie_name).unwrap();
        let reply = cookie_write(&app, &cookie, Method::DELETE, "/cart", None, &headers).await;
        assert_eq!(reply.status, 200, "{what}, DELETE /cart: {}", reply.text);
    }
}

#[tokio::test]
async fn a_configured_origin_may_write_with_the_cookie() {
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![SHOP.into()]).await;
    let cookie = browser_with_cart(&app).await;
    for headers in [
        vec![("origin", SHOP)],
        // The shop's own page on another site: Fetch Metadata says
        // cross-site, the allow-list says yes.
        vec![("origin", SHOP), ("sec-fetch-site", "cross-site")],
    ] {
        let reply = cookie_write(
            &app,
            &cookie,
            Method::PATCH,
            "/cart/items/TEE-100",
            Some(r#"{"quantity":2}"#),
            &headers,
        )
        .await;
        assert_eq!(reply.status, 200, "{headers:?}: {}", reply.text);
        assert_eq!(reply.lines(), vec![("TEE-100".to_owned(), 2)]);
    }
}

#[tokio::test]
async fn bearer_writes_are_exempt_from_the_csrf_rule() {
    let app = spawn_app().await;
    let token = app.create().await;
    let bearer = format!("Bearer {token}");
    let reply = app
        .raw(
            Method::POST,
            "/cart/items",
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            Some(r#"{"sku":"TEE-100"}"#),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.cart_token().is_some());
    assert!(reply.header("set-cookie").is_none());
}

#[tokio::test]
async fn reads_are_not_subject_to_the_csrf_rule() {
    let app = spawn_app().await;
    let cookie = browser_with_cart(&app).await;
    let reply = app
        .raw(
            Method::GET,
            "/cart",
            &[
                ("cookie", &format!("cart={cookie}")),
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply.header("access-control-allow-origin").is_none(),
        "but the foreign page cannot read the answer"
    );
}

// ---------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------

fn assert_vary_origin(reply: &crate::helpers::Reply, what: &str) {
    let vary: Vec<String> = reply
        .headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    assert!(
        vary.iter().any(|v| v == "origin"),
        "{what}: Vary must contain Origin, got {vary:?}"
    );
}

#[tokio::test]
async fn the_allowed_origin_gets_exact_cors_headers_with_credentials() {
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![SHOP.into()]).await;
    let token = app.create().await;
    for (what, method, path, body) in [
        ("read", Method::GET, "/cart", None),
        (
            "write",
            Method::POST,
            "/cart/items",
            Some(r#"{"sku":"TEE-100"}"#),
        ),
        ("catalog", Method::GET, "/products", None),
    ] {
        let bearer = format!("Bearer {token}");
        let reply = app
            .raw(
                method,
                path,
                &[
                    ("origin", SHOP),
                    ("authorization", &bearer),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await;
        assert_eq!(reply.status, 200, "{what}: {}", reply.text);
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some(SHOP),
            "{what}: the exact origin"
        );
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            Some("true"),
            "{what}"
        );
        assert_vary_origin(&reply, what);
        let exposed = reply
            .header("access-control-expose-headers")
            .unwrap_or("")
            .to_ascii_lowercase();
        assert!(
            exposed.split(',').any(|h| h.trim() == "cart-token"),
            "{what}: Cart-Token must be exposed, got {exposed:?}"
        );
    }
}

#[tokio::test]
async fn an_error_to_the_allowed_origin_is_readable_too() {
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![SHOP.into()]).await;
    let reply = app
        .raw(
            Method::GET,
            "/cart",
            &[("origin", SHOP), ("authorization", "Bearer garbage")],
            None,
        )
        .await;
    reply.assert_problem(401, "token_invalid");
    assert_eq!(reply.header("access-control-allow-origin"), Some(SHOP));
    assert_vary_origin(&reply, "401");
}

#[tokio::test]
async fn a_preflight_from_the_allowed_origin_is_answered() {
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![SHOP.into()]).await;
    for (method, path) in [
        ("POST", "/cart/items"),
        ("PATCH", "/cart/items/TEE-100"),
        ("DELETE", "/cart"),
        ("GET", "/cart"),
    ] {
        let reply = app
            .raw(
                Method::OPTIONS,
                path,
                &[
                    ("origin", SHOP),
                    ("access-control-request-method", method),
                    (
                        "access-control-request-headers",
                        "content-type, authorization",
                    ),
                ],
                None,
            )
            .await;
        assert!(
            (200..300).contains(&reply.status),
            "preflight {method} {path}: {} {}",
            reply.status,
            reply.text
        );
        assert_eq!(reply.header("access-control-allow-origin"), Some(SHOP));
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            Some("true")
        );
        let methods = reply
            .header("access-control-allow-methods")
            .unwrap_or("")
            .to_ascii_uppercase();
        assert!(
            methods.split(',').any(|m| m.trim() == method),
            "{method} must be allowed, got {methods:?}"
        );
        let headers = reply
            .header("access-control-allow-headers")
            .unwrap_or("")
            .to_ascii_lowercase();
        for needed in ["content-type", "authorization"] {
            assert!(
                headers.split(',').any(|h| h.trim() == needed),
                "{needed} must be allowed, got {headers:?}"
            );
        }
        assert_vary_origin(&reply, "preflight");
    }
}

#[tokio::test]
async fn a_foreign_or_null_origin_gets_no_cors_grant_and_never_a_wildcard() {
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![SHOP.into()]).await;
    let token = app.create().await;
    let bearer = format!("Bearer {token}");
    for origin in [
        "https://evil.example",
        "null",
        "http://shop.example.evil.example",
        "https://shop.example",
        "http://SHOP.EXAMPLE",
    ] {
        let reply = app
            .raw(
                Method::GET,
                "/cart",
                &[("origin", origin), ("authorization", &bearer)],
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "{origin}: {}", reply.text);
        assert!(
            reply.header("access-control-allow-origin").is_none(),
            "{origin}: no Access-Control-Allow-Origin, got {:?}",
            reply.header("access-control-allow-origin")
        );
        assert_vary_origin(&reply, origin);

        let preflight = app
            .raw(
                Method::OPTIONS,
                "/cart/items",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "content-type"),
                ],
                None,
            )
            .await;
        assert!(
            preflight.header("access-control-allow-origin").is_none(),
            "{origin}: a preflight grants nothing, got {:?}",
            preflight.header("access-control-allow-origin")
        );
        assert!(preflight.status < 500, "{origin}: {}", preflight.status);
        if preflight.status >= 400 {
            preflight.assert_problem_shape();
        }
    }
}

#[tokio::test]
async fn with_no_configured_origins_nobody_gets_a_cors_grant() {
    let app = spawn_app().await;
    for origin in ["https://evil.example", "null", SHOP] {
        let reply = app
            .raw(Method::GET, "/products", &[("origin", origin)], None)
            .await;
        assert_eq!(reply.status, 200);
        let allow = reply.header("access-control-allow-origin");
        assert!(allow.is_none(), "{origin}: got {allow:?}");
    }
    let reply = app.raw(Method::GET, "/products", &[], None).await;
    assert_ne!(reply.header("access-control-allow-origin"), Some("*"));
}
