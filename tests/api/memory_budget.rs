//! The memory store's byte budget bounds the memory it holds: a stored cart
//! is weighed as the allocator holds it (`src/weight.rs`), so the
//! `cartseal_memory_store_bytes` gauge follows the process's resident
//! memory. Measured on the real binary, alone in its process: 1,200 anonymous
//! `POST /cart/merge` of a 100-line cart, each a new stored cart.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Auth, BinaryServer, Client, ConfigDir};

/// New carts measured, and merges before the measure (allocator pools,
/// lazy statics, the first connections). Resident memory moves in steps of
/// a few MiB as the allocator maps and returns its segments: with 300
/// carts (2.9 MB accounted) one step more or less swung the ratio from 0.75
/// to 2.18 between identical runs, so the test stores enough carts for the
/// steps to be small beside them.
const CARTS: usize = 1_200;
const WARM_UP: usize = 100;
/// Lines of the merged cart, each with two properties.
const LINES: usize = 100;

/// The resident set of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmRSS in kB");
    kib * 1024
}

/// The memory store's gauge.
async fn gauge(server: &BinaryServer) -> u64 {
    let metrics = server.metrics().await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("cartseal_memory_store_bytes "))
        .expect("the store reports its bytes")
        .trim()
        .parse::<f64>()
        .expect("a number") as u64
}

async fn merge(client: &Client, token: &str) {
    let reply = client
        .send(
            Method::POST,
            "/cart/merge",
            &Auth::None,
            Some(json!({ "token": token })),
        )
        .await;
    assert_eq!(reply.status, 200, "an anonymous merge: {}", reply.text);
}

#[tokio::test]
async fn resident_memory_grows_within_twice_what_the_store_accounts() {
    let config = ConfigDir::new();
    let server = BinaryServer::spawn(
        &config,
        &[
            ("CARTSEAL__STORE__KIND", "memory"),
            ("CARTSEAL__CATALOG__FILE", ""),
        ],
    );
    let client = server.client();

    // The cart every merge copies: 100 lines, two properties each.
    let mut auth = Auth::Bearer(
        client.post("/cart").send().await.body["token"]
            .as_str()
            .expect("a token")
            .to_owned(),
    );
    for i in 0..LINES {
        let body = json!({
            "sku": format!("SKU-{i:05}-BLK"),
            "properties": { "color": "black", "size": "M" },
        });
        let reply = client
            .send(Method::POST, "/cart/items", &auth, Some(body))
            .await;
        assert_eq!(reply.status, 200, "line {i}: {}", reply.text);
        if let Some(token) = reply.cart_token() {
            auth = Auth::Bearer(token);
        }
    }
    let source = auth.token().expect("a credential").to_owned();

    for _ in 0..WARM_UP {
        merge(&client, &source).await;
    }
    let (rss_before, gauge_before) = (rss(server.pid()), gauge(&server).await);
    for _ in 0..CARTS {
        merge(&client, &source).await;
    }
    let (rss_after, gauge_after) = (rss(server.pid()), gauge(&server).await);

    let grown = rss_after.saturating_sub(rss_before);
    let accounted = gauge_after - gauge_before;
    eprintln!(
        "{CARTS} carts of {LINES} lines: RSS grew {grown} bytes, the store accounts {accounted} \
         ({:.2}x)",
        grown as f64 / accounted as f64
    );
    assert!(accounted > 0, "the store accounts the new carts");
    assert!(
        grown <= 2 * accounted,
        "RSS grew {grown} bytes for {accounted} accounted: over 2x"
    );
}
