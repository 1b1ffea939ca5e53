//! The header, body and token-length limits of src/limits.rs, each at
//! its exact edge: the limit itself passes, one byte over fails.

use reqwest::Method;

use crate::helpers::{
    Auth, ConfigDir, Reply, TestApp, noise, raw_http, spawn_app, spawn_app_in, spawn_app_with,
};

// ---------------------------------------------------------------------------
// Cookie and Authorization headers
// ---------------------------------------------------------------------------

/// A `Cookie` header of exactly `len` bytes that carries `token` as the
/// cart cookie, padded with another cookie.
fn cookie_header_of(len: usize, name: &str, token: &str) -> String {
    let head = format!("{name}={token}; pad=");
    assert!(len > head.len(), "{len} cannot hold the token");
    let header = format!("{head}{}", "p".repeat(len - head.len()));
    assert_eq!(header.len(), len);
    header
}

/// An `Authorization` header of exactly `len` bytes: `Bearer`, spaces, the
/// token (RFC 7235 allows 1*SP between scheme and credentials).
fn authorization_of(len: usize, token: &str) -> String {
    let spaces = len - "Bearer".len() - token.len();
    let header = format!("Bearer{}{token}", " ".repeat(spaces));
    assert_eq!(header.len(), len);
    header
}

#[tokio::test]
async fn a_cookie_header_at_the_limit_passes_and_one_byte_over_is_431() {
    let app = spawn_app().await;
    let limit = app.config.settings().limits.header_max_bytes;
    let added = app.add(&Auth::None, "TEE-100", 3).await;
    let token = added.cookie_value("cart").unwrap();

    let at = cookie_header_of(limit, "cart", &token);
    let (read, write) = read_and_patch(&app, &at, 4).await;
    assert_eq!(read.status, 200, "{limit} bytes: {}", read.text);
    assert_eq!(read.lines(), vec![("TEE-100".to_owned(), 3)]);
    assert_eq!(write.status, 200, "a write at the limit: {}", write.text);

    let over = cookie_header_of(limit + 1, "cart", &token);
    let (read, write) = read_and_patch(&app, &over, 5).await;
    for refused in [read, write] {
        refused.assert_problem(431, "header_too_large");
        refused.assert_no_new_credential();
    }
}

