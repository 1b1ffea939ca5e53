//! `/metrics` is served on the admin listener only, and `/readyz` never
//! shows internal error text.

use cartseal::config::StoreKind;

use crate::helpers::{Auth, spawn_app, spawn_app_on_a_dead_store, spawn_app_with};

#[tokio::test]
async fn metrics_are_on_the_admin_listener_not_the_public_port() {
    let app = spawn_app().await;
    // A refusal, so that there is a per-reason count to hide.
    let refused = app
        .get_cart(&Auth::Bearer("v4.local.AAAA.AAAA".into()))
        .await;
    assert_eq!(refused.status, 401);

    let public = app.get("/metrics").send().await;
    public.assert_problem(404, "not_found");
    assert!(!public.text.contains("cartseal_token_rejections_total"));

    let admin = app.admin.get("/metrics").send().await;
    assert_eq!(admin.status, 200);
    assert!(
        admin.text.contains("cartseal_token_rejections_total"),
        "{}",
        admin.text
    );
    // The admin listener serves nothing else.
    app.admin
        .get("/cart")
        .send()
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn the_admin_listener_can_be_turned_off() {
    let app = spawn_app_with(|s| s.admin.enabled = false).await;
    app.get("/metrics")
        .send()
        .await
        .assert_problem(404, "not_found");
    assert_eq!(app.get("/healthz").send().await.status, 200);
}

/// The public port says ready or not, and nothing about what is behind it:
/// the store kind would tell a client which design, and which of its
/// weaknesses, it faces (docs/security.md, "Secrets stay out of logs,
/// errors and metrics").
#[tokio::test]
async fn readyz_says_ready_without_naming_the_store() {
    for kind in [StoreKind::Token, StoreKind::Memory, StoreKind::None] {
        let app = spawn_app_with(|s| s.store.kind = kind).await;
        let reply = app.get("/readyz").send().await;
        assert_eq!(reply.status, 200, "{kind:?}: {}", reply.text);
        assert_eq!(
            reply.body,
            serde_json::json!({ "status": "ready" }),
            "{kind:?}: only the status"
        );
        app.get("/store")
            .send()
            .await
            .assert_problem(404, "not_found");
        let admin = app.admin.get("/store").send().await;
        assert_eq!(
            (admin.status, &admin.body["kind"]),
            (200, &serde_json::json!(kind.as_str())),
            "{kind:?}: the admin listener names it: {}",
            admin.text
        );
    }
}

#[tokio::test]
async fn readyz_names_no_internal_error() {
    for kind in [StoreKind::Redis, StoreKind::Memcached] {
        let (app, port) = spawn_app_on_a_dead_store(kind).await;
        let reply = app.get("/readyz").send().await;
        reply.assert_problem(503, "not_ready");
        let port = port.to_string();
        for internal in [
            "redis",
            "memcached",
            "refused",
            "Refused",
            "127.0.0.1",
            &port,
            "ready:",
        ] {
            assert!(
                !reply.body["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(internal),
                "{kind:?}: the detail shows {internal:?}: {}",
                reply.text
            );
        }
    }
}
