//! CSRF and CORS (docs/security.md, "Cross-site requests").
//!
//! CSRF: cookie-mode writes follow the Fetch-Metadata/Origin rule of Go 1.25's
//! `CrossOriginProtection`; bearer requests are exempt (a browser never
//! attaches a bearer token by itself). CORS: exact configured origins only,
//! with credentials, `Vary: Origin` and `Cart-Token` exposed; never `*`,
//! never `null`, never a reflected origin.

mod cors;
mod csrf;

use reqwest::Method;

use crate::helpers::{Auth, TestApp, WRITES, spawn_app, spawn_app_with};

const SHOP: &str = "http://shop.example";

/// A browser holding a one-line cookie cart.
async fn browser_with_cart(app: &TestApp) -> String {
    let reply = app.add(&Auth::None, "TEE-100", 1).await;
    assert_eq!(reply.status, 200, "arrange: {}", reply.text);
    reply.cookie_value(app.cookie_name).expect("a cookie")
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
