//! The operator's path through the command line (docs/key-rotation.md,
//! "Before you start" and section 0): a keygen entry that pastes into a
//! config in another folder as is, the first own keys made `active`,
//! `check-config --against-running` agreeing with the reload that follows,
//! two replicas on one machine, and start-up failures that say what failed.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use super::*;
use crate::helpers::{BinaryServer, Client, ConfigDir, unique};
use crate::process::ChildGuard;
use crate::rotation::count;

/// Appends `text` to the file at `path`, as `>>` does.
fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open for append");
    file.write_all(text.as_bytes()).expect("append");
}

#[test]
fn keygen_for_a_config_in_another_folder_prints_an_entry_that_pastes_as_is() {
    // The case: `keygen --dir p/keys` printed `p/keys/y.paserk`,
    // which p/config.toml then read as p/p/keys/y.paserk.
    let dir = tempfile::tempdir().expect("a temp dir");
    let p = dir.path().join("p");
    std::fs::create_dir_all(&p).unwrap();
    let config = ConfigDir::new();
    std::fs::copy(config.config_path(), p.join("config.toml")).unwrap();
    for sub in ["keys", "catalog"] {
        std::fs::create_dir_all(p.join(sub)).unwrap();
        for entry in std::fs::read_dir(config.path().join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), p.join(sub).join(entry.file_name())).unwrap();
        }
    }
    let made = keygen_for_p(dir.path(), "local", "y", &["--dir", "p/keys"]);
    let printed = stdout(&made);
    assert!(
        printed.contains("file = \"keys/y.paserk\""),
        "the path as p/config.toml reads it:\n{printed}"
    );
    append(&p.join("config.toml"), &format!("\n{printed}"));
    let checked = cartseal(
        dir.path(),
        &["check-config", "--config", "p/config.toml"],
        "",
    );
    assert!(
        checked.status.success(),
        "the pasted entry is accepted as is: {}{}",
        stdout(&checked),
        stderr(&checked)
    );
    assert!(stdout(&checked).contains("2 local"), "{}", stdout(&checked));

    // Without --dir, the key goes beside the config file.
    let made = keygen_for_p(dir.path(), "signing", "z", &[]);
    assert!(p.join("keys/z.paserk").exists());
    assert!(stdout(&made).contains("file = \"keys/z.paserk\""));
}

/// `keygen` for `p/config.toml`, run in `dir`, with `more` arguments; it
/// must succeed.
fn keygen_for_p(dir: &Path, purpose: &str, id: &str, more: &[&str]) -> Output {
    let args = [
        &[
            "keygen",
            "--config",
            "p/config.toml",
            "--purpose",
            purpose,
            "--id",
            id,
        ][..],
        more,
    ]
    .concat();
    let made = cartseal(dir, &args, "");
    assert!(made.status.success(), "{}", stderr(&made));
    made
}

#[test]
fn the_first_own_keys_printed_active_replace_the_development_keys() {
    // docs/key-rotation.md, section 0: keygen --active >> config.toml for
    // each purpose, and the development keys retired.
    let config = ConfigDir::new();
    let dir = config.path();
    for (purpose, id) in [("local", "shop-local-1"), ("signing", "shop-signing-1")] {
        let made = cartseal(
            dir,
            &[
                "keygen",
                "--config",
                "config.toml",
                "--purpose",
                purpose,
                "--id",
                id,
                "--active",
            ],
            "",
        );
        assert!(made.status.success(), "{}", stderr(&made));
        let printed = stdout(&made);
        let snippet: toml::Table = toml::from_str(&printed).expect("a TOML entry");
        let key = &snippet["keys"].as_array().expect("[[keys]]")[0];
        for field in ["id", "purpose", "file", "state", "kid"] {
            assert!(key.get(field).is_some(), "{field} in\n{printed}");
        }
        assert_eq!(key["state"].as_str(), Some("active"));
        append(&config.config_path(), &format!("\n{printed}"));
    }
    let pasted = cartseal(dir, &["check-config"], "");
    assert!(
        !pasted.status.success(),
        "two active keys per purpose until the development keys go"
    );
    assert!(
        stderr(&pasted).contains("two active local keys"),
        "{}",
        stderr(&pasted)
    );
    config.replace(
        "file = \"keys/dev-local-1.paserk\"\nstate = \"active\"",
        "file = \"keys/dev-local-1.paserk\"\nstate = \"retired\"",
    );
    config.replace(
        "file = \"keys/dev-signing-1.paserk\"\nstate = \"active\"",
        "file = \"keys/dev-signing-1.paserk\"\nstate = \"retired\"",
    );
    let checked = cartseal(dir, &["check-config"], "");
    assert!(
        checked.status.success(),
        "{}{}",
        stdout(&checked),
        stderr(&checked)
    );
    assert!(
        !stderr(&checked).contains("DEVELOPMENT key"),
        "no development key is in use any more: {}",
        stderr(&checked)
    );
}

