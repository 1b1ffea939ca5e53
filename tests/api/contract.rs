//! The HTTP contract, checked by an outside tool: schemathesis generates
//! requests from `/openapi.json` and runs every check it has against the
//! answers (status codes, content types, headers and bodies as declared,
//! schema-valid requests accepted and schema-invalid ones refused, 405 with
//! `Allow` for undeclared methods, no 5xx). It runs twice, as a bearer
//! client and as a cookie client, each holding a cart, so that requests
//! reach past the credential checks.
//!
//! `scripts/test` installs schemathesis into a private virtualenv and names
//! it in `CARTSEAL_SCHEMATHESIS`; without it this test fails and says so.

use std::path::PathBuf;
use std::process::Command;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Auth, BinaryServer, repo};

/// The pinned schemathesis, from `CARTSEAL_SCHEMATHESIS`, or the one
/// `scripts/test` installs.
fn schemathesis() -> PathBuf {
    let path = std::env::var_os("CARTSEAL_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/contract-venv/bin/schemathesis"));
    assert!(
        path.exists(),
        "schemathesis is not installed at {}: run scripts/test, which installs it",
        path.display()
    );
    path
}

#[tokio::test]
async fn the_service_keeps_its_openapi_contract_for_bearer_and_cookie_clients() {
    let tool = schemathesis();
    // The shipped config, with its Secure cookie name, as in production.
    let server = BinaryServer::spawn_shipped(&[("CARTSEAL__COOKIE__SECURE", "true")]);
    let client = server.client();
    let created = client.send(Method::POST, "/cart", &Auth::None, None).await;
    let fresh = created.body["token"].as_str().expect("a token").to_owned();
    let added = client
        .send(
            Method::POST,
            "/cart/items",
            &Auth::Bearer(fresh),
            Some(json!({ "sku": "TEE-100", "quantity": 2 })),
        )
        .await;
    let token = added.cart_token().expect("a token holding TEE-100");

    let base = std::fs::read_to_string(repo().join("tests/contract/schemathesis.toml"))
        .expect("the contract config");
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut failures = Vec::new();
    for (client, auth) in [
        (
            "bearer",
            format!("[auth.openapi.bearer]\nbearer = \"{token}\"\n"),
        ),
        (
            "cookie",
            format!("[auth.openapi.cookie]\napi_key = \"{token}\"\n"),
        ),
    ] {
        let config = dir.path().join(format!("{client}.toml"));
        std::fs::write(&config, format!("{base}\n{auth}")).expect("write the config");
        let out = Command::new(&tool)
            .arg("--config-file")
            .arg(&config)
            .args(["run", &format!("{}/openapi.json", server.url)])
            .args(["--checks", "all", "--max-examples", "100", "--seed", "1"])
            // One worker: with two, hypothesis (a thread each) once failed
            // a run with its own "AST constructor recursion depth mismatch"
            // while describing a strategy, a race in the tool, not a
            // finding about the service.
            .args(["--workers", "1"])
            .env("CARTSEAL_CONTRACT_BEARER", &token)
            .env("NO_COLOR", "1")
            .current_dir(dir.path())
            .output()
            .expect("schemathesis runs");
        let text = String::from_utf8_lossy(&out.stdout);
        eprintln!("schemathesis, {client} client:\n{}", summary(&text));
        if !out.status.success() {
            failures.push(format!(
                "{client} client:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The lines of the run's summary worth keeping in the test log.
fn summary(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with('✅')
                || l.starts_with('❌')
                || l.contains("generated")
                || l.contains("Seed:")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
