//! What each subcommand does, so that `main.rs` only parses arguments.

use std::io::{Read, Write};
use std::path::Path;

use crate::config::Settings;
use crate::keys::{self, KeyringHandle};
use crate::token::TokenCodec;

/// Loads and validates settings, keyring and catalog, logging warnings.
fn load_all(config: &Path) -> Result<(Settings, keys::Keyring), String> {
    let settings = Settings::load(config).map_err(|e| e.to_string())?;
    let (keyring, warnings) = settings.load_keyring().map_err(|e| e.to_string())?;
    for warning in warnings {
        log::warn!("{warning}");
    }
    settings.load_catalog().map_err(|e| e.to_string())?;
    Ok((settings, keyring))
}

/// `cartseal serve`.
pub fn serve(config: &Path, port: Option<u16>) -> Result<(), String> {
    // The server loads and validates keys and catalog itself, once.
    let mut settings = Settings::load(config).map_err(|e| e.to_string())?;
    if let Some(port) = port {
        settings.server.port = port;
    }
    crate::http::run(settings, config.to_path_buf()).map_err(|e| e.to_string())
}

/// `cartseal check-config`.
pub fn check_config(config: &Path) -> Result<(), String> {
    let (settings, keyring) = load_all(config)?;
    println!(
        "{}: ok (store {}, format {:?}, {} local and {} signing keys)",
        config.display(),
        settings.store.kind.as_str(),
        settings.token.format,
        keyring.local_keys().len(),
        keyring.signing_keys().len()
    );
    Ok(())
}

/// `cartseal keygen`.
pub fn keygen(purpose: &str, id: &str, dir: &Path, alg: &str) -> Result<(), String> {
    let id_ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !id_ok {
        return Err("--id must be 1 to 64 characters of A-Z a-z 0-9 - _ .".into());
    }
    let (paserk, kid) = match (purpose, alg) {
        ("local", _) | ("signing", "HS256") => {
            let key = keys::generate_local();
            (key.to_paserk(), key.kid().to_owned())
        }
        _ => {
            let paserk = keys::generate_ed25519_paserk();
            let kid = keys::SigningMaterial::from_paserk(&paserk)
                .map_err(|e| e.to_string())?
                .kid()
                .to_owned();
            (paserk, kid)
        }
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{id}.paserk"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(paserk.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!(
        "# Add to config.toml; start it as \"pending\" on every replica first (docs/key-rotation.md)."
    );
    println!("[[keys]]");
    println!("id = \"{id}\"");
    println!("purpose = \"{purpose}\"");
    println!("file = \"{}\"", path.display());
    println!("state = \"pending\"");
    println!("kid = \"{kid}\"");
    Ok(())
}

/// `cartseal inspect`.
pub fn inspect(config: &Path, token: &str) -> Result<(), String> {
    let (settings, keyring) = load_all(config)?;
    let mut text = token.to_owned();
    if token == "-" {
        text.clear();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| e.to_string())?;
    }
    let codec = TokenCodec::new(
        settings.token.clone(),
        settings.limits.clone(),
        KeyringHandle::new(keyring),
    );
    let now = chrono::Utc::now().timestamp();
    let opened = codec
        .open(text.trim(), now)
        .map_err(|e| format!("{e} ({})", e.label()))?;
    let time = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default()
    };
    let cart: serde_json::Value =
        serde_json::from_slice(&opened.cart.to_compact_json()).map_err(|e| e.to_string())?;
    let report = serde_json::json!({
        "format": settings.token.format,
        "key_id": opened.key_id,
        "key_state": opened.key_state.as_str(),
        "cart_key_id": opened.cart_key_id,
        "reseal": opened.reseal.map(|r| format!("{r:?}")),
        "jti": opened.jti,
        "revision": opened.revision,
        "issued_at": time(opened.lifetimes.issued_at),
        "not_before": time(opened.lifetimes.not_before),
        "expires_at": time(opened.lifetimes.expires_at),
        "absolute_expiry": time(opened.lifetimes.absolute_expiry),
        "length": text.trim().len(),
        "lines": opened.cart.lines().len(),
        "cart": cart,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
    );
    Ok(())
}
