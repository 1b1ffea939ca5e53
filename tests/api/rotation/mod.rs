//! Key rotation through HTTP (docs/key-rotation.md): the staged states
//! (`pending` → `active` → `decrypt-only` → `retired`), reload through the
//! [`Reloader`](cartseal::http::Reloader) that SIGHUP drives, a refused
//! reload that keeps the running keyring, the per-kid metric, and the real
//! binary reloading on SIGHUP under load and draining on SIGTERM, and the
//! runbook walked across replicas behind nginx under load (`rolling`).

mod rolling;
mod sighup;
mod watch;

pub(crate) use rolling::metrics::count;

use std::time::{Duration, Instant};

use crate::helpers::{
    Auth, Client, ConfigDir, TestApp, dev_local_kid, footer_kid, spawn_app_in, unique,
};

const OLD: &str = "dev-local-1";
const SIGNING: &str = "dev-signing-1";

/// Polls `done` every `every` until it holds; after `patience` (a hang
/// guard, not a timing assertion) the test fails with `what`.
async fn wait_until(
    patience: Duration,
    every: Duration,
    mut done: impl AsyncFnMut() -> bool,
    what: impl Fn() -> String,
) {
    let deadline = Instant::now() + patience;
    while !done().await {
        assert!(Instant::now() < deadline, "{}", what());
        tokio::time::sleep(every).await;
    }
}

