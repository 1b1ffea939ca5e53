//! A reload applies whole or not at all: a change that only a restart can
//! apply is refused, named, and counted.

use crate::helpers::{Auth, ConfigDir, spawn_app_in, spawn_app_with};

fn refused_reloads(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("cartseal_reloads_total{result=\"refused\"} "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

#[tokio::test]
async fn switching_the_jwt_algorithm_by_reload_is_refused_and_every_cart_keeps_working() {
    // The review's reproduction: EdDSA to HS256 by SIGHUP validated the new
    // keys against HS256 while the codec kept signing EdDSA, and every cart
    // then failed on its next request.
    let config = ConfigDir::new();
    config.replace("format = \"paseto\"", "format = \"jwt\"");
    let app = spawn_app_in(config, |_| {}).await;
    app.reloader
        .reload()
        .expect("the running config reloads as it is");
    let added = app.add(&Auth::None, "TEE-100", 1).await;
    let cookie = Auth::Cookie(added.cookie_value(app.cookie_name).expect("a cookie"));
    let before = refused_reloads(&app.metrics().await);

    app.config.keygen_local("hs-secret");
    app.config
        .replace("jwt_algorithm = \"EdDSA\"", "jwt_algorithm = \"HS256\"");
    app.config.replace(
        "file = \"keys/dev-signing-1.paserk\"",
        "file = \"keys/hs-secret.paserk\"",
    );
    app.config.replace(
        "kid = \"k4.pid.dYseaIZ-QJ7XAGqmSaEmHU5CNE5noWayS8_1wkjbOMN-\"",
        "",
    );
    let refused = app
        .reloader
        .reload()
        .expect_err("the algorithm is not reloadable");
    let reason = refused.to_string();
    assert!(
        reason.contains("token.jwt_algorithm") && reason.contains("restart"),
        "{reason}"
    );
    assert_eq!(refused_reloads(&app.metrics().await), before + 1, "counted");

    let read = app.get_cart(&cookie).await;
    assert_eq!(read.status, 200, "the cart still opens: {}", read.text);
    let more = app.add(&cookie, "MUG-104", 1).await;
    assert_eq!(more.status, 200, "and still changes: {}", more.text);
}

#[tokio::test]
async fn cors_origins_and_limits_are_not_reloaded_silently() {
    let app = spawn_app_with(|_| {}).await;
    app.config.replace(
        "allowed_origins = []",
        "allowed_origins = [\"https://shop.example\"]",
    );
    app.config.replace("max_lines = 100", "max_lines = 5");
    let reason = app.reloader.reload().expect_err("refused").to_string();
    assert!(
        reason.contains("cors.allowed_origins") && reason.contains("limits.max_lines"),
        "{reason}"
    );
}
