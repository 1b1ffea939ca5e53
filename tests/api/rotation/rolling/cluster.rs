//! The cluster of the rolling rotation tests: replicas of the binary behind
//! nginx (round robin), each with its own config directory, and the keys
//! of one rotation, made on a machine of their own and copied to a replica
//! when its config first names them.

use std::process::Command;
use std::time::{Duration, Instant};

use cartseal_kit::cluster;
use cartseal_kit::process::Service;

use super::super::{running_keys, wait_until};
use super::REPLICAS;
use super::metrics::{Opens, count, token_kids};
use crate::helpers::{BinaryServer, Client, ConfigDir, unique};
use crate::process::Routing;

/// The token format under rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PASETO v4.local: one local key per token.
    Paseto,
    /// A JWT (EdDSA) whose cart claim is encrypted: a signing key and a
    /// local key per token, both rotating.
    Jwt,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paseto => "paseto",
            Self::Jwt => "jwt",
        }
    }
}

/// Where a replica stands in the runbook of docs/key-rotation.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Only the old keys, active.
    Before,
    /// Step 1: the new keys `pending`.
    Pending,
    /// Step 2: the new keys `active`, the old ones `decrypt-only`.
    Active,
    /// Step 4: the old keys `retired`.
    Retired,
}

impl Stage {
    /// The states of the old keys and, when the config names them, of the
    /// new ones.
    fn states(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::Before => ("active", None),
            Self::Pending => ("active", Some("pending")),
            Self::Active => ("decrypt-only", Some("active")),
            Self::Retired => ("retired", Some("active")),
        }
    }

    /// True when tokens sealed at this stage carry the new keys.
    fn seals_new(self) -> bool {
        matches!(self, Self::Active | Self::Retired)
    }
}

/// How a replica is told to reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// `cartseal check-config`, then SIGHUP (its watcher off).
    Signal,
    /// Nothing: its watcher (`reload.watch`) sees the edited files; then
    /// `cartseal check-config --against-running` confirms.
    Watch,
}

/// A `[[keys]]` entry: id, purpose, state.
type Entry = (String, &'static str, &'static str);

/// A key by its two names.
#[derive(Debug, Clone)]
pub struct Key {
    /// The config id: the metrics' label.
    pub id: String,
    /// The kid derived from the material: what tokens carry.
    pub kid: String,
}

/// The keys of one rotation: the shipped development keys are the old ones.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub format: Format,
    pub old_local: Key,
    pub new_local: Key,
    pub old_signing: Key,
    /// In the jwt format the signing key rotates with the local one.
    pub new_signing: Option<Key>,
}

impl Rotation {
    /// The `[[keys]]` of a replica at `stage`.
    fn entries(&self, stage: Stage) -> Vec<Entry> {
        let (old, new) = stage.states();
        let mut entries = vec![(self.old_local.id.clone(), "local", old)];
        if let Some(new) = new {
            entries.push((self.new_local.id.clone(), "local", new));
        }
        match (&self.new_signing, new) {
            (Some(signing), Some(new)) => {
                entries.push((self.old_signing.id.clone(), "signing", old));
                entries.push((signing.id.clone(), "signing", new));
            }
            (Some(_), None) => entries.push((self.old_signing.id.clone(), "signing", old)),
            // The paseto format signs nothing: the signing key stays.
            (None, _) => entries.push((self.old_signing.id.clone(), "signing", "active")),
        }
        entries
    }

    /// The config ids of the keys going out.
    pub fn old_ids(&self) -> Vec<&str> {
        let mut ids = vec![self.old_local.id.as_str()];
        if self.new_signing.is_some() {
            ids.push(&self.old_signing.id);
        }
        ids
    }

    /// The config ids of the keys coming in.
    pub fn new_ids(&self) -> Vec<&str> {
        let mut ids = vec![self.new_local.id.as_str()];
        ids.extend(self.new_signing.as_ref().map(|k| k.id.as_str()));
        ids
    }

    /// The signing kids the JWKS publishes at `stage`, sorted; `None` in
    /// the paseto format, whose signing key does not rotate.
    pub fn jwks_at(&self, stage: Stage) -> Option<Vec<String>> {
        let new = self.new_signing.as_ref()?;
        let mut kids = match stage {
            Stage::Before => vec![self.old_signing.kid.clone()],
            Stage::Pending | Stage::Active => {
                vec![self.old_signing.kid.clone(), new.kid.clone()]
            }
            Stage::Retired => vec![new.kid.clone()],
        };
        kids.sort();
        Some(kids)
    }

