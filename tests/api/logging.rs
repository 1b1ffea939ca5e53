//! The logs and the metrics never hold a token, a cookie, an Authorization
//! value or cart contents (docs/security.md, "Secrets stay out of logs, errors and metrics").
//!
//! The real binary runs with `RUST_LOG=debug` (every debug line of every
//! crate, the service's own included) and its stdout and stderr are
//! captured. A flow with distinctive skus and property values, refused
//! tokens and merges runs through it; then not one of those strings may
//! appear in the output or in `/metrics`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Auth, BinaryServer, Client, ConfigDir, Reply, tamper};

const SKU_A: &str = "ZZSECRETSKU-7731";
const SKU_B: &str = "YYSECRETSKU-8842";
const ENGRAVING: &str = "SECRET-ENGRAVING-123";
const PROPERTY_KEY: &str = "secretkey-9971";
const BAD_BEARER: &str = "BADBEARER-SECRET-4410";
const BAD_COOKIE: &str = "BADCOOKIE-SECRET-5520";
const BAD_MERGE: &str = "BADMERGE-SECRET-6630";
const HUGE_COOKIE: &str = "HUGECOOKIE-SECRET-7740";

/// A client of the black-box server that remembers every credential it
/// saw or sent.
struct Recorder {
    client: Client,
    credentials: Vec<String>,
}

impl Recorder {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        auth: &Auth,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> Reply {
        let mut call = self.client.request(method, path).auth(auth);
        for (name, value) in headers {
            call = call.header(name, value);
        }
        if let Some(body) = body {
            call = call.json(&body);
        }
        let reply = call.send().await;
        if let Some(token) = reply.cart_token() {
            self.credentials.push(token);
        }
        if let Some(token) = reply.body["token"].as_str() {
            self.credentials.push(token.to_owned());
        }
        for cookie in reply.set_cookies() {
            if !cookie.value.is_empty() {
                self.credentials.push(cookie.value);
            }
        }
        reply
    }

