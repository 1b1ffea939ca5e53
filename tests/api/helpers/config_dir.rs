//! A copy of the shipped config in a temp dir, which a test may rewrite and
//! reload.

use std::path::{Path, PathBuf};

use cartseal::config::Settings;
use tempfile::TempDir;

use super::repo;

/// A copy of the shipped config in a temp dir (with the dev keys and the
/// catalog), which a test may rewrite and reload.
pub struct ConfigDir {
    pub dir: TempDir,
}

impl ConfigDir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
        for entry in std::fs::read_dir(repo().join("keys")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(
                entry.path(),
                dir.path().join("keys").join(entry.file_name()),
            )
            .unwrap();
        }
        std::fs::copy(
            repo().join("catalog/products.json"),
            dir.path().join("catalog/products.json"),
        )
        .unwrap();
        std::fs::copy(repo().join("config.toml"), dir.path().join("config.toml")).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// Makes a key with `cartseal keygen` logic and returns its kid.
    pub fn keygen_local(&self, id: &str) -> String {
        let key = cartseal::keys::generate_local();
        let path = self.path().join("keys").join(format!("{id}.paserk"));
        std::fs::write(&path, key.to_paserk().as_bytes()).unwrap();
        set_private(&path);
        key.kid().to_owned()
    }

    /// Makes an Ed25519 signing key as `cartseal keygen --purpose signing`
    /// does and returns its kid.
    pub fn keygen_signing(&self, id: &str) -> String {
        let paserk = cartseal::keys::generate_ed25519_paserk();
        let path = self.path().join("keys").join(format!("{id}.paserk"));
        std::fs::write(&path, paserk.as_bytes()).unwrap();
        set_private(&path);
        cartseal::keys::SigningMaterial::from_paserk(&paserk)
            .expect("a fresh Ed25519 key parses")
            .kid()
            .to_owned()
    }

    /// Replaces the `[[keys]]` of the config with `keys` (id, purpose, state),
    /// files under keys/<id>.paserk.
    pub fn set_keys(&self, keys: &[(&str, &str, &str)]) {
        let text = std::fs::read_to_string(self.config_path()).unwrap();
        let mut kept: Vec<&str> = Vec::new();
        let mut in_keys = false;
        for line in text.lines() {
            if line.trim() == "[[keys]]" {
                in_keys = true;
                continue;
            }
            if in_keys && line.trim_start().starts_with('[') {
                in_keys = false;
            }
            if !in_keys {
                kept.push(line);
            }
        }
        let mut out = kept.join("\n");
        for (id, purpose, state) in keys {
            out.push_str(&format!(
                "\n[[keys]]\nid = \"{id}\"\npurpose = \"{purpose}\"\nfile = \"keys/{id}.paserk\"\nstate = \"{state}\"\n"
            ));
        }
        // [[keys]] tables must not swallow the sections after them: TOML
        // puts every key after a table header into it, so append at the end.
        std::fs::write(self.config_path(), out).unwrap();
    }

    pub fn settings(&self) -> Settings {
        Settings::load(&self.config_path()).expect("config loads")
    }

    /// Rewrites config.toml by replacing `from` (which must occur) with `to`.
    pub fn replace(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.config_path()).unwrap();
        assert!(text.contains(from), "config.toml has no {from:?}");
        std::fs::write(self.config_path(), text.replace(from, to)).unwrap();
    }

    /// Copies a key file made in `other` (by `keygen_local`) into this dir.
    pub fn copy_key_from(&self, other: &ConfigDir, id: &str) {
        let name = format!("{id}.paserk");
        let to = self.path().join("keys").join(&name);
        std::fs::copy(other.path().join("keys").join(&name), &to).unwrap();
        set_private(&to);
    }
}

#[cfg(unix)]
fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}
