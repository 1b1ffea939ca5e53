//! The keyring: which keys exist, what each may do, and how they rotate.
//!
//! # Rotation states
//! A rolling deploy must never leave a replica facing a token sealed under a
//! key it does not know yet, so a key moves through stages
//! (docs/key-rotation.md):
//! `pending` (opens, never seals) → `active` (seals and opens, one per
//! purpose) → `decrypt-only` (opens, and the token is re-sealed under the
//! active key) → `retired` (refused).
//!
//! The whole keyring is swapped atomically on reload ([`KeyringHandle`]), so a
//! request sees either the old keyring or the new one, never a mix.

mod error;
mod load;
mod material;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};

pub use error::KeyringError;
#[cfg(any(fuzzing, test, feature = "fixture"))]
pub(crate) use material::ed25519_paserk_from_seed;
pub use material::{
    LocalMaterial, MaterialError, SigningMaterial, generate_ed25519_paserk, generate_local,
};

/// The key ids of the development keys shipped in `keys/`. They are public,
/// so they are recognised by their key material, whatever id the config
/// gives them: a renamed development key is still one.
pub const DEV_KIDS: [&str; 2] = [
    "k4.lid.Iu7XXB9uuFsBJebO-ZqUeQs3py2iWKKawCaeIM9JM6Sz",
    "k4.pid.dYseaIZ-QJ7XAGqmSaEmHU5CNE5noWayS8_1wkjbOMN-",
];

/// What a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// Encrypts carts (PASETO v4.local, and the JWT cart claim).
    Local,
    /// Signs JWTs.
    Signing,
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Local => "local",
            Self::Signing => "signing",
        })
    }
}

/// Where a key stands in its rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyState {
    /// Opens tokens, never seals: rotation step 1.
    Pending,
    /// Seals and opens; exactly one per purpose.
    Active,
    /// Opens tokens, which are then re-sealed under the active key.
    DecryptOnly,
    /// Refused.
    Retired,
}

impl KeyState {
    /// True when tokens under a key in this state may be opened.
    pub fn opens(self) -> bool {
        !matches!(self, Self::Retired)
    }

    /// The state as written in config.toml.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::DecryptOnly => "decrypt-only",
            Self::Retired => "retired",
        }
    }
}

/// One `[[keys]]` entry of config.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// A human label, shown in logs and metrics.
    pub id: String,
    /// What the key is for.
    pub purpose: Purpose,
    /// The PASERK file, relative to the config file's folder.
    pub file: PathBuf,
    /// The rotation state.
    pub state: KeyState,
    /// The key id derived from the material; checked when given.
    #[serde(default)]
    pub kid: Option<String>,
}

/// A loaded key of either purpose.
#[derive(Debug)]
pub struct Key<M> {
    /// The config label.
    pub id: String,
    /// The rotation state.
    pub state: KeyState,
    pub material: M,
}

/// Every key the service knows, validated.
#[derive(Debug)]
pub struct Keyring {
    local: Vec<Key<LocalMaterial>>,
    signing: Vec<Key<SigningMaterial>>,
    active_local: usize,
    active_signing: Option<usize>,
    /// The ids of the development keys in use (not retired).
    dev_keys: Vec<String>,
    /// Unique to this keyring among all loaded in the process: what a cache
    /// of opened tokens keys on, so that a reload invalidates it.
    generation: u64,
}

/// The next keyring's generation.
static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A problem that does not stop start-up, but that an operator should see.
pub type Warning = String;

impl Keyring {
    /// Loads and validates the keys of config.toml. `base` is the folder
    /// relative paths start from; `jwt_algorithm` is what signing keys must
    /// be; `need_signing` says whether the configured format signs. Refuses
    /// with the first problem; [`Self::load_all`] says every one.
    pub fn load(
        configs: &[KeyConfig],
        base: &Path,
        jwt_algorithm: jsonwebtoken::Algorithm,
        need_signing: bool,
    ) -> Result<(Self, Vec<Warning>), KeyringError> {
        Self::load_all(configs, base, jwt_algorithm, need_signing)
            .map_err(|mut problems| problems.swap_remove(0))
    }

    /// The local key that seals.
    pub fn active_local(&self) -> &Key<LocalMaterial> {
        &self.local[self.active_local]
    }

    /// The signing key that signs, if any.
    pub fn active_signing(&self) -> Option<&Key<SigningMaterial>> {
        self.active_signing.map(|i| &self.signing[i])
    }

    /// The local key with this kid, whatever its state. Looking a key up is
    /// an exact match on the kid: an unknown kid fails closed, and no other
    /// key is tried.
    pub fn local_by_kid(&self, kid: &str) -> Option<&Key<LocalMaterial>> {
        self.local.iter().find(|k| k.material.kid() == kid)
    }

    /// The signing key with this kid, whatever its state.
    pub fn signing_by_kid(&self, kid: &str) -> Option<&Key<SigningMaterial>> {
        self.signing.iter().find(|k| k.material.kid() == kid)
    }

    /// This keyring's generation: no other keyring loaded by the process
    /// has the same one.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The ids of the shipped development keys this keyring uses.
    pub fn dev_keys(&self) -> &[String] {
        &self.dev_keys
    }

    /// All local keys.
    pub fn local_keys(&self) -> &[Key<LocalMaterial>] {
        &self.local
    }

    /// All signing keys.
    pub fn signing_keys(&self) -> &[Key<SigningMaterial>] {
        &self.signing
    }
}

fn single_active<M>(purpose: Purpose, keys: &[Key<M>]) -> Result<Option<usize>, KeyringError> {
    let mut found: Option<usize> = None;
    for (i, key) in keys.iter().enumerate() {
        if key.state == KeyState::Active {
            if let Some(first) = found {
                return Err(KeyringError::TwoActive {
                    purpose,
                    first: keys[first].id.clone(),
                    second: key.id.clone(),
                });
            }
            found = Some(i);
        }
    }
    Ok(found)
}

fn read_key_file(id: &str, path: &Path) -> Result<zeroize::Zeroizing<String>, KeyringError> {
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(id, path, &e))?;
    Ok(zeroize::Zeroizing::new(text))
}

fn unreadable(id: &str, path: &Path, e: &std::io::Error) -> KeyringError {
    KeyringError::Unreadable {
        id: id.to_owned(),
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Refuses a key file that group or others can read.
fn check_private(id: &str, path: &Path) -> Result<(), KeyringError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| unreadable(id, path, &e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(KeyringError::Readable {
                id: id.to_owned(),
                path: path.display().to_string(),
                mode: mode & 0o777,
            });
        }
    }
    Ok(())
}

/// The keyring in use, swapped whole on reload.
#[derive(Debug, Clone)]
pub struct KeyringHandle(Arc<ArcSwap<Keyring>>);

impl KeyringHandle {
    /// Wraps a keyring.
    pub fn new(keyring: Keyring) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(keyring)))
    }

    /// The keyring now; a request keeps the one it loaded.
    pub fn load(&self) -> arc_swap::Guard<Arc<Keyring>> {
        self.0.load()
    }

    /// Replaces the keyring at once, for every request that starts after.
    pub fn replace(&self, keyring: Keyring) {
        self.0.store(Arc::new(keyring));
    }
}

#[cfg(test)]
mod tests;
