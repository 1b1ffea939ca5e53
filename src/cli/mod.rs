//! What each subcommand does, so that `main.rs` only parses arguments.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::catalog::CatalogError;
use crate::config::{ConfigError, Settings};
use crate::http::StartError;
use crate::keys::{self, KeyringError, KeyringHandle, MaterialError};
use crate::token::{OpenError, TokenCodec};

pub mod keygen;
mod running;

/// Why a subcommand failed: one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The config was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The keyring was refused.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The catalog was refused.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The service could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// A key just made could not be read back.
    #[error(transparent)]
    Material(#[from] MaterialError),
    /// A file or stream failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file, or `-` for standard input.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// An argument is malformed.
    #[error("{0}")]
    Usage(&'static str),
    /// The running replica could not be asked, or refuses the config.
    #[error("{0}")]
    Running(String),
    /// The token does not open; the reason is the operator's to see.
    #[error("{error} ({})", .error.label())]
    Token {
        /// Why.
        error: OpenError,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Loads and validates settings, keyring and catalog, logging warnings.
fn load_all(config: &Path) -> Result<(Settings, keys::Keyring), CliError> {
    let settings = Settings::load(config)?;
    let (keyring, warnings) = settings.load_keyring()?;
    for warning in warnings {
        log::warn!("{warning}");
    }
    settings.load_catalog()?;
    Ok((settings, keyring))
}

/// What `cartseal serve` takes beside the config file.
#[derive(Debug, Clone, Default)]
pub struct ServeArgs {
    /// Overrides `server.port`.
    pub port: Option<u16>,
    /// Overrides `admin.port`.
    pub admin_port: Option<u16>,
    /// Where to write the process id.
    pub pid_file: Option<PathBuf>,
}

/// `cartseal serve`.
pub fn serve(config: &Path, args: ServeArgs) -> Result<(), CliError> {
    // The server loads and validates keys and catalog itself, once.
    let mut settings = Settings::load(config)?;
    if let Some(port) = args.port {
        settings.server.port = port;
    }
    if let Some(port) = args.admin_port {
        settings.admin.port = port;
    }
    let options = crate::http::RunOptions {
        config_path: config.to_path_buf(),
        pid_file: args.pid_file,
    };
    Ok(crate::http::run(settings, options)?)
}

/// `cartseal check-config`, and with `against_running` (an admin
/// listener's URL) whether that replica's reload would accept its config
/// file now.
pub fn check_config(config: &Path, against_running: Option<&str>) -> Result<(), CliError> {
    let (settings, keyring) = load_all(config)?;
    println!(
        "{}: ok (store {}, format {:?}, {} local and {} signing keys)",
        config.display(),
        settings.store.kind.as_str(),
        settings.token.format,
        keyring.local_keys().len(),
        keyring.signing_keys().len()
    );
    match against_running {
        Some(admin) => running::check(config, admin),
        None => Ok(()),
    }
}

/// `cartseal keygen`.
pub fn keygen(args: &keygen::KeygenArgs) -> Result<(), CliError> {
    keygen::run(args)
}

/// Makes a key; returns its PASERK text and kid.
fn make_key(
    purpose: &str,
    id: &str,
    alg: &str,
) -> Result<(zeroize::Zeroizing<String>, String), CliError> {
    let id_ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !id_ok {
        return Err(CliError::Usage(
            "--id must be 1 to 64 characters of A-Z a-z 0-9 - _ .",
        ));
    }
    let (paserk, kid) = match (purpose, alg) {
        ("local", _) | ("signing", "HS256") => {
            let key = keys::generate_local();
            (key.to_paserk(), key.kid().to_owned())
        }
        _ => {
            let paserk = keys::generate_ed25519_paserk();
            let kid = keys::SigningMaterial::from_paserk(&paserk)?
                .kid()
                .to_owned();
            (paserk, kid)
        }
    };
    Ok((paserk, kid))
}

/// `cartseal inspect`.
pub fn inspect(config: &Path, token: &str) -> Result<(), CliError> {
    let (settings, keyring) = load_all(config)?;
    let mut text = token.to_owned();
    if token == "-" {
        text.clear();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(io_error(Path::new("-")))?;
    }
    let codec = TokenCodec::new(
        settings.token.clone(),
        settings.limits.clone(),
        KeyringHandle::new(keyring),
    );
    let now = chrono::Utc::now().timestamp();
    let opened = codec
        .open(text.trim(), now)
        .map_err(|error| CliError::Token { error })?;
    let time = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default()
    };
    let cart: serde_json::Value =
        serde_json::from_slice(&opened.cart.to_compact_json()).expect("a cart serializes to JSON");
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
        serde_json::to_string_pretty(&report).expect("a JSON value serializes")
    );
    Ok(())
}
