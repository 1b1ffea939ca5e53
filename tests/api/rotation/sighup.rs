//! The real binary rotating its keys on SIGHUP under load, refusing a broken
//! config, then draining on SIGTERM.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cartseal_kit::shopper::{Jar, Request, Shopper, Via};
use tokio::sync::Mutex;

use super::{OLD, SIGNING, wait_until};
use crate::helpers::{BinaryServer, Client, ConfigDir, dev_local_kid, footer_kid, unique};

/// What the load loop saw.
#[derive(Default)]
struct Load {
    completed: AtomicUsize,
    failures: Mutex<Vec<String>>,
}

/// One virtual user, an app with a bearer token: create, add, read,
/// change, over and over, until `stop`.
async fn virtual_user(client: Client, load: Arc<Load>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let mut shopper = Shopper::new(Jar::new(Via::Bearer, "cart"), client.clone());
        let steps = [
            (Request::create(), 201),
            (Request::add("TEE-100", 2, None), 200),
            (Request::read(), 200),
            (Request::set("TEE-100", 3), 200),
        ];
        for (request, status) in steps {
            let what = format!("{} {}", request.method, request.path);
            let failure = match shopper.call(&request).await {
                Ok(r) if r.status != status => Some(format!("{what}: {} {}", r.status, r.text)),
                Ok(_) if shopper.jar.token.is_none() => Some(format!("{what}: no Cart-Token")),
                Ok(_) => None,
                Err(e) => Some(format!("{what}: {e}")),
            };
            if let Some(failure) = failure {
                load.failures.lock().await.push(failure);
                break;
            }
            // The cart's creation is not one of the steps counted.
            if status == 200 {
                load.completed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Polls until a fresh cart's token carries `kid` (SIGHUP is asynchronous).
async fn wait_for_kid(client: &Client, server: &BinaryServer, kid: &str) {
    wait_until(
        BinaryServer::PATIENCE,
        Duration::from_millis(20),
        async || {
            let reply = client.post("/cart").send().await;
            let token = reply.cart_token().expect("POST /cart issues a Cart-Token");
            footer_kid(&token) == kid
        },
        || {
            format!(
                "the reload to {kid} never took effect; output:\n{}",
                server.output()
            )
        },
    )
    .await;
}

/// Waits until `count` lines of the server's output contain `needle`.
async fn wait_for_output(server: &BinaryServer, needle: &str, count: usize) {
    wait_until(
        BinaryServer::PATIENCE,
        Duration::from_millis(20),
        async || server.output().matches(needle).count() >= count,
        || format!("no {needle:?} in the output:\n{}", server.output()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rotates_keys_under_load_without_failing_a_request_and_sigterm_exits_cleanly() {
    let config = ConfigDir::new();
    let second = unique("hup");
    let third = unique("hup");
    let second_kid = config.keygen_local(&second);
    let third_kid = config.keygen_local(&third);
    config.set_keys(&[
        (OLD, "local", "active"),
        (&second, "local", "pending"),
        (&third, "local", "pending"),
        (SIGNING, "signing", "active"),
    ]);
    let shutdown = config.settings().server.shutdown_timeout_secs;
    // Signals alone: the watcher would reload each edit too, and count the
    // broken one twice.
    let mut server = BinaryServer::spawn(
        &config,
        &[("RUST_LOG", "info"), ("CARTSEAL__RELOAD__WATCH", "false")],
    );
    let client = server.client();
    wait_for_kid(&client, &server, &dev_local_kid()).await;

    let load = Arc::new(Load::default());
    let stop = Arc::new(AtomicBool::new(false));
    let users: Vec<_> = (0..8)
        .map(|_| tokio::spawn(virtual_user(client.clone(), load.clone(), stop.clone())))
        .collect();
    // Waits until the users have completed 100 more requests.
    let more_progress = || {
        let load = load.clone();
        let at_least = load.completed.load(Ordering::Relaxed) + 100;
        async move {
            let deadline = Instant::now() + BinaryServer::PATIENCE;
            while load.completed.load(Ordering::Relaxed) < at_least {
                assert!(Instant::now() < deadline, "the load makes no progress");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    more_progress().await;

    // Each change: the edit, SIGHUP, then the key fresh carts carry, and
    // more load.
    let reload = async |keys: &[(&str, &str, &str)], kid: &str| {
        config.set_keys(keys);
        server.signal("HUP");
        wait_for_kid(&client, &server, kid).await;
        more_progress().await;
    };
    // Step 2 to the second key, under load.
    reload(
        &[
            (OLD, "local", "decrypt-only"),
            (&second, "local", "active"),
            (&third, "local", "pending"),
            (SIGNING, "signing", "active"),
        ],
        &second_kid,
    )
    .await;
    // A broken config: refused, the running keys stay.
    reload(
        &[
            (OLD, "local", "active"),
            (&second, "local", "active"),
            (SIGNING, "signing", "active"),
        ],
        &second_kid,
    )
    .await;
    wait_for_output(&server, "reload refused", 1).await;
    // Then on to the third key.
    reload(
        &[
            (OLD, "local", "decrypt-only"),
            (&second, "local", "decrypt-only"),
            (&third, "local", "active"),
            (SIGNING, "signing", "active"),
        ],
        &third_kid,
    )
    .await;

    stop.store(true, Ordering::Relaxed);
    for user in users {
        user.await.expect("a virtual user panicked");
    }
    let failures = load.failures.lock().await;
    assert!(
        failures.is_empty(),
        "{} requests failed across the reloads (of {} completed), for example:\n{}",
        failures.len(),
        load.completed.load(Ordering::Relaxed),
        failures[..failures.len().min(10)].join("\n")
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(&format!("kid=\"{second}\"")),
        "tokens opened under {second} are counted:\n{metrics}"
    );
    assert!(
        metrics.contains("cartseal_reloads_total{result=\"refused\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("cartseal_reloads_total{result=\"ok\"} 2"),
        "{metrics}"
    );

    // SIGTERM: the server drains and exits 0 within its shutdown timeout
    // (plus slack for a loaded machine). Idle keep-alive connections would
    // be drained too; close ours first so that only the server is measured.
    drop(client);
    server.signal("TERM");
    let patience = Duration::from_secs(shutdown + 5);
    let status = server.wait_exit(patience).unwrap_or_else(|| {
        panic!(
            "no exit within {patience:?} of SIGTERM; output:\n{}",
            server.output()
        )
    });
    assert!(
        status.success(),
        "exit after SIGTERM: {status}; output:\n{}",
        server.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_as_soon_as_the_binary_says_it_listens_reloads_it() {
    // A script (or an orchestrator rolling a key out) reloads a replica as
    // soon as it reads the listening line. Until the SIGHUP handler is
    // installed, the signal's default action ends the process.
    let config = ConfigDir::new();
    let new = unique("hup");
    let new_kid = config.keygen_local(&new);
    // The signal alone: the watcher would reload the edit as well.
    let mut server = BinaryServer::spawn(&config, &[("CARTSEAL__RELOAD__WATCH", "false")]);
    config.set_keys(&[
        (OLD, "local", "decrypt-only"),
        (&new, "local", "active"),
        (SIGNING, "signing", "active"),
    ]);
    server.signal("HUP");
    let client = server.client();
    let deadline = Instant::now() + BinaryServer::PATIENCE;
    loop {
        if let Some(status) = server.wait_exit(Duration::from_millis(1)) {
            panic!(
                "the server died of a SIGHUP sent right after its listening line ({status}); output:\n{}",
                server.output()
            );
        }
        let reloads = server.metrics().await;
        if reloads.contains("cartseal_reloads_total{result=\"ok\"} 1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reload never happened:\n{reloads}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_for_kid(&client, &server, &new_kid).await;
}

/// A refused reload says in the log what `check-config` says: every
/// problem, one line each with its file and line, and a TOML syntax error
/// with its reason, not only its place (docs/key-rotation.md, "When a
/// config is refused").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_reload_logs_every_problem_with_its_place_and_reason() {
    let config = ConfigDir::new();
    let server = BinaryServer::spawn(&config, &[]);
    let client = server.client();
    let before = footer_kid(&client.post("/cart").send().await.cart_token().unwrap());
    let path = config.config_path();
    let good = std::fs::read_to_string(&path).unwrap();

    // Two keys wrong at once: two lines, each at its entry's file line.
    config.set_keys(&[
        (OLD, "local", "active"),
        ("gone", "local", "pending"),
        ("gone-too", "local", "pending"),
        (SIGNING, "signing", "active"),
    ]);
    let text = std::fs::read_to_string(&path).unwrap();
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    server.signal("HUP");
    wait_for_output(&server, "reload refused", 2).await;
    let output = server.output();
    let file = path.display();
    for id in ["gone", "gone-too"] {
        let expected = format!(
            "reload refused, keeping the running keys and catalog (SIGHUP): {file}:{}: key \"{id}\": cannot read",
            line(&format!("keys/{id}.paserk"))
        );
        assert!(output.contains(&expected), "{expected}\nin:\n{output}");
    }

    // A syntax error: the reason and the place in the log.
    std::fs::write(&path, format!("{good}\nbroken = \"unterminated\n")).unwrap();
    server.signal("HUP");
    wait_for_output(&server, "invalid basic string", 1).await;
    let output = server.output();
    let logged = output
        .lines()
        .find(|l| l.contains("invalid basic string"))
        .unwrap();
    assert!(
        logged.contains("reload refused") && logged.contains(&format!("{file}:")),
        "{logged}"
    );

    // The running keys stayed.
    let after = footer_kid(&client.post("/cart").send().await.cart_token().unwrap());
    assert_eq!(before, after);
}
