//! A line the catalog lacks is marked unavailable, and never silently left
//! out of a subtotal.

use serde_json::Value;

use crate::helpers::{Auth, spawn_app};

#[tokio::test]
async fn a_line_the_catalog_no_longer_has_is_unavailable_and_the_subtotal_is_null() {
    let app = spawn_app().await;
    let token = app.bearer_cart("TEE-100", 2).await;
    let second = app.add(&Auth::Bearer(token), "MUG-104", 1).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert!(
        second.body["subtotal"].as_u64().is_some(),
        "{}",
        second.text
    );
    assert!(
        second.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["available"] == Value::Bool(true))
    );
    let auth = Auth::Bearer(second.cart_token().expect("a token"));

    // The mug leaves the catalog on reload; the cart still holds it.
    let catalog = app.config.path().join("catalog/products.json");
    let products: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&catalog).unwrap()).unwrap();
    let kept: Vec<&Value> = products.iter().filter(|p| p["sku"] != "MUG-104").collect();
    std::fs::write(&catalog, serde_json::to_string(&kept).unwrap()).unwrap();
    app.reloader.reload().expect("the catalog reloads");

    let read = app.get_cart(&auth).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.body["item_count"], 3, "both lines are still counted");
    let items = read.body["items"].as_array().unwrap();
    let mug = items
        .iter()
        .find(|i| i["sku"] == "MUG-104")
        .expect("the mug");
    let tee = items
        .iter()
        .find(|i| i["sku"] == "TEE-100")
        .expect("the tee");
    assert_eq!(mug["available"], false, "{mug}");
    assert_eq!(mug["line_price"], Value::Null, "{mug}");
    assert_eq!(tee["available"], true, "{tee}");
    assert_eq!(
        read.body["subtotal"],
        Value::Null,
        "a subtotal that left the mug out would under-charge: {}",
        read.text
    );
}