/// A replica's running keys, `(id, state)` sorted, from `GET /keys` on its
/// admin listener `admin`.
async fn running_keys(admin: &str) -> Vec<(String, String)> {
    let reply = Client::new(admin).get("/keys").send().await;
    let mut keys: Vec<(String, String)> = reply.body["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .map(|k| {
                    (
                        k["id"].as_str().unwrap_or_default().to_owned(),
                        k["state"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    keys.sort();
    keys
}

/// Writes the keyring: the old dev key in `old`, a new key in `new`.
fn stage(config: &ConfigDir, old: &str, new_id: &str, new: &str) {
    config.set_keys(&[
        (OLD, "local", old),
        (new_id, "local", new),
        (SIGNING, "signing", "active"),
    ]);
}

/// Breaks a config directory's config; the `&str` is the new key's id.
type Breakage = fn(&ConfigDir, &str);

/// A replica at rotation step 1 (the new key `pending`), and the new key's
/// config id and kid.
async fn replica_at_step_one() -> (TestApp, String, String) {
    let config = ConfigDir::new();
    let new_id = unique("rot");
    let new_kid = config.keygen_local(&new_id);
    stage(&config, "active", &new_id, "pending");
    (spawn_app_in(config, |_| {}).await, new_id, new_kid)
}

/// One bearer cart and one cookie cart, sealed under the active key.
async fn carts(app: &TestApp) -> [Auth; 2] {
    let mut out = Vec::new();
    for start in [Auth::Bearer(app.create().await), Auth::None] {
        let reply = app.add(&start, "TEE-100", 2).await;
        assert_eq!(reply.status, 200, "arrange: {}", reply.text);
        out.push(app.next_auth(&start, &reply));
    }
    out.try_into().unwrap()
}

#[tokio::test]
async fn a_rotation_step_by_step_re_seals_old_tokens_then_refuses_them() {
    let (app, new_id, new_kid) = replica_at_step_one().await;
    let old_kid = dev_local_kid();

    // Step 1: the new key is pending; tokens are still sealed under the old.
    let old_tokens = carts(&app).await;
    for auth in &old_tokens {
        assert_eq!(footer_kid(auth.token().unwrap()), old_kid, "{auth:?}");
    }

    // Step 2: the new key seals; the old one only opens, and what it opens
    // is re-sealed under the new key on that response.
    stage(&app.config, "decrypt-only", &new_id, "active");
    app.reloader.reload().expect("step 2 reloads");
    let mut resealed = Vec::new();
    for auth in &old_tokens {
        let read = app.get_cart(auth).await;
        assert_eq!(read.status, 200, "{auth:?}: {}", read.text);
        assert_eq!(read.lines(), vec![("TEE-100".to_owned(), 2)]);
        assert_eq!(read.revision(), 1, "a re-seal is not a write");
        let token = app
            .issued(auth, &read)
            .unwrap_or_else(|| panic!("{auth:?}: an old-key token is re-sealed on GET"));
        assert_eq!(footer_kid(&token), new_kid, "re-sealed under the new key");
        if let Auth::Cookie(_) = auth {
            read.cookie("cart").unwrap().assert_cart_attributes(false);
            assert!(read.cart_token().is_none());
        } else {
            assert!(read.header("set-cookie").is_none());
        }
        resealed.push(app.next_auth(auth, &read));
    }
    for auth in &resealed {
        let read = app.get_cart(auth).await;
        assert_eq!(read.status, 200);
        assert!(
            app.issued(auth, &read).is_none(),
            "an active-key token is not re-sealed again"
        );
    }
    let fresh = app.create().await;
    assert_eq!(footer_kid(&fresh), new_kid, "new carts use the new key");
    let written = app.add(&old_tokens[0], "MUG-104", 1).await;
    assert_eq!(written.status, 200, "{}", written.text);
    assert_eq!(footer_kid(&written.cart_token().unwrap()), new_kid);

    // Step 3: the old key is retired; its tokens are refused.
    stage(&app.config, "retired", &new_id, "active");
    app.reloader.reload().expect("step 3 reloads");
    let [bearer, cookie] = &old_tokens;
    let reply = app.get_cart(bearer).await;
    reply.assert_problem(401, "token_invalid");
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    let reply = app.get_cart(cookie).await;
    reply.assert_problem(401, "token_invalid");
    assert_eq!(reply.cookie("cart").unwrap().max_age(), Some(0));
    for auth in &resealed {
        let read = app.get_cart(auth).await;
        assert_eq!(read.status, 200, "re-sealed tokens outlive the old key");
    }

    // Operators see which key opened what.
    let metrics = app.metrics().await;
    let opened = |id: &str| {
        metrics.lines().any(|l| {
            l.starts_with("cartseal_tokens_opened_total{") && l.contains(&format!("kid=\"{id}\""))
        })
    };
    assert!(
        opened(&new_id),
        "no tokens_opened line for {new_id}:\n{metrics}"
    );
    assert!(opened(OLD), "no tokens_opened line for {OLD}:\n{metrics}");
}

#[tokio::test]
async fn a_replica_at_step_one_accepts_tokens_sealed_under_its_pending_key() {
    // A rolling deploy: replica B has moved to step 2 while replica A is
    // still at step 1. A must open B's tokens, and never seal with the key
    // it holds as pending.
    let (a, new_id, new_kid) = replica_at_step_one().await;
    let b_config = ConfigDir::new();
    b_config.copy_key_from(&a.config, &new_id);
    stage(&b_config, "decrypt-only", &new_id, "active");
    let b = spawn_app_in(b_config, |_| {}).await;
    let old_kid = dev_local_kid();

    let [bearer, cookie] = carts(&b).await;
    for auth in [&bearer, &cookie] {
        assert_eq!(footer_kid(auth.token().unwrap()), new_kid);
        let read = a.get_cart(auth).await;
        assert_eq!(read.status, 200, "{auth:?}: {}", read.text);
        assert_eq!(read.lines(), vec![("TEE-100".to_owned(), 2)]);
        if let Some(token) = a.issued(auth, &read) {
            assert_eq!(footer_kid(&token), old_kid, "a pending key never seals");
        }
        let written = a.add(auth, "MUG-104", 1).await;
        assert_eq!(written.status, 200, "{auth:?}: {}", written.text);
        let token = a.issued(auth, &written).expect("a write issues a token");
        assert_eq!(footer_kid(&token), old_kid, "a pending key never seals");
    }
}

#[tokio::test]
async fn a_reload_with_an_invalid_keyring_is_refused_and_the_old_one_keeps_serving() {
    let (app, new_id, _new_kid) = replica_at_step_one().await;
    let old_kid = dev_local_kid();
    let [bearer, cookie] = carts(&app).await;
    let good = std::fs::read_to_string(app.config.config_path()).unwrap();

    // Each breaks the config in its own way; `new_id` names the new key.
    let breakages: [(&str, Breakage); 5] = [
        ("two active local keys", |c, new_id| {
            stage(c, "active", new_id, "active")
        }),
        ("no active local key", |c, new_id| {
            stage(c, "decrypt-only", new_id, "pending")
        }),
        ("a missing key file", |c, _| {
            stage(c, "active", "never-generated", "pending")
        }),
        ("a config that does not parse", |c, _| {
            std::fs::write(c.config_path(), "[[keys]\nthis is not toml").unwrap()
        }),
        ("an unknown option", |c, _| {
            c.replace("[limits]", "[limits]\nmax_lines_typo = 3")
        }),
    ];
    for (what, break_config) in breakages {
        break_config(&app.config, &new_id);
        let refused = app.reloader.reload();
        assert!(refused.is_err(), "{what}: the reload must be refused");
        let reason = refused.unwrap_err().to_string();
        assert!(!reason.is_empty(), "{what}: a reason is given");
        assert!(
            !reason.contains("k4.local."),
            "{what}: the reason never quotes key material: {reason}"
        );

        // The running keyring is untouched: old tokens open, new ones are
        // sealed under the same active key.
        for auth in [&bearer, &cookie] {
            let read = app.get_cart(auth).await;
            assert_eq!(read.status, 200, "{what}, {auth:?}: {}", read.text);
            assert!(
                app.issued(auth, &read).is_none(),
                "{what}: nothing to re-seal"
            );
        }
        assert_eq!(footer_kid(&app.create().await), old_kid, "{what}");
        std::fs::write(app.config.config_path(), &good).unwrap();
    }
    app.reloader
        .reload()
        .expect("the good config reloads again");
}

#[tokio::test]
async fn the_tokens_opened_metric_counts_by_key() {
    let (app, new_id, _) = replica_at_step_one().await;
    stage(&app.config, "decrypt-only", &new_id, "active");
    app.reloader.reload().expect("reloads");
    let token = app.create().await;
    let count = |metrics: &str| -> f64 {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("cartseal_tokens_opened_total{")
                    && l.contains(&format!("kid=\"{new_id}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let before = count(&app.metrics().await);
    for _ in 0..3 {
        let read = app.get_cart(&Auth::Bearer(token.clone())).await;
        assert_eq!(read.status, 200);
    }
    let after = count(&app.metrics().await);
    assert_eq!(after - before, 3.0, "three opens under {new_id}");
}

/// The `cartseal_tokens_opened_total` sample labelled `kid` and `cart_kid`.
fn opened(metrics: &str, kid: &str, cart_kid: &str) -> f64 {
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix("cartseal_tokens_opened_total{"))
        .filter_map(|l| l.split_once("} "))
        .find(|(labels, _)| {
            let mut labels: Vec<&str> = labels.split(',').collect();
            labels.sort_unstable();
            labels == [format!("cart_kid=\"{cart_kid}\""), format!("kid=\"{kid}\"")]
        })
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn in_the_jwt_format_opened_tokens_are_counted_by_signing_key_and_by_cart_key() {
    // A rotation of the cart key alone leaves the signing key, the `kid`
    // label, as it was: only `cart_kid` shows which cart key opens what.
    let config = ConfigDir::new();
    config.replace("format = \"paseto\"", "format = \"jwt\"");
    let new_id = unique("rot");
    config.keygen_local(&new_id);
    stage(&config, "active", &new_id, "pending");
    let app = spawn_app_in(config, |_| {}).await;
    let old_token = app.create().await;
    stage(&app.config, "decrypt-only", &new_id, "active");
    app.reloader.reload().expect("step 2 reloads");

    let before = app.metrics().await;
    let read = app.get_cart(&Auth::Bearer(old_token)).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let new_token = read
        .cart_token()
        .expect("an old cart key's token is re-sealed");
    for _ in 0..2 {
        let read = app.get_cart(&Auth::Bearer(new_token.clone())).await;
        assert_eq!(read.status, 200, "{}", read.text);
    }
    let after = app.metrics().await;
    let opened_since =
        |cart_kid: &str| opened(&after, SIGNING, cart_kid) - opened(&before, SIGNING, cart_kid);
    assert_eq!(
        opened_since(OLD),
        1.0,
        "one open under the old cart key:\n{after}"
    );
    assert_eq!(
        opened_since(&new_id),
        2.0,
        "two under the new one:\n{after}"
    );
}
