//! CSRF: the Fetch-Metadata/Origin rule on cookie-mode writes.

use super::*;

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
        for (method, path, body) in WRITES {
            let reply = cookie_write(&app, &cookie, method.clone(), path, body, headers).await;
            reply.assert_problem(403, "csrf_rejected");
            reply.assert_no_new_credential();
            assert_cart_unchanged(&app, &cookie, &format!("{what}, {method} {path}")).await;
        }
    }
}

#[tokio::test]
async fn a_cookie_write_whose_body_is_not_json_is_415_and_changes_nothing() {
    let app = spawn_app().await;
    let cookie = browser_with_cart(&app).await;
    // What an HTML form or a "simple" fetch can send without a preflight.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain; charset=application/json",
    ] {
        for (method, path, body) in WRITES {
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
            reply.assert_problem(415, "unsupported_media_type");
            reply.assert_no_new_credential();
            assert_cart_unchanged(&app, &cookie, &format!("{content_type}, {method} {path}")).await;
        }
    }
    // A body with no Content-Type at all is not JSON either.
    let reply = app
        .raw_add(&[("cookie", &format!("cart={cookie}"))], "MUG-104")
        .await;
    reply.assert_problem(415, "unsupported_media_type");
    assert_cart_unchanged(&app, &cookie, "no content type").await;
}

#[tokio::test]
async fn a_first_cookie_write_from_another_site_is_refused_too() {
    // No cookie yet: the write would start a cart the attacker picked.
    let app = spawn_app().await;
    let reply = app
        .raw_add(
            &[
                ("content-type", "application/json"),
                ("origin", "https://evil.example"),
            ],
            "TEE-100",
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
        .raw_add(
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            "TEE-100",
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
