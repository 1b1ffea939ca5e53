//! Reloading the keyring and the catalog from the config file, atomically:
//! both load and validate, then both are swapped; if either fails, neither
//! is, and the old ones stay.

use std::sync::Arc;

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
}

/// Reloads what SIGHUP reloads.
#[derive(Clone)]
pub struct Reloader {
    state: AppState,
}

impl Reloader {
    pub(super) fn new(state: AppState) -> Self {
        Self { state }
    }

    /// Reloads now. Returns the reason when the new config is refused.
    pub fn reload(&self) -> Result<(), ReloadError> {
        let result = self.try_reload();
        let outcome = if result.is_ok() { "ok" } else { "refused" };
        metrics::counter!("cartseal_reloads_total", "result" => outcome).increment(1);
        match &result {
            Ok(()) => log::info!("reloaded keys and catalog"),
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
        let (keyring, warnings) = settings.load_keyring()?;
        let catalog = settings.load_catalog()?;
        for warning in warnings {
            log::warn!("{warning}");
        }
        self.state.keys.replace(keyring);
        self.state.catalog.store(catalog.map(Arc::new));
        Ok(())
    }
}
