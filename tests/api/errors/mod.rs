//! Every stable error code of the API (src/http/error.rs), as RFC 9457 problem+json:
//! at least one test per code, the 401 rules of each transport, "a refused
//! write never changes the cart the client holds", and no 500 anywhere.

mod cart;
mod credentials;
mod framework;
mod requests;
mod robustness;
mod sizes;

use std::time::Duration;

use cartseal::config::StoreKind;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::json;

use crate::helpers::{
    Auth, Reply, TestApp, WRITES, noise, spawn_app, spawn_app_on_a_dead_store, spawn_app_with,
    tamper,
};

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

/// A refused body: its problem+json, none of `data` (what the client sent)
/// echoed in it, and the cart kept.
async fn assert_refused_without_echo(
    app: &TestApp,
    auth: &Auth,
    refused: &Reply,
    what: &str,
    data: &[&str],
) {
    refused.assert_problem_shape();
    for echo in data {
        assert!(
            !refused.text.contains(echo),
            "{what}: the detail does not echo the client's {echo}: {}",
            refused.text
        );
    }
    assert_cart_kept(app, auth, refused, what).await;
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