/// `GET /cart`, then a `PATCH` of TEE-100 to `quantity`, each with the
/// `Cookie` header `cookie` as it is.
async fn read_and_patch(app: &TestApp, cookie: &str, quantity: u64) -> (Reply, Reply) {
    let headers = [("cookie", cookie), ("content-type", "application/json")];
    let read = app.raw(Method::GET, "/cart", &headers[..1], None).await;
    let body = format!(r#"{{"quantity":{quantity}}}"#);
    let write = app
        .raw(Method::PATCH, "/cart/items/TEE-100", &headers, Some(&body))
        .await;
    (read, write)
}

#[tokio::test]
async fn an_authorization_header_at_the_limit_passes_and_one_byte_over_is_431() {
    let app = spawn_app().await;
    let limit = app.config.settings().limits.header_max_bytes;
    let token = app.create().await;
    let added = app.add(&Auth::Bearer(token), "MUG-104", 2).await;
    let token = added.cart_token().unwrap();

    let at = authorization_of(limit, &token);
    let reply = app
        .raw(Method::GET, "/cart", &[("authorization", &at)], None)
        .await;
    assert_eq!(reply.status, 200, "{limit} bytes: {}", reply.text);
    assert_eq!(reply.lines(), vec![("MUG-104".to_owned(), 2)]);

    let over = authorization_of(limit + 1, &token);
    let reply = app
        .raw(Method::GET, "/cart", &[("authorization", &over)], None)
        .await;
    reply.assert_problem(431, "header_too_large");
    assert!(
        reply.header("www-authenticate").is_none(),
        "a 431 is not a 401"
    );
}

#[tokio::test]
async fn a_lowered_header_limit_applies_to_a_real_token_byte_for_byte() {
    // Issue a token, then serve it from replicas whose limit is exactly the
    // header's length, and one byte less.
    let issuer = spawn_app().await;
    let token = issuer.create().await;
    let header = format!("Bearer {token}");

    let exact = header.len();
    let app = spawn_app_in(ConfigDir::new(), |s| s.limits.header_max_bytes = exact).await;
    let reply = app.get_cart(&Auth::Bearer(token.clone())).await;
    assert_eq!(reply.status, 200, "header of {exact} bytes: {}", reply.text);

    let app = spawn_app_in(ConfigDir::new(), |s| s.limits.header_max_bytes = exact - 1).await;
    let reply = app.get_cart(&Auth::Bearer(token.clone())).await;
    reply.assert_problem(431, "header_too_large");
}

// ---------------------------------------------------------------------------
// JSON bodies
// ---------------------------------------------------------------------------

/// A valid add body of exactly `len` bytes (JSON allows trailing spaces).
fn add_body_of(len: usize) -> String {
    let body = r#"{"sku":"TEE-100","quantity":1}"#;
    format!("{body}{}", " ".repeat(len - body.len()))
}

#[tokio::test]
async fn a_body_at_the_limit_passes_and_one_byte_over_is_413() {
    let app = spawn_app().await;
    let limit = app.config.settings().limits.body_max_bytes;
    for bearer in [true, false] {
        let auth = if bearer {
            Auth::Bearer(app.create().await)
        } else {
            Auth::None
        };
        let reply = app
            .send_json_text(Method::POST, "/cart/items", &auth, add_body_of(limit))
            .await;
        assert_eq!(
            reply.status, 200,
            "{limit} bytes (bearer {bearer}): {}",
            reply.text
        );
        let auth = app.next_auth(&auth, &reply);

        let reply = app
            .send_json_text(Method::POST, "/cart/items", &auth, add_body_of(limit + 1))
            .await;
        reply.assert_problem(413, "payload_too_large");
        reply.assert_no_new_credential();
        let read = app.get_cart(&auth).await;
        assert_eq!(read.lines(), vec![("TEE-100".to_owned(), 1)]);
    }
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_413_too() {
    // No Content-Length to refuse up front: the limit holds while reading.
    let app = spawn_app().await;
    let limit = app.config.settings().limits.body_max_bytes;
    let token = app.create().await;
    let chunked = |len: usize| {
        let body = add_body_of(len);
        let mut request = format!(
            "POST /cart/items HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            app.port
        )
        .into_bytes();
        for chunk in body.as_bytes().chunks(1000) {
            request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            request.extend_from_slice(chunk);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
        request
    };

    let (status, text) = raw_http(app.port, &chunked(limit)).await;
    assert_eq!(status, 200, "chunked, {limit} bytes: {text}");

    let (status, text) = raw_http(app.port, &chunked(limit + 1)).await;
    assert_eq!(status, 413, "chunked, {} bytes: {text}", limit + 1);
    assert!(
        text.contains("payload_too_large") && text.contains("application/problem+json"),
        "{text}"
    );
    assert!(!text.to_ascii_lowercase().contains("cart-token:"), "{text}");
}

// ---------------------------------------------------------------------------
// Token length budget
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_token_at_the_exact_budget_works_and_one_char_over_is_refused() {
    // Arrange: a one-line cart (small enough to travel as plain JSON, so
    // that its token length does not change with a quantity from 2 to 3).
    let issuer = spawn_app().await;
    let created = issuer.create().await;
    let added = issuer.add(&Auth::Bearer(created), "TEE-100", 2).await;
    let token = added.cart_token().unwrap();
    let n = token.len();

    // A replica whose budget is exactly N: the token reads, is not re-issued,
    // and a write that keeps the length at N is issued.
    let at = spawn_app_in(ConfigDir::new(), |s| s.limits.token_max_chars = n).await;
    let auth = Auth::Bearer(token.clone());
    let read = at.get_cart(&auth).await;
    assert_eq!(read.status, 200, "budget {n}: {}", read.text);
    assert_eq!(read.lines(), vec![("TEE-100".to_owned(), 2)]);
    assert_eq!(read.body["token_length"], n);
    assert_eq!(read.body["token_budget"], n);
    assert!(read.cart_token().is_none());
    let again = at.get_cart(&auth).await;
    assert_eq!(again.status, 200, "the same token works again");
    let changed = at.set_quantity(&auth, "TEE-100", 3).await;
    assert_eq!(changed.status, 200, "budget {n}: {}", changed.text);
    let issued = changed.cart_token().unwrap();
    assert_eq!(issued.len(), n, "a token of exactly the budget is issued");

    // A replica whose budget is N-1: the token is over it, so it is not a
    // token this service issues.
    let under = spawn_app_in(ConfigDir::new(), |s| s.limits.token_max_chars = n - 1).await;
    let reply = under.get_cart(&auth).await;
    reply.assert_problem(401, "token_invalid");
    let reply = under.get_cart(&Auth::Cookie(token.clone())).await;
    reply.assert_problem(401, "token_invalid");

    // There, the same write from an empty cart would need N characters:
    // 413 cart_too_large, and the cart stays as it was.
    let empty = under.create().await;
    assert!(empty.len() < n);
    let empty_auth = Auth::Bearer(empty.clone());
    let refused = under.add(&empty_auth, "TEE-100", 2).await;
    refused.assert_problem(413, "cart_too_large");
    assert_eq!(refused.body["token_length"], n, "{}", refused.text);
    assert_eq!(refused.body["token_budget"], n - 1);
    assert_eq!(refused.body["room_left"], n - 1 - empty.len());
    refused.assert_no_new_credential();
    let read = under.get_cart(&empty_auth).await;
    assert_eq!(
        (read.status, read.lines(), read.revision()),
        (200, vec![], 0)
    );

    // In cookie mode too, and the browser keeps its cookie.
    let cookie = Auth::Cookie(empty);
    let refused = under.add(&cookie, "TEE-100", 2).await;
    refused.assert_problem(413, "cart_too_large");
    refused.assert_no_new_credential();
}

#[tokio::test]
async fn a_first_write_over_the_budget_issues_nothing() {
    let app = spawn_app_with(|s| s.limits.token_max_chars = 300).await;
    let reply = app
        .add_with(&Auth::None, "TEE-100", 1, &[("engraving", &noise(3, 256))])
        .await;
    reply.assert_problem(413, "cart_too_large");
    assert!(
        reply.body["room_left"].is_null(),
        "no token yet: {}",
        reply.text
    );
    reply.assert_no_new_credential();
}

#[tokio::test]
async fn a_cart_that_would_inflate_past_the_cap_is_413_and_the_cart_is_kept() {
    // The review's reproduction: lines with five 250-byte properties, similar
    // from line to line, compress into a short token whose cart inflates past
    // `limits.max_inflated_bytes`. Such a write must be refused, never sealed
    // into a token that the next request cannot open.
    let app = spawn_app_with(|s| s.catalog.file = String::new()).await;
    let value = |i: usize, p: usize| format!("{}{i}-{p}", "engraved text ".repeat(17));
    let mut auth = Auth::Bearer(app.create().await);
    let mut lines = 0;
    let refused = loop {
        assert!(lines < 100, "100 lines added, none refused");
        let values: Vec<String> = (0..5).map(|p| value(lines, p)).collect();
        let properties: Vec<(&str, &str)> = ["a", "b", "c", "d", "e"]
            .into_iter()
            .zip(values.iter().map(String::as_str))
            .collect();
        let reply = app
            .add_with(&auth, &format!("SKU-{lines}"), 1, &properties)
            .await;
        if reply.status != 200 {
            break reply;
        }
        lines += 1;
        auth = Auth::Bearer(reply.cart_token().expect("a new token"));
        // Every token a write hands out opens on the next request.
        let read = app.get_cart(&auth).await;
        assert_eq!(read.status, 200, "line {lines}: {}", read.text);
        assert_eq!(read.lines().len(), lines, "line {lines}");
    };
    refused.assert_problem(413, "cart_too_large");
    refused.assert_no_new_credential();
    assert!(lines >= 20, "only {lines} lines fitted: {}", refused.text);
    let kept = app.get_cart(&auth).await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(kept.lines().len(), lines, "the cart is as it was");
}
