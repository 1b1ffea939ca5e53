//! Reloading the keyring and the catalog from the config file, atomically:
//! both load and validate, then both are swapped; if either fails, neither
//! is, and the old ones stay.
//!
//! [`Reloader::check`] runs the same checks without swapping anything: the
//! admin listener's `POST /reload/check`, which `cartseal check-config
//! --against-running` asks, so that its answer is the reload's.
//!
//! Only `[[keys]]` and `[catalog]` reload. Every other setting is built into
//! the running service (the token format and algorithm into the codec, the
//! limits and CORS origins into the handlers, the listeners into the
//! sockets), so a reload that changes one is refused whole, naming the
//! setting: applying half of a change would, for example, validate new keys
//! against a new `token.jwt_algorithm` while the codec kept the old one.

use std::path::Path;
use std::sync::{Arc, Mutex};

use super::state::AppState;
use crate::catalog::{Catalog, CatalogError};
use crate::config::{ConfigError, Settings};
use crate::keys::{Keyring, KeyringError};

/// Why a reload was refused. The running keys and catalog stay.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The service was started without a config file.
    #[error("no config file to reload")]
    NoConfigFile,
    /// The new config was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The new keyring was refused.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The new catalog was refused.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The reload did not run to its end (its thread was lost).
    #[error("the reload was interrupted; the running keys and catalog stay")]
    Interrupted,
    /// The new config changes settings that only a restart applies.
    #[error("{} changed, and only a restart applies it: restart the service, or undo the change", .0.join(", "))]
    NotReloadable(Vec<String>),
}

/// What asked for a reload: named in its log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// SIGHUP.
    Signal,
    /// A watched file changed (src/http/watch.rs).
    FileChange,
    /// `POST /reload` on the admin listener.
    Admin,
    /// A caller of the library (tests).
    Call,
}

impl Trigger {
    fn describe(self) -> &'static str {
        match self {
            Self::Signal => "SIGHUP",
            Self::FileChange => "a file change",
            Self::Admin => "POST /reload",
            Self::Call => "a call",
        }
    }
}

/// The outcomes `cartseal_reloads_total` counts.
const OUTCOMES: [&str; 2] = ["ok", "refused"];

/// Reloads what SIGHUP reloads.
#[derive(Clone)]
pub struct Reloader {
    state: AppState,
    /// What the config file said when it was last applied, before any
    /// command-line override: a reload compares the file with itself, so
    /// that `--port` is not taken for a change.
    applied: Arc<Mutex<Option<Settings>>>,
}

/// A new keyring and catalog, loaded and validated, not yet swapped in.
struct Prepared {
    settings: Settings,
    keyring: Keyring,
    catalog: Option<Catalog>,
    changes: Vec<String>,
    /// Logged when applied.
    warnings: Vec<crate::keys::Warning>,
}

impl Reloader {
    pub(super) fn new(state: AppState) -> Self {
        let applied = state
            .config_path
            .as_deref()
            .and_then(|path| Settings::load(path).ok());
        // Present from start-up at 0, so that a dashboard or an alert on
        // refusals sees the series before the first reload.
        for outcome in OUTCOMES {
            metrics::counter!("cartseal_reloads_total", "result" => outcome).increment(0);
        }
        Self {
            state,
            applied: Arc::new(Mutex::new(applied)),
        }
    }

    /// The config file a reload reads, if the service has one.
    pub fn config_path(&self) -> Option<&Path> {
        self.state.config_path.as_deref()
    }

    /// The running keyring: each key's id, purpose, kid and state (never its
    /// material), local keys first.
    pub fn key_states(&self) -> Vec<KeyStatus> {
        key_states(&self.state.keys.load())
    }

    /// Reloads now (what SIGHUP does). Returns what changed, or the reason
    /// the new config is refused.
    pub fn reload(&self) -> Result<Vec<String>, ReloadError> {
        self.reload_for(Trigger::Call)
    }

    /// Reloads now, naming `trigger` in the log line.
    pub fn reload_for(&self, trigger: Trigger) -> Result<Vec<String>, ReloadError> {
        let result = self.apply();
        let outcome = if result.is_ok() {
            OUTCOMES[0]
        } else {
            OUTCOMES[1]
        };
        metrics::counter!("cartseal_reloads_total", "result" => outcome).increment(1);
        let why = trigger.describe();
        match &result {
            Ok(changes) if changes.is_empty() => {
                log::info!("reloaded keys and catalog on {why}; the keyring is unchanged")
            }
            Ok(changes) => log::info!("reloaded keys and catalog on {why}: {}", changes.join("; ")),
            // One log line per problem, as `check-config` prints them.
            Err(ReloadError::Config(ConfigError(problems))) => {
                for problem in problems {
                    log::error!(
                        "reload refused, keeping the running keys and catalog ({why}): {problem}"
                    );
                }
            }
            Err(reason) => log::error!(
                "reload refused, keeping the running keys and catalog ({why}): {reason}"
            ),
        }
        result
    }

