//! What the integration tests share: the server in this test's runtime
//! ([`spawn_app`]), the real binary ([`BinaryServer`]), the HTTP client and
//! its [`Reply`], config directories, Redis and Memcached targets, and small
//! helpers.

// Not every test module uses every helper.

mod app;
mod binary;
mod client;
mod config_dir;
mod memcached;
mod redis;
mod reply;
mod store;

use std::path::PathBuf;

use cartseal::config::Settings;
use reqwest::Method;
use serde_json::Value;

pub use app::{TestApp, spawn_app, spawn_app_in, spawn_app_on_a_dead_store, spawn_app_with};
pub use binary::BinaryServer;
pub use cartseal_kit::fixture::rfc3339;
pub use client::{Auth, Client};
pub use config_dir::ConfigDir;
pub use memcached::{MemcachedTarget, Raw as MemcachedConnection};
pub use redis::RedisTarget;
pub use reply::Reply;
pub use store::{Backend, StoreTarget};

/// Every write route of the API, with a JSON body it takes where it takes
/// one: what a rule over all writes (CSRF, header limits) is tried on.
pub const WRITES: [(Method, &str, Option<&str>); 5] = [
    (
        Method::POST,
        "/cart/items",
        Some(r#"{"sku":"MUG-104","quantity":1}"#),
    ),
    (
        Method::PATCH,
        "/cart/items/TEE-100",
        Some(r#"{"quantity":9}"#),
    ),
    (Method::DELETE, "/cart/items/TEE-100", None),
    (Method::DELETE, "/cart", None),
    (Method::POST, "/cart/merge", Some(r#"{"token":"x"}"#)),
];

/// The repository root, where config.toml, keys/ and catalog/ live.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A product of the shipped catalog.
#[derive(Debug)]
pub struct Product {
    pub sku: String,
    pub unit_price: u64,
}

/// catalog/products.json, in its order.
pub fn shipped_catalog() -> Vec<Product> {
    let path = repo().join("catalog/products.json");
    let raw =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let items: Vec<Value> = serde_json::from_str(&raw).expect("catalog is a JSON array");
    items
        .iter()
        .map(|p| Product {
            sku: p["sku"].as_str().expect("sku").to_owned(),
            unit_price: p["unit_price"].as_u64().expect("unit_price"),
        })
        .collect()
}

/// The key id in a PASETO token's footer: the last `.`-segment, base64url
/// of `{"kid":"k4.lid..."}`.
pub fn footer_kid(token: &str) -> String {
    use base64::Engine;
    let footer = token.rsplit('.').next().unwrap_or("");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(footer)
        .unwrap_or_else(|e| panic!("the footer of {token:?} is not base64url: {e}"));
    let value: Value = serde_json::from_slice(&json)
        .unwrap_or_else(|e| panic!("the footer of {token:?} is not JSON: {e}"));
    value["kid"]
        .as_str()
        .unwrap_or_else(|| panic!("no kid in the footer {value}"))
        .to_owned()
}

/// The kid of the shipped development local key.
pub fn dev_local_kid() -> String {
    let settings = Settings::load(&repo().join("config.toml")).expect("shipped config loads");
    let (ring, _) = settings.load_keyring().expect("shipped keyring loads");
    ring.active_local().material.kid().to_owned()
}

/// A unique label for keys and skus, so that tests sharing the process-wide
/// metrics registry never count each other's events.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `len` characters of `[A-Za-z0-9]` that do not compress: a deterministic
/// xorshift stream, so that failures reproduce.
pub fn noise(seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ALPHABET[(state % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// Sends raw bytes over one HTTP/1.1 connection (the request should say
/// `Connection: close`) and returns the status and the whole response text.
/// For requests reqwest will not build: chunked bodies, odd header bytes.
pub async fn raw_http(port: u16, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(request).await.expect("write request");
    let mut response = Vec::new();
    // The server may close before reading everything we sent; what it
    // answered is still in the buffer.
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    (status, text)
}

/// The token with one character in its middle changed: still well-formed,
/// no longer authentic.
pub fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("tokens are ASCII")
}