    async fn plain(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> Reply {
        self.send(method, path, &Auth::None, headers, body).await
    }

    /// A request with a credential and no other header.
    async fn authed(
        &mut self,
        method: Method,
        path: &str,
        auth: Auth,
        body: Option<Value>,
    ) -> Reply {
        self.send(method, path, &auth, &[], body).await
    }
}

/// One request of a table: method, path, credential, headers and body.
type Request = (
    Method,
    String,
    Auth,
    Vec<(&'static str, String)>,
    Option<Value>,
);

/// Drives every kind of request that handles a secret.
async fn drive(client: &mut Recorder) {
    let engraved =
        json!({ "sku": SKU_A, "quantity": 2, "properties": { PROPERTY_KEY: ENGRAVING } });

    // SPA: a cookie cart with an engraved line.
    let added = client
        .plain(Method::POST, "/cart/items", &[], Some(engraved.clone()))
        .await;
    assert_eq!(added.status, 200, "{}", added.text);
    let mut cookie = added.cookie_value("cart").unwrap();
    let line_a = added.line_of(SKU_A);
    let read = client
        .authed(Method::GET, "/cart", Auth::Cookie(cookie.clone()), None)
        .await;
    assert_eq!(read.status, 200);
    let changed = client
        .authed(
            Method::PATCH,
            &format!("/cart/items/{line_a}"),
            Auth::Cookie(cookie.clone()),
            Some(json!({ "quantity": 3 })),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    cookie = changed.cookie_value("cart").unwrap();

    // Mobile: a bearer cart, then the cookie cart merged into it.
    let created = client.plain(Method::POST, "/cart", &[], None).await;
    let mut bearer = created.body["token"].as_str().unwrap().to_owned();
    let added = client
        .authed(
            Method::POST,
            "/cart/items",
            Auth::Bearer(bearer.clone()),
            Some(json!({ "sku": SKU_B, "properties": { "engraving": ENGRAVING } })),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.text);
    bearer = added.cart_token().unwrap();
    let merged = client
        .authed(
            Method::POST,
            "/cart/merge",
            Auth::Bearer(bearer.clone()),
            Some(json!({ "token": cookie })),
        )
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    bearer = merged.cart_token().unwrap();
    let line_b = merged.line_of(SKU_B);
    let removed = client
        .authed(
            Method::DELETE,
            &format!("/cart/items/{line_b}"),
            Auth::Bearer(bearer.clone()),
            None,
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    bearer = removed.cart_token().unwrap();

    // Refusals, each of which handles a secret on its way to the error.
    let tampered = tamper(&bearer);
    client.credentials.push(tampered.clone());
    let bearer_auth = Auth::Bearer(bearer.clone());
    let cookie_with = |value: String| vec![("cookie", format!("cart={value}"))];
    let refusals: Vec<Request> = vec![
        (
            Method::GET,
            "/cart".into(),
            Auth::Bearer(BAD_BEARER.into()),
            vec![],
            None,
        ),
        (
            Method::GET,
            "/cart".into(),
            Auth::Bearer(tampered.clone()),
            vec![],
            None,
        ),
        (
            Method::GET,
            "/cart".into(),
            Auth::Cookie(BAD_COOKIE.into()),
            vec![],
            None,
        ),
        (
            Method::POST,
            "/cart/merge".into(),
            bearer_auth.clone(),
            vec![],
            Some(json!({ "token": BAD_MERGE })),
        ),
        (
            Method::POST,
            "/cart/merge".into(),
            bearer_auth.clone(),
            vec![],
            Some(json!({ "token": tampered })),
        ),
        (
            Method::GET,
            "/cart".into(),
            Auth::None,
            [
                cookie_with(cookie.clone()),
                vec![("authorization", format!("Bearer {bearer}"))],
            ]
            .concat(),
            None,
        ),
        (
            Method::GET,
            "/cart".into(),
            Auth::None,
            cookie_with(format!("{HUGE_COOKIE}{}", "x".repeat(9000))),
            None,
        ),
        (
            Method::POST,
            "/cart/items".into(),
            Auth::None,
            [
                cookie_with(cookie.clone()),
                vec![("origin", "https://evil.example".into())],
            ]
            .concat(),
            Some(engraved.clone()),
        ),
        (
            Method::POST,
            "/cart/items".into(),
            bearer_auth.clone(),
            vec![],
            Some(json!({ "sku": SKU_A, "quantity": ENGRAVING })),
        ),
        (
            Method::PATCH,
            format!("/cart/items/{line_a}-{ENGRAVING}"),
            bearer_auth.clone(),
            vec![],
            Some(json!({ "quantity": 1 })),
        ),
        (
            Method::GET,
            format!("/no/{SKU_A}/{ENGRAVING}"),
            bearer_auth,
            vec![],
            None,
        ),
    ];
    for (method, path, auth, headers, body) in refusals {
        let reply = client.send(method, &path, &auth, &headers, body).await;
        assert!(
            reply.status >= 400,
            "a refusal: {} {}",
            reply.status,
            reply.text
        );
    }
}

#[tokio::test]
async fn logs_and_metrics_never_hold_tokens_cookies_authorization_or_cart_contents() {
    let config = ConfigDir::new();
    // No catalog: any well-formed sku is accepted, so the skus can be
    // distinctive strings that appear nowhere else.
    config.replace("file = \"catalog/products.json\"", "file = \"\"");
    let mut server = BinaryServer::spawn(&config, &[("RUST_LOG", "debug")]);
    let mut client = Recorder {
        client: server.client(),
        credentials: Vec::new(),
    };

    drive(&mut client).await;
    let metrics = server.metrics().await;
    let credentials = std::mem::take(&mut client.credentials);
    drop(client);
    server.signal("TERM");
    server
        .wait_exit(BinaryServer::PATIENCE)
        .expect("the server exits on SIGTERM");
    let log = server.output();

    // The log is not trivially clean: it has request lines and debug lines.
    assert!(
        log.contains("POST /cart/items 200") && log.contains("/cart/items/{line}"),
        "one line per request, by route pattern:\n{log}"
    );
    assert!(log.contains("DEBUG"), "RUST_LOG=debug took effect:\n{log}");
    assert!(credentials.len() >= 6, "{credentials:?}");

    let mut secrets: Vec<String> = [
        SKU_A,
        SKU_B,
        ENGRAVING,
        PROPERTY_KEY,
        BAD_BEARER,
        BAD_COOKIE,
        BAD_MERGE,
        HUGE_COOKIE,
        "Bearer",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for credential in &credentials {
        secrets.push(credential.clone());
        // A part of a token is as bad as the whole: every 24-character
        // window of its payload, a few characters apart.
        let payload = credential.trim_start_matches("v4.local.");
        let bytes = payload.len();
        let mut at = 0;
        while at + 24 <= bytes {
            secrets.push(payload[at..at + 24].to_owned());
            at += 8;
        }
    }
    for (place, text) in [("the log", &log), ("/metrics", &metrics)] {
        let leaks: Vec<&String> = secrets
            .iter()
            .filter(|s| text.contains(s.as_str()))
            .collect();
        assert!(
            leaks.is_empty(),
            "{place} holds secrets {:?}\n---\n{text}",
            leaks.iter().take(5).collect::<Vec<_>>()
        );
    }
}
