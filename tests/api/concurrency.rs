//! 200 concurrent writers, each on its own bearer cart: none of their writes
//! is lost. Tokens hold the whole cart, so there is no shared state to
//! race on; this proves the server keeps it that way under load.

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::helpers::{Auth, TestApp, spawn_app};

const WRITERS: usize = 200;
const ADDS: usize = 5;
const SKUS: [&str; 5] = ["TEE-100", "HOOD-101", "CAP-102", "SOCK-103", "MUG-104"];

/// What writer `n` adds: `ADDS` adds over two or three skus, with
/// quantities that differ from writer to writer.
fn plan(n: usize) -> Vec<(&'static str, i64)> {
    (0..ADDS)
        .map(|i| (SKUS[(n + i % 3) % SKUS.len()], ((n + i) % 7 + 1) as i64))
        .collect()
}

/// The cart `plan(n)` must leave, in first-added order.
fn expected(n: usize) -> Vec<(String, u64)> {
    let mut lines: Vec<(String, u64)> = Vec::new();
    for (sku, quantity) in plan(n) {
        match lines.iter_mut().find(|(s, _)| s == sku) {
            Some((_, q)) => *q += quantity as u64,
            None => lines.push((sku.to_owned(), quantity as u64)),
        }
    }
    lines
}

/// Writer `n`: its own cart, its adds in order, each on the latest token.
async fn writer(app: Arc<TestApp>, n: usize) -> (usize, Auth) {
    let mut auth = Auth::Bearer(app.create().await);
    for (sku, quantity) in plan(n) {
        let reply = app.add(&auth, sku, quantity).await;
        assert_eq!(reply.status, 200, "writer {n}, add {sku}: {}", reply.text);
        auth = app.next_auth(&auth, &reply);
    }
    (n, auth)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_writers_on_separate_carts_lose_nothing() {
    let app = Arc::new(spawn_app().await);
    let mut writers = JoinSet::new();
    for n in 0..WRITERS {
        writers.spawn(writer(app.clone(), n));
    }
    let mut finished = Vec::new();
    let mut failures = Vec::new();
    while let Some(result) = writers.join_next().await {
        match result {
            Ok(done) => finished.push(done),
            // A writer's assertion, with its message (a spawned task's
            // panic is not captured by the test harness).
            Err(e) => failures.push(panic_message(e)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {WRITERS} writers failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    for (n, auth) in finished {
        let read = app.get_cart(&auth).await;
        assert_eq!(read.status, 200, "writer {n}: {}", read.text);
        assert_eq!(read.lines(), expected(n), "writer {n}'s cart");
        assert_eq!(
            read.revision(),
            ADDS as u64,
            "writer {n}: every add counted"
        );
    }
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "a panic without a message".into()),
        Err(e) => e.to_string(),
    }
}
