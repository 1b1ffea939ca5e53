//! The routing key (src/http/route.rs): issued once with a client's first
//! credential, in the client's own transport, and kept across the cart's
//! writes, so that a load balancer hashing it sends the client to one
//! replica.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Auth, spawn_app, spawn_app_with};

fn is_key(text: &str) -> bool {
    text.len() == 22
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

#[tokio::test]
async fn a_browser_gets_a_route_cookie_with_its_first_cart_and_keeps_it() {
    let app = spawn_app().await;
    let first = app.add(&Auth::None, "TEE-100", 1).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let key = first
        .cookie_value("cart_route")
        .expect("the first write issues the routing key");
    assert!(is_key(&key), "{key:?}");
    let cookie = first.set_cookie("cart_route").expect("a Set-Cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(
        first.header("cart-route").is_none(),
        "a browser gets the cookie only"
    );

    // Sent back, it is not issued again: the key stays across writes.
    let auth = app.next_auth(&Auth::None, &first);
    let cart = auth.token().unwrap().to_owned();
    let second = app
        .request(Method::POST, "/cart/items")
        .cookie(app.cookie_name, &cart)
        .cookie("cart_route", &key)
        .json(&json!({ "sku": "MUG-104" }))
        .send()
        .await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert!(second.cookie_value(app.cookie_name).is_some());
    assert_eq!(
        second.cookie_value("cart_route"),
        None,
        "kept, not reissued"
    );

    // A malformed key is replaced.
    let auth = app.next_auth(&auth, &second);
    let third = app
        .request(Method::POST, "/cart/items")
        .cookie(app.cookie_name, auth.token().unwrap())
        .cookie("cart_route", "not a key")
        .json(&json!({ "sku": "MUG-104" }))
        .send()
        .await;
    assert_eq!(third.status, 200, "{}", third.text);
    assert!(third.cookie_value("cart_route").is_some_and(|k| is_key(&k)));
}

#[tokio::test]
async fn a_bearer_client_gets_the_route_header_and_sends_it_back() {
    let app = spawn_app().await;
    let created = app.send(Method::POST, "/cart", &Auth::None, None).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let key = created
        .header("cart-route")
        .expect("POST /cart issues the routing key")
        .to_owned();
    assert!(is_key(&key), "{key:?}");
    assert!(
        created.set_cookie("cart_route").is_none(),
        "a bearer client gets no cookie"
    );

    let token = created.body["token"].as_str().unwrap().to_owned();
    let added = app
        .request(Method::POST, "/cart/items")
        .auth(&Auth::Bearer(token.clone()))
        .header("Cart-Route", &key)
        .json(&json!({ "sku": "TEE-100" }))
        .send()
        .await;
    assert_eq!(added.status, 200, "{}", added.text);
    assert!(added.cart_token().is_some());
    assert_eq!(added.header("cart-route"), None, "kept, not reissued");

    // Without it, the next write hands one out.
    let bare = app
        .add(&Auth::Bearer(added.cart_token().unwrap()), "TEE-100", 1)
        .await;
    assert!(bare.header("cart-route").is_some_and(is_key));
}

#[tokio::test]
async fn the_route_header_is_allowed_and_exposed_across_origins() {
    let origin = "https://shop.example";
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![origin.into()]).await;
    let preflight = app
        .request(Method::OPTIONS, "/cart/items")
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, cart-route",
        )
        .send()
        .await;
    preflight.assert_header_lists("access-control-allow-headers", &["cart-route"], "preflight");
    let created = app
        .request(Method::POST, "/cart")
        .header("Origin", origin)
        .send()
        .await;
    created.assert_header_lists(
        "access-control-expose-headers",
        &["cart-route"],
        "POST /cart",
    );
}
