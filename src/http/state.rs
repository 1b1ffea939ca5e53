//! What every handler shares: the store, the catalog, the keys, the settings
//! and the clock. Keys and catalog are swapped whole on reload.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::Settings;
use crate::keys::KeyringHandle;
use crate::store::AnyStore;

/// Shared by all workers (each holds its own clone; a central store's
/// connection is per worker).
#[derive(Clone)]
pub struct AppState {
    /// The configured store.
    pub store: AnyStore,
    /// The catalog, if configured; swapped whole on reload.
    pub catalog: Arc<ArcSwapOption<Catalog>>,
    /// The keyring; swapped whole on reload.
    pub keys: KeyringHandle,
    /// The settings the service started with.
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    /// The file to re-read on reload, if any.
    pub config_path: Option<PathBuf>,
}

impl AppState {
    /// Now, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}