/// `check-config --against-running URL` in `dir`, with the environment the
/// replica runs with.
fn check_against(config: &ConfigDir, admin: &str) -> Output {
    cartseal(
        config.path(),
        &["check-config", "--against-running", admin],
        "",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_against_the_running_replica_answers_what_sighup_then_does() {
    let config = ConfigDir::new();
    // No catalog and a plain cookie, as BinaryServer runs it, written into
    // the file so that check-config reads the same settings.
    config.replace("file = \"catalog/products.json\"", "file = \"\"");
    config.replace("secure = true", "secure = false");
    let server = BinaryServer::spawn(&config, &[("CARTSEAL__RELOAD__WATCH", "false")]);
    let admin = server.admin_url.clone().expect("an admin listener");

    // The case: a max_lines change passes the local check, and
    // the reload refuses it. Now both refuse it.
    config.replace("max_lines = 100", "max_lines = 50");
    let local = cartseal(config.path(), &["check-config"], "");
    assert!(local.status.success(), "the file alone is valid");
    let asked = check_against(&config, &admin);
    assert!(!asked.status.success(), "{}", stdout(&asked));
    assert!(
        stderr(&asked).contains("would be refused: limits.max_lines changed"),
        "{}",
        stderr(&asked)
    );
    server.signal("HUP");
    wait_for(&server, "refused", 1).await;
    let output = server.output();
    assert!(
        output.contains("reload refused") && output.contains("limits.max_lines changed"),
        "{output}"
    );

    // A valid change: both accept it, and name what changes.
    config.replace("max_lines = 50", "max_lines = 100");
    let new = unique("against");
    config.keygen_local(&new);
    append(
        &config.config_path(),
        &format!(
            "\n[[keys]]\nid = \"{new}\"\npurpose = \"local\"\nfile = \"keys/{new}.paserk\"\nstate = \"pending\"\n"
        ),
    );
    let asked = check_against(&config, &admin);
    assert!(asked.status.success(), "{}", stderr(&asked));
    assert!(
        stdout(&asked).contains(&format!("would be accepted: {new} added (pending)")),
        "{}",
        stdout(&asked)
    );
    let keys = Client::new(admin.clone()).get("/keys").send().await;
    assert!(
        !keys.text.contains(&new),
        "a check changes nothing: {}",
        keys.text
    );
    server.signal("HUP");
    wait_for(&server, "ok", 1).await;
    let keys = Client::new(admin.clone()).get("/keys").send().await;
    assert!(keys.text.contains(&new), "{}", keys.text);
    let metrics = server.metrics().await;
    assert_eq!(
        count(&metrics, "cartseal_reloads_total", "result", "refused"),
        1
    );
}

async fn wait_for(server: &BinaryServer, result: &str, n: u64) {
    let deadline = Instant::now() + BinaryServer::PATIENCE;
    while count(
        &server.metrics().await,
        "cartseal_reloads_total",
        "result",
        result,
    ) < n
    {
        assert!(Instant::now() < deadline, "{}", server.output());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `cartseal serve` in `config`'s folder with `args`, its output captured.
fn serve(config: &ConfigDir, args: &[&str]) -> ChildGuard {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cartseal"));
    command
        .env_clear()
        .current_dir(config.path())
        .arg("serve")
        .args(args);
    ChildGuard::spawn("cartseal", command)
}

/// A port nobody listens on, reserved by this test until it is dropped.
fn taken_port() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn a_bind_error_names_the_listener_and_the_address() {
    let config = ConfigDir::new();
    let (_held, port) = taken_port();
    for (listener, args) in [
        (
            "admin",
            vec![
                "--port".to_owned(),
                "0".to_owned(),
                "--admin-port".to_owned(),
                port.to_string(),
            ],
        ),
        (
            "public",
            vec![
                "--port".to_owned(),
                port.to_string(),
                "--admin-port".to_owned(),
                "0".to_owned(),
            ],
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut proc = serve(&config, &args);
        let status = proc
            .wait_exit(BinaryServer::PATIENCE)
            .expect("a start on a taken port exits");
        assert!(!status.success());
        std::thread::sleep(Duration::from_millis(100));
        let output = proc.output();
        assert!(
            output.contains(&format!(
                "cartseal: cannot listen on the {listener} address 127.0.0.1:{port}: Address already in use\n"
            )),
            "{output}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_run_on_one_machine_each_signalled_alone_by_its_pid_file() {
    // README, "Two replicas on one machine": one config, a port and an
    // admin port each, a pid file each.
    let config = ConfigDir::new();
    config.replace("secure = true", "secure = false");
    let mut replicas = Vec::new();
    for name in ["a", "b"] {
        let (held, port) = taken_port();
        let (admin_held, admin_port) = taken_port();
        drop((held, admin_held));
        let pid_file = config.path().join(format!("{name}.pid"));
        let args = [
            "--port".to_owned(),
            port.to_string(),
            "--admin-port".to_owned(),
            admin_port.to_string(),
            "--pid-file".to_owned(),
            pid_file.display().to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut proc = serve(&config, &args);
        let url = format!("http://127.0.0.1:{port}");
        // The pid file is written once both listeners are bound, before
        // the listening line.
        let pid_written = || {
            std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
                .is_some()
        };
        proc.wait_until(BinaryServer::PATIENCE, "listened", || {
            pid_written() && proc_listening(&url)
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .expect("the pid file")
            .trim()
            .parse()
            .expect("a pid");
        assert_eq!(pid, proc.pid(), "the pid file holds the replica's pid");
        replicas.push((proc, format!("http://127.0.0.1:{admin_port}"), pid_file));
    }
    // `kill -HUP "$(cat b.pid)"` reloads b alone.
    let status = Command::new("sh")
        .arg("-c")
        .arg("kill -HUP \"$(cat b.pid)\"")
        .current_dir(config.path())
        .status()
        .expect("sh runs");
    assert!(status.success());
    let reloads = |admin: String| async move {
        let metrics = Client::new(admin).text("/metrics").await;
        count(&metrics, "cartseal_reloads_total", "result", "ok")
    };
    let deadline = Instant::now() + BinaryServer::PATIENCE;
    while reloads(replicas[1].1.clone()).await < 1 {
        assert!(Instant::now() < deadline, "b never reloaded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        reloads(replicas[0].1.clone()).await,
        0,
        "a was not signalled"
    );
    for (proc, _, pid_file) in &mut replicas {
        proc.signal("TERM");
        let status = proc.wait_exit(BinaryServer::PATIENCE).expect("exits");
        assert!(status.success(), "{status}");
        assert!(!pid_file.exists(), "the pid file is removed on exit");
    }
}

fn proc_listening(url: &str) -> bool {
    let addr = url.trim_start_matches("http://");
    std::net::TcpStream::connect(addr).is_ok()
}

/// Sends SIGTERM to a fresh `cartseal serve` after `wait` and asserts that
/// it exits within a generous bound: no hang at any point of start-up.
fn terminate_during_start(config: &ConfigDir, env: &[(&str, &str)], wait: Duration) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cartseal"));
    command
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(config.path())
        .args(["serve", "--port", "0", "--admin-port", "0"]);
    let mut proc = ChildGuard::spawn("cartseal", command);
    std::thread::sleep(wait);
    if proc.exited().is_some() {
        panic!("it exited by itself: {}", proc.output());
    }
    proc.signal("TERM");
    // A hang guard, not a speed assertion.
    let exited = proc.wait_exit(Duration::from_secs(10));
    assert!(
        exited.is_some(),
        "no exit within 10 s of a SIGTERM {wait:?} into start-up ({env:?}); output:\n{}",
        proc.output()
    );
}

#[test]
fn a_sigterm_at_any_moment_of_start_up_ends_the_process() {
    let config = ConfigDir::new();
    // A Redis that accepts connections and never answers, and a port
    // nothing listens on: stores that are unreachable while start-up
    // connects.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!("redis://{}", silent.local_addr().unwrap());
    let (closed, closed_port) = taken_port();
    drop(closed);
    let memcached = format!("tcp://127.0.0.1:{closed_port}");
    let stores: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![
            ("CARTSEAL__STORE__KIND", "redis"),
            ("CARTSEAL__REDIS__URL", &silent_url),
        ],
        vec![
            ("CARTSEAL__STORE__KIND", "memcached"),
            ("CARTSEAL__MEMCACHED__URL", &memcached),
        ],
    ];
    for env in &stores {
        for ms in [0, 5, 20, 50, 150, 400, 1000] {
            terminate_during_start(&config, env, Duration::from_millis(ms));
        }
    }
    drop(silent);
}
