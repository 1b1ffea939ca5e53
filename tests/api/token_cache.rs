//! The verified-token cache as a client sees it (docs/security.md, "The
//! verified-token cache"): a read of a token this replica just issued is
//! served from the body the write rendered, and that body never outlives
//! the catalog it was priced against.

use crate::helpers::{Auth, Reply, TestApp, spawn_app};

/// The cache counters of the app's `/metrics`.
async fn hits_and_misses(app: &TestApp) -> (u64, u64) {
    // `/metrics` is the process's recorder.
    let metrics = app.metrics().await;
    let read = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (
        read("cartseal_token_cache_hits_total"),
        read("cartseal_token_cache_misses_total"),
    )
}

/// A cookie cart of one TEE-100, then `quantity` of `sku` added to it: the
/// credential that second write issued, and its answer (the body the cache
/// keeps).
async fn second_write(app: &TestApp, sku: &str, quantity: i64) -> (Auth, Reply) {
    let first = app.add(&Auth::None, "TEE-100", 1).await;
    let auth = app.next_auth(&Auth::None, &first);
    let written = app.add(&auth, sku, quantity).await;
    assert_eq!(written.status, 200, "{}", written.text);
    (app.next_auth(&auth, &written), written)
}

#[tokio::test]
async fn a_read_after_a_write_is_the_write_s_body_from_the_cache() {
    let app = spawn_app().await;
    let (auth, written) = second_write(&app, "MUG-104", 2).await;

    let (hits, _) = hits_and_misses(&app).await;
    let read = app.get_cart(&auth).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.text, written.text, "the same view, byte for byte");
    assert_eq!(
        read.header("content-type"),
        Some("application/json"),
        "a kept body keeps its type"
    );
    let again = app.get_cart(&auth).await;
    assert_eq!(again.text, written.text);
    // The counters are the process's, shared with tests running at once:
    // they can only have grown by more. (The unit tests in
    // src/token/tests/cache.rs count decryptions exactly.)
    let (hits_after, _) = hits_and_misses(&app).await;
    assert!(hits_after >= hits + 2, "both reads were hits");
}

#[tokio::test]
async fn a_catalog_reload_is_never_hidden_by_a_kept_body() {
    let app = spawn_app().await;
    let (auth, written) = second_write(&app, "TEE-100", 1).await;
    assert_eq!(written.body["items"][0]["unit_price"], 2400);
    let read = app.get_cart(&auth).await;
    assert_eq!(read.body["items"][0]["unit_price"], 2400);

    let path = app.config.path().join("catalog/products.json");
    let mut products: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for product in products.as_array_mut().unwrap() {
        if product["sku"] == "TEE-100" {
            product["unit_price"] = 2500.into();
        }
    }
    std::fs::write(&path, serde_json::to_vec(&products).unwrap()).unwrap();
    app.reloader.reload().expect("the reload is accepted");

    let read = app.get_cart(&auth).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(
        read.body["items"][0]["unit_price"], 2500,
        "the new price, not the kept body: {}",
        read.text
    );
    assert_eq!(read.body["subtotal"], 5000);
}