    /// What a reload would do now, without doing it: the same checks on the
    /// same file, so that it refuses exactly what a reload would refuse
    /// (`cartseal check-config --against-running`).
    pub fn check(&self) -> Result<Vec<String>, ReloadError> {
        let applied = self.lock();
        self.prepare(applied.as_ref()).map(|p| p.changes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Settings>> {
        self.applied
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn apply(&self) -> Result<Vec<String>, ReloadError> {
        let mut applied = self.lock();
        let Prepared {
            settings,
            keyring,
            catalog,
            changes,
            warnings,
        } = self.prepare(applied.as_ref())?;
        for warning in warnings {
            log::warn!("{warning}");
        }
        self.state.keys.replace(keyring);
        self.state.catalog.store(catalog.map(Arc::new));
        *applied = Some(settings);
        Ok(changes)
    }

    fn prepare(&self, applied: Option<&Settings>) -> Result<Prepared, ReloadError> {
        let path = self
            .state
            .config_path
            .as_ref()
            .ok_or(ReloadError::NoConfigFile)?;
        let settings = Settings::load(path)?;
        let before = applied.unwrap_or(&self.state.settings);
        let changed = not_reloadable_changes(before, &settings);
        if !changed.is_empty() {
            return Err(ReloadError::NotReloadable(changed));
        }
        let (keyring, warnings) = settings.load_keyring()?;
        let catalog = settings.load_catalog()?;
        let mut changes = key_changes(&self.key_states(), &key_states(&keyring));
        if settings.catalog != before.catalog {
            changes.push(format!(
                "catalog.file {:?} -> {:?}",
                before.catalog.file, settings.catalog.file
            ));
        }
        Ok(Prepared {
            settings,
            keyring,
            catalog,
            changes,
            warnings,
        })
    }
}

/// One key of the running keyring, as the admin listener shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyStatus {
    /// The config id.
    pub id: String,
    /// `local` or `signing`.
    pub purpose: String,
    /// Derived from the material: what tokens carry.
    pub kid: String,
    /// The rotation state, as config.toml writes it.
    pub state: &'static str,
}

fn key_states(ring: &Keyring) -> Vec<KeyStatus> {
    let local = ring.local_keys().iter().map(|k| KeyStatus {
        id: k.id.clone(),
        purpose: "local".into(),
        kid: k.material.kid().to_owned(),
        state: k.state.as_str(),
    });
    let signing = ring.signing_keys().iter().map(|k| KeyStatus {
        id: k.id.clone(),
        purpose: "signing".into(),
        kid: k.material.kid().to_owned(),
        state: k.state.as_str(),
    });
    local.chain(signing).collect()
}

/// What changed between two keyrings, one entry per key: `id state ->
/// state`, `id added (state)`, `id removed (was state)`. A key whose file
/// now holds other material is named too (its kid changed).
fn key_changes(before: &[KeyStatus], after: &[KeyStatus]) -> Vec<String> {
    let mut changes = Vec::new();
    for new in after {
        match before.iter().find(|old| old.id == new.id) {
            None => changes.push(format!("{} added ({})", new.id, new.state)),
            Some(old) => {
                if old.state != new.state {
                    changes.push(format!("{} {} -> {}", new.id, old.state, new.state));
                }
                if old.kid != new.kid {
                    changes.push(format!("{} kid {} -> {}", new.id, old.kid, new.kid));
                }
            }
        }
    }
    for old in before {
        if !after.iter().any(|new| new.id == old.id) {
            changes.push(format!("{} removed (was {})", old.id, old.state));
        }
    }
    changes
}

/// The dotted names of the settings that differ between `running` and
/// `new`, other than the keys and the catalog.
fn not_reloadable_changes(running: &Settings, new: &Settings) -> Vec<String> {
    let as_value = |settings: &Settings| {
        let mut value = serde_json::to_value(settings).expect("settings serialize");
        if let Some(sections) = value.as_object_mut() {
            sections.remove("keys");
            sections.remove("catalog");
        }
        value
    };
    let mut changed = Vec::new();
    diff("", &as_value(running), &as_value(new), &mut changed);
    changed
}

fn diff(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            for (key, value) in a {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff(
                    &path,
                    value,
                    b.get(key).unwrap_or(&serde_json::Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push(path.to_owned()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_changed_setting_but_keys_and_catalog_is_named() {
        let running =
            Settings::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml"))
                .expect("the shipped config loads");
        let mut new = running.clone();
        new.keys.clear();
        new.catalog.file = "elsewhere.json".into();
        assert!(not_reloadable_changes(&running, &new).is_empty());
        new.token.jwt_algorithm = crate::token::JwtAlgorithm::HS256;
        new.cors.allowed_origins.push("https://shop.example".into());
        new.limits.max_lines = 7;
        assert_eq!(
            not_reloadable_changes(&running, &new),
            [
                "cors.allowed_origins",
                "limits.max_lines",
                "token.jwt_algorithm"
            ]
        );
    }

    fn key(id: &str, kid: &str, state: &'static str) -> KeyStatus {
        KeyStatus {
            id: id.into(),
            purpose: "local".into(),
            kid: kid.into(),
            state,
        }
    }

    #[test]
    fn key_changes_name_each_key_with_its_state_before_and_after() {
        let before = [
            key("a", "k1", "active"),
            key("b", "k2", "pending"),
            key("c", "k3", "retired"),
        ];
        let after = [
            key("a", "k1", "decrypt-only"),
            key("b", "k9", "active"),
            key("d", "k4", "pending"),
        ];
        assert_eq!(
            key_changes(&before, &after),
            [
                "a active -> decrypt-only",
                "b pending -> active",
                "b kid k2 -> k9",
                "d added (pending)",
                "c removed (was retired)",
            ]
        );
        assert!(key_changes(&before, &before).is_empty());
    }
}
