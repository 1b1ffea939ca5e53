//! Reloading when the files change (`reload.watch`, src/http/watch.rs), on
//! the real binary, with no signal: an edit of config.toml, the `..data`
//! symlink swap with which the kubelet updates a mounted Secret or
//! ConfigMap, and a truncated key file or half-written config.toml, which
//! are refused while the running keys keep serving.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::rolling::metrics::count;
use super::{OLD, SIGNING, wait_until};
use crate::helpers::{BinaryServer, Client, ConfigDir, dev_local_kid, footer_kid, unique};

/// How long a change may take to be applied before the test gives up: the
/// issue's bound is 5 s; this is a hang guard, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// The replica's running keys, `(id, state)`, from `GET /keys` on its admin
/// listener.
async fn states(server: &BinaryServer) -> Vec<(String, String)> {
    let admin = Client::new(server.admin_url.clone().expect("an admin listener"));
    let reply = admin.get("/keys").send().await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["keys"]
        .as_array()
        .expect("a list of keys")
        .iter()
        .map(|k| {
            assert!(
                k.get("kid").and_then(Value::as_str).is_some(),
                "each key names its kid: {k}"
            );
            let fields: Vec<&String> = k.as_object().expect("an object").keys().collect();
            assert_eq!(
                fields,
                ["id", "kid", "purpose", "state"],
                "ids, kids, purposes and states, never material"
            );
            (
                k["id"].as_str().unwrap_or_default().to_owned(),
                k["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Waits until the replica runs `want` (id, state), or gives up.
async fn wait_for_states(server: &BinaryServer, want: &[(&str, &str)]) {
    let mut wanted: Vec<(String, String)> = want
        .iter()
        .map(|(id, state)| ((*id).to_owned(), (*state).to_owned()))
        .collect();
    wanted.sort();
    wait_until(
        PATIENCE,
        Duration::from_millis(50),
        async || {
            let mut have = states(server).await;
            have.sort();
            have == wanted
        },
        || {
            format!(
                "the replica never ran {wanted:?}; output:\n{}",
                server.output()
            )
        },
    )
    .await;
}

/// Waits until `cartseal_reloads_total{result}` reaches `n`.
async fn wait_for_reloads(server: &BinaryServer, result: &str, n: u64) {
    wait_until(
        PATIENCE,
        Duration::from_millis(50),
        async || {
            let metrics = server.metrics().await;
            count(&metrics, "cartseal_reloads_total", "result", result) >= n
        },
        || format!("no {n} {result} reloads; output:\n{}", server.output()),
    )
    .await;
}

/// The kid a fresh cart from this replica is sealed under.
async fn sealing_kid(server: &BinaryServer) -> String {
    let fresh = server.client().post("/cart").send().await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    footer_kid(&fresh.cart_token().expect("POST /cart issues a Cart-Token"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_config_reloads_the_keys_without_a_signal_and_says_what_changed() {
    let config = ConfigDir::new();
    let new = unique("watch");
    let new_kid = config.keygen_local(&new);
    let server = BinaryServer::spawn(&config, &[("RUST_LOG", "info")]);
    let metrics = server.metrics().await;
    for result in ["ok", "refused"] {
        assert!(
            metrics.contains(&format!("cartseal_reloads_total{{result=\"{result}\"}} 0")),
            "the reload counter exists from start-up, at 0:\n{metrics}"
        );
    }

    // Step 1, then step 2 of the runbook: each edit alone is applied.
    for (old, fresh) in [("active", "pending"), ("decrypt-only", "active")] {
        config.set_keys(&[
            (OLD, "local", old),
            (&new, "local", fresh),
            (SIGNING, "signing", "active"),
        ]);
        wait_for_states(&server, &[(OLD, old), (&new, fresh), (SIGNING, "active")]).await;
    }
    assert_eq!(sealing_kid(&server).await, new_kid);
    let output = server.output();
    assert!(
        output.contains(&format!(
            "reloaded keys and catalog on a file change: {new} added (pending)"
        )),
        "the log line names the key added and its state:\n{output}"
    );
    assert!(
        output.contains(&format!(
            "{OLD} active -> decrypt-only; {new} pending -> active"
        )) || output.contains(&format!(
            "{new} pending -> active; {OLD} active -> decrypt-only"
        )),
        "the log line names each state before and after:\n{output}"
    );
    let metrics = server.metrics().await;
    assert_eq!(
        count(&metrics, "cartseal_reloads_total", "result", "refused"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_key_file_or_a_half_written_config_is_refused_and_the_old_keys_keep_serving() {
    let config = ConfigDir::new();
    let new = unique("watch");
    config.keygen_local(&new);
    config.set_keys(&[
        (OLD, "local", "active"),
        (&new, "local", "pending"),
        (SIGNING, "signing", "active"),
    ]);
    let server = BinaryServer::spawn(&config, &[("RUST_LOG", "info")]);
    let running = [
        (OLD, "active"),
        (new.as_str(), "pending"),
        (SIGNING, "active"),
    ];
    let client = server.client();
    let held = client.post("/cart").send().await;
    let held = held.cart_token().expect("a token");

    // The new key's file, cut in half, as a copy interrupted mid-way.
    let key = config.path().join("keys").join(format!("{new}.paserk"));
    let whole = std::fs::read(&key).unwrap();
    write_private(&key, &whole[..whole.len() / 2]);
    wait_for_reloads(&server, "refused", 1).await;
    assert_eq!(sorted(states(&server).await), sorted_ref(&running));
    let output = server.output();
    assert!(
        output.contains("reload refused, keeping the running keys and catalog (a file change)")
            && output.contains(&new),
        "the log says the change was refused, and why:\n{output}"
    );
    // The old keys keep serving: the held cart opens, new carts seal.
    let read = client
        .get("/cart")
        .header("authorization", &format!("Bearer {held}"))
        .send()
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(sealing_kid(&server).await, dev_local_kid());

    // A config.toml cut off mid-way through a string.
    let toml = std::fs::read_to_string(config.config_path()).unwrap();
    let cut = toml.find("file = \"keys/").expect("a key file line") + 10;
    std::fs::write(config.config_path(), &toml[..cut]).unwrap();
    wait_for_reloads(&server, "refused", 2).await;
    assert_eq!(sorted(states(&server).await), sorted_ref(&running));
    assert_eq!(sealing_kid(&server).await, dev_local_kid());

    // Both written whole again: the next change is accepted.
    write_private(&key, &whole);
    std::fs::write(config.config_path(), &toml).unwrap();
    config.set_keys(&[
        (OLD, "local", "decrypt-only"),
        (&new, "local", "active"),
        (SIGNING, "signing", "active"),
    ]);
    wait_for_states(
        &server,
        &[(OLD, "decrypt-only"), (&new, "active"), (SIGNING, "active")],
    )
    .await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubelet_style_data_symlink_swap_of_the_secret_and_the_config_map_reloads_the_keys() {
    // /etc/cartseal is a ConfigMap volume and /etc/cartseal/keys a Secret
    // volume: each file is a symlink through `..data` to a timestamped
    // folder, which the kubelet replaces by renaming a new `..data` link
    // over the old one.
    let config = ConfigDir::new();
    let root = config.path();
    let keys = root.join("keys");
    let new = unique("k8s");
    let new_kid = config.keygen_local(&new);
    let key_files: Vec<String> = [OLD, SIGNING, &new]
        .iter()
        .map(|id| format!("{id}.paserk"))
        .collect();
    // The Secret holds the old keys only, at first.
    let contents: Vec<(String, Vec<u8>)> = key_files
        .iter()
        .map(|name| (name.clone(), std::fs::read(keys.join(name)).unwrap()))
        .collect();
    for name in &key_files {
        std::fs::remove_file(keys.join(name)).unwrap();
    }
    let toml = std::fs::read_to_string(config.config_path()).unwrap();
    std::fs::remove_file(config.config_path()).unwrap();
    let mut secret = Volume::new(&keys);
    secret.update(&contents[..2]);
    let mut config_map = Volume::new(root);
    config_map.update(&[("config.toml".into(), toml.clone().into_bytes())]);

    let server = BinaryServer::spawn(&config, &[("RUST_LOG", "info")]);
    wait_for_states(&server, &[(OLD, "active"), (SIGNING, "active")]).await;

    // 1. The new key lands in the Secret; the config does not name it.
    secret.update(&contents);
    // 2. The ConfigMap names it, pending; 3. then active.
    let entry = |state: &str| {
        format!(
            "\n[[keys]]\nid = \"{new}\"\npurpose = \"local\"\nfile = \"keys/{new}.paserk\"\nstate = \"{state}\"\n"
        )
    };
    config_map.update(&[(
        "config.toml".into(),
        format!("{toml}{}", entry("pending")).into_bytes(),
    )]);
    wait_for_states(
        &server,
        &[(OLD, "active"), (&new, "pending"), (SIGNING, "active")],
    )
    .await;
    let stepped = toml.replacen("state = \"active\"", "state = \"decrypt-only\"", 1);
    assert!(stepped.contains("id = \"dev-local-1\""));
    config_map.update(&[(
        "config.toml".into(),
        format!("{stepped}{}", entry("active")).into_bytes(),
    )]);
    wait_for_states(
        &server,
        &[(OLD, "decrypt-only"), (&new, "active"), (SIGNING, "active")],
    )
    .await;
    assert_eq!(sealing_kid(&server).await, new_kid);
    let metrics = server.metrics().await;
    assert_eq!(
        count(&metrics, "cartseal_reloads_total", "result", "refused"),
        0,
        "no step was refused; output:\n{}",
        server.output()
    );
}

/// A folder updated as the kubelet updates a Secret or ConfigMap volume.
struct Volume<'a> {
    dir: &'a Path,
    generation: u32,
}

impl<'a> Volume<'a> {
    fn new(dir: &'a Path) -> Self {
        Self { dir, generation: 0 }
    }

    /// Writes `files` into a fresh `..<generation>` folder, points
    /// `..data_tmp` at it and renames that over `..data` (the one atomic
    /// step), links each file name through `..data`, and removes the old
    /// folder.
    fn update(&mut self, files: &[(String, Vec<u8>)]) {
        use std::os::unix::fs::symlink;
        let old = format!("..2026_12_06_{}", self.generation);
        self.generation += 1;
        let new = format!("..2026_12_06_{}", self.generation);
        std::fs::create_dir(self.dir.join(&new)).unwrap();
        for (name, bytes) in files {
            write_private(&self.dir.join(&new).join(name), bytes);
        }
        let _ = std::fs::remove_file(self.dir.join("..data_tmp"));
        symlink(&new, self.dir.join("..data_tmp")).unwrap();
        std::fs::rename(self.dir.join("..data_tmp"), self.dir.join("..data")).unwrap();
        for (name, _) in files {
            let link = self.dir.join(name);
            if std::fs::symlink_metadata(&link).is_err() {
                symlink(format!("..data/{name}"), &link).unwrap();
            }
        }
        let _ = std::fs::remove_dir_all(self.dir.join(old));
    }
}

/// Writes a file with mode 0600, as a key file must be.
fn write_private(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

fn sorted(mut states: Vec<(String, String)>) -> Vec<(String, String)> {
    states.sort();
    states
}

fn sorted_ref(states: &[(&str, &str)]) -> Vec<(String, String)> {
    sorted(
        states
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect(),
    )
}