    /// The kids a token names at `stage`: those of [`token_kids`].
    pub fn kids_at(&self, stage: Stage) -> Vec<String> {
        let new = stage.seals_new();
        let local = if new {
            &self.new_local
        } else {
            &self.old_local
        };
        match self.format {
            Format::Paseto => vec![local.kid.clone()],
            Format::Jwt => {
                let signing = match (&self.new_signing, new) {
                    (Some(signing), true) => signing,
                    _ => &self.old_signing,
                };
                vec![signing.kid.clone(), local.kid.clone()]
            }
        }
    }
}

/// One replica: the binary on its own config directory.
pub struct Replica {
    pub server: BinaryServer,
    config: ConfigDir,
    /// Reloads asked of it so far.
    reloads: u64,
    pub stage: Stage,
}

impl cluster::Replica for Replica {
    fn service(&self) -> &Service {
        &self.server
    }
}

pub struct Cluster {
    /// The replicas behind nginx, round robin.
    fleet: cluster::Cluster<Replica>,
    /// A client of nginx.
    pub client: Client,
    pub rotation: Rotation,
    /// Where the new keys are made ("on a trusted machine").
    keysmith: ConfigDir,
    env: Vec<(&'static str, &'static str)>,
    reload: Reload,
}

impl Cluster {
    /// How long a reload or a phase may take before the test gives up (a
    /// hang guard, not a timing assertion).
    pub const PATIENCE: Duration = Duration::from_secs(60);

    /// `REPLICAS` replicas in `format`, every one with the old keys only,
    /// behind nginx; the new keys made but not yet given to any replica.
    pub fn start(format: Format, reload: Reload) -> Self {
        let keysmith = ConfigDir::new();
        let (ring, _) = keysmith
            .settings()
            .load_keyring()
            .expect("the shipped keyring loads");
        let old_local = ring.active_local();
        let old_signing = ring.active_signing().expect("a shipped signing key");
        let old_local = Key {
            id: old_local.id.clone(),
            kid: old_local.material.kid().to_owned(),
        };
        let old_signing = Key {
            id: old_signing.id.clone(),
            kid: old_signing.material.kid().to_owned(),
        };
        let new_local = unique("rr-local");
        let new_local = Key {
            kid: keysmith.keygen_local(&new_local),
            id: new_local,
        };
        let new_signing = (format == Format::Jwt).then(|| {
            let id = unique("rr-signing");
            Key {
                kid: keysmith.keygen_signing(&id),
                id,
            }
        });
        let rotation = Rotation {
            format,
            old_local,
            new_local,
            old_signing,
            new_signing,
        };
        let env = vec![
            ("CARTSEAL__TOKEN__FORMAT", format.as_str()),
            ("CARTSEAL__SERVER__WORKERS", "1"),
            // No catalog: any well-formed sku is accepted.
            ("CARTSEAL__CATALOG__FILE", ""),
            (
                "CARTSEAL__RELOAD__WATCH",
                if reload == Reload::Watch {
                    "true"
                } else {
                    "false"
                },
            ),
        ];
        let fleet = cluster::Cluster::start(REPLICAS, Routing::RoundRobin, |_| {
            let config = ConfigDir::new();
            let entries = rotation.entries(Stage::Before);
            config.set_keys(&borrowed(&entries));
            Replica {
                server: BinaryServer::spawn(&config, &env),
                config,
                reloads: 0,
                stage: Stage::Before,
            }
        });
        Self {
            client: Client::new(fleet.url()),
            fleet,
            rotation,
            keysmith,
            env,
            reload,
        }
    }

    /// A client of replica `r` alone, past the load balancer.
    pub fn direct(&self, r: usize) -> Client {
        self.client.at(self.fleet.replica(r).server.url.clone())
    }

