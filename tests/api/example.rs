//! `examples/mobile_client.rs` against a spawned server: the example a
//! newcomer copies must keep working.
//!
//! The example is run through `cargo run --example` from the package root:
//! integration tests cannot name an example's binary, and `cargo test` has
//! already built it, so this only checks it is fresh and runs it.

use std::process::{Command, Output};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// Runs the example against `app`, off the test's runtime.
async fn run_example(app: &TestApp) -> Output {
    let url = app.address.clone();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO"))
            .args(["run", "--quiet", "--example", "mobile_client", "--", &url])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo runs")
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_mobile_client_example_runs_the_bearer_flow() {
    let app = spawn_app().await;
    let output = run_example(&app).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the example failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    for step in [
        "1. POST /cart",
        "2. GET /products",
        "3. POST /cart/items",
        "4. GET /cart",
        "5. PATCH /cart/items/",
        "6. POST /cart/merge",
        "7. GET /cart",
        "ok: the bearer flow works",
    ] {
        assert!(stdout.contains(step), "no {step:?} in:\n{stdout}");
    }
    assert!(
        !stdout.contains("v4.local."),
        "the example never prints a token:\n{stdout}"
    );
}

#[tokio::test]
async fn the_mobile_client_example_fails_loudly_on_an_unexpected_status() {
    // One line per cart: the example's second product is refused (413).
    let app = spawn_app_with(|s| s.limits.max_lines = 1).await;
    let output = run_example(&app).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the example must exit non-zero on a 413"
    );
    assert!(
        stderr.contains("expected 200 OK, got 413"),
        "it says what went wrong:\n{stderr}"
    );
}
