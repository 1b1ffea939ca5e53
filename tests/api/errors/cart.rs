//! Changes the cart refuses: 422 `cart_invalid` and `sku_unknown`.

use super::*;

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