    /// Moves replica `r` to `stage` as the runbook says: copies the new key
    /// files it lacks, rewrites its `[[keys]]`, runs `cartseal check-config`,
    /// sends SIGHUP, and waits until the reload took effect: its
    /// `cartseal_reloads_total{result="ok"}` counts it, and a cart it seals
    /// now names the keys of `stage`.
    pub async fn move_to(&mut self, r: usize, stage: Stage) -> Duration {
        let started = Instant::now();
        let entries = self.rotation.entries(stage);
        let replica = self.fleet.replica_mut(r);
        for (id, _, _) in &entries {
            let have = replica
                .config
                .path()
                .join("keys")
                .join(format!("{id}.paserk"));
            if !have.exists() {
                replica.config.copy_key_from(&self.keysmith, id);
            }
        }
        replica.config.set_keys(&borrowed(&entries));
        match self.reload {
            Reload::Signal => {
                check_config(&replica.config, &self.env, None);
                replica.server.signal("HUP");
                replica.reloads += 1;
                wait_for_reloads(r, replica, stage).await;
            }
            Reload::Watch => {
                wait_for_keys(r, replica, &entries, stage).await;
                let admin = replica.server.admin_url.clone();
                check_config(&replica.config, &self.env, admin.as_deref());
            }
        }
        replica.stage = stage;
        let took = started.elapsed();
        // Behaviour: a fresh cart from this replica alone names the keys of
        // its stage (a pending key never seals).
        let fresh = self.direct(r).post("/cart").send().await;
        assert_eq!(fresh.status, 201, "replica {r}: {}", fresh.text);
        let token = fresh.cart_token().expect("POST /cart issues a Cart-Token");
        assert_eq!(
            token_kids(&token),
            self.rotation.kids_at(stage),
            "replica {r} at {stage:?} seals under the keys of that stage"
        );
        if let Some(jwks) = self.rotation.jwks_at(stage) {
            // Gateways verify signatures with the JWKS: it publishes the new
            // signing key from step 1 on, and the old one until step 4.
            let published = self.direct(r).get("/.well-known/jwks.json").send().await;
            let mut kids: Vec<String> = published.body["keys"]
                .as_array()
                .expect("a JWKS")
                .iter()
                .map(|k| k["kid"].as_str().unwrap_or("").to_owned())
                .collect();
            kids.sort();
            assert_eq!(kids, jwks, "replica {r} at {stage:?} publishes these keys");
        }
        took
    }

    /// Every replica's `/metrics`.
    pub async fn metrics(&self) -> Vec<String> {
        let mut all = Vec::new();
        for replica in self.fleet.replicas() {
            all.push(replica.server.metrics().await);
        }
        all
    }

    /// Every replica's opened tokens by key.
    pub async fn opens(&self) -> Vec<Opens> {
        self.metrics()
            .await
            .iter()
            .map(|m| Opens::parse(m))
            .collect()
    }
}

/// Replica `r`'s `/metrics`, once it is sure that it refused no reload on
/// the way to `stage`.
async fn refusing_none(r: usize, replica: &Replica, stage: Stage) -> String {
    let metrics = replica.server.metrics().await;
    let refused = count(&metrics, "cartseal_reloads_total", "result", "refused");
    assert_eq!(
        refused,
        0,
        "replica {r} refused the change to {stage:?}; output:\n{}",
        replica.server.proc.tail(20)
    );
    metrics
}

/// Waits until replica `r`'s `cartseal_reloads_total{result="ok"}` counts
/// every reload asked of it, and none was refused.
async fn wait_for_reloads(r: usize, replica: &Replica, stage: Stage) {
    wait_until(
        Cluster::PATIENCE,
        Duration::from_millis(10),
        async || {
            let metrics = refusing_none(r, replica, stage).await;
            count(&metrics, "cartseal_reloads_total", "result", "ok") >= replica.reloads
        },
        || {
            format!(
                "replica {r} did not reload to {stage:?}; output:\n{}",
                replica.server.proc.tail(20)
            )
        },
    )
    .await;
}

/// Waits until replica `r`'s admin listener (`GET /keys`) shows the keys
/// of `entries` in their states, with no reload refused on the way.
async fn wait_for_keys(r: usize, replica: &Replica, entries: &[Entry], stage: Stage) {
    let mut want: Vec<(String, String)> = entries
        .iter()
        .map(|(id, _, state)| (id.clone(), (*state).to_owned()))
        .collect();
    want.sort();
    let admin = replica.server.admin_url.clone().expect("an admin listener");
    wait_until(
        Cluster::PATIENCE,
        Duration::from_millis(20),
        async || {
            refusing_none(r, replica, stage).await;
            running_keys(&admin).await == want
        },
        || {
            format!(
                "replica {r} never ran {want:?} after the edit to {stage:?}; output:\n{}",
                replica.server.proc.tail(20)
            )
        },
    )
    .await;
}

fn borrowed(entries: &[Entry]) -> Vec<(&str, &'static str, &'static str)> {
    entries
        .iter()
        .map(|(id, purpose, state)| (id.as_str(), *purpose, *state))
        .collect()
}

/// `cartseal check-config` on a replica's config, as the runbook runs it
/// before every reload, and `--against-running` its admin listener when
/// given; it must pass.
fn check_config(config: &ConfigDir, env: &[(&str, &str)], against_running: Option<&str>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cartseal"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CARTSEAL") {
            command.env_remove(&key);
        }
    }
    let output = command
        .envs(env.iter().copied())
        .current_dir(config.path())
        .arg("check-config")
        .arg("--config")
        .arg(config.config_path())
        .args(against_running.map(|url| format!("--against-running={url}")))
        .output()
        .expect("cartseal check-config runs");
    assert!(
        output.status.success(),
        "check-config refused the new config: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
