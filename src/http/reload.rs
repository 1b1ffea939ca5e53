//! Reloading the keyring and the catalog from the config file, atomically:
//! both load and validate, then both are swapped; if either fails, neither
//! is, and the old ones stay.
//!
//! Only `[[keys]]` and `[catalog]` reload. Every other setting is built into
//! the running service (the token format and algorithm into the codec, the
//! limits and CORS origins into the handlers, the listeners into the
//! sockets), so a reload that changes one is refused whole, naming the
//! setting: applying half of a change would, for example, validate new keys
//! against a new `token.jwt_algorithm` while the codec kept the old one.

use std::sync::{Arc, Mutex};

use super::state::AppState;
use crate::catalog::CatalogError;
use crate::config::{ConfigError, Settings};
use crate::keys::KeyringError;

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
    /// The new config changes settings that only a restart applies.
    #[error("{} changed, and only a restart applies it: restart the service, or undo the change", .0.join(", "))]
    NotReloadable(Vec<String>),
}

/// Reloads what SIGHUP reloads.
#[derive(Clone)]
pub struct Reloader {
    state: AppState,
    /// What the config file said when it was last applied, before any
    /// command-line override: a reload compares the file with itself, so
    /// that `--port` is not taken for a change.
    applied: Arc<Mutex<Option<Settings>>>,
}

impl Reloader {
    pub(super) fn new(state: AppState) -> Self {
        let applied = state
            .config_path
            .as_deref()
            .and_then(|path| Settings::load(path).ok());
        Self {
            state,
            applied: Arc::new(Mutex::new(applied)),
        }
    }

    /// Reloads now. Returns the reason when the new config is refused.
    pub fn reload(&self) -> Result<(), ReloadError> {
        let result = self.try_reload();
        let outcome = if result.is_ok() { "ok" } else { "refused" };
        metrics::counter!("cartseal_reloads_total", "result" => outcome).increment(1);
        match &result {
            Ok(()) => log::info!("reloaded keys and catalog"),
            // One log line per problem, as `check-config` prints them.
            Err(ReloadError::Config(ConfigError(problems))) => {
                for problem in problems {
                    log::error!("reload refused, keeping the running keys and catalog: {problem}");
                }
            }
            Err(reason) => {
                log::error!("reload refused, keeping the running keys and catalog: {reason}")
            }
        }
        result
    }

    fn try_reload(&self) -> Result<(), ReloadError> {
        let path = self
            .state
            .config_path
            .as_ref()
            .ok_or(ReloadError::NoConfigFile)?;
        let settings = Settings::load(path)?;
        let mut applied = self
            .applied
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = applied.as_ref().unwrap_or(&self.state.settings);
        let changed = not_reloadable_changes(before, &settings);
        if !changed.is_empty() {
            return Err(ReloadError::NotReloadable(changed));
        }
        let (keyring, warnings) = settings.load_keyring()?;
        let catalog = settings.load_catalog()?;
        for warning in warnings {
            log::warn!("{warning}");
        }
        self.state.keys.replace(keyring);
        self.state.catalog.store(catalog.map(Arc::new));
        *applied = Some(settings);
        Ok(())
    }
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
}
