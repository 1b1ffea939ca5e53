//! Sizes over the limits: 413 `payload_too_large` and `cart_too_large`,
//! 431 `header_too_large`.

use super::*;

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
    let read = (Method::GET, "/cart", None);
    for (method, path, body) in std::iter::once(read).chain(WRITES) {
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
