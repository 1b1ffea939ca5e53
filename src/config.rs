//! Typed settings from config.toml, with environment overrides, validated at
//! start-up. Every option, its default and the reason for it are documented
//! in the shipped config.toml.
//!
//! Overrides use the prefix `CARTSEAL__` and `__` between levels, for example
//! `CARTSEAL__SERVER__PORT=9000`. Lists (`cors.allowed_origins`) take
//! comma-separated values.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cart::Limits;
use crate::catalog::{Catalog, CatalogError};
use crate::keys::{KeyConfig, Keyring, KeyringError, Warning};
use crate::token::{Format, TokenConfig};

/// Everything config.toml can say.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub token: TokenConfig,
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub cookie: CookieConfig,
    #[serde(default)]
    pub cors: CorsConfig,
    #[serde(default)]
    pub catalog: CatalogConfig,
    #[serde(default)]
    pub redis: RedisConfig,
    #[serde(default)]
    pub memory: MemoryConfig,
    /// The folder relative paths start from: the config file's.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to bind.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Seconds SIGTERM waits for in-flight requests.
    pub shutdown_timeout_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            workers: 0,
            shutdown_timeout_secs: 10,
        }
    }
}

/// Where carts live between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// Sealed into the client's token.
    #[default]
    Token,
    /// In Redis, under a random session id.
    Redis,
    /// In this process.
    Memory,
    /// Nowhere: the benchmark ceiling.
    None,
}

impl StoreKind {
    /// The name used in config and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Redis => "redis",
            Self::Memory => "memory",
            Self::None => "none",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// The store.
    pub kind: StoreKind,
    /// For `kind = "none"` only: the lines of the fixed cart every request
    /// sees, so that the ceiling renders as much JSON as the real modes.
    pub none_template_lines: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            kind: StoreKind::Token,
            none_template_lines: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieConfig {
    /// Secure cookie named `__Host-cart`, else plain `cart`.
    pub secure: bool,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self { secure: true }
    }
}

impl CookieConfig {
    /// The cookie's name.
    pub fn name(&self) -> &'static str {
        if self.secure { "__Host-cart" } else { "cart" }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Exact origins allowed with credentials.
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// The products file; empty for none.
    pub file: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Connection URL.
    pub url: String,
    /// Timeout of every call, in milliseconds.
    pub timeout_ms: u64,
    /// Prefix of every key.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            timeout_ms: 250,
            key_prefix: "cartseal:cart:".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Most carts held.
    pub max_carts: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self { max_carts: 100_000 }
    }
}

/// Why settings were refused: one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ConfigError(pub Vec<String>);

impl Settings {
    /// Reads `path`, applies `CARTSEAL__…` environment overrides, and
    /// validates the result.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let raw = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("CARTSEAL")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("cors.allowed_origins"),
            )
            .build()
            .map_err(|e| ConfigError(vec![format!("{}: {e}", path.display())]))?;
        let mut settings: Settings = raw
            .try_deserialize()
            .map_err(|e| ConfigError(vec![format!("{}: {e}", path.display())]))?;
        settings.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let problems = settings.validate();
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError(problems))
        }
    }

    /// Checks every value; one line per problem.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = self.limits.validate();
        problems.extend(self.token.validate());
        if self.server.shutdown_timeout_secs > 600 {
            problems.push("server.shutdown_timeout_secs must be at most 600".into());
        }
        for origin in &self.cors.allowed_origins {
            let ok = (origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin.ends_with('/')
                && !origin.contains('*')
                && origin.len() <= 256;
            if !ok {
                problems.push(format!(
                    "cors.allowed_origins: {origin:?} must be an exact origin such as https://shop.example (no \"*\", no \"null\", no path)"
                ));
            }
        }
        if self.redis.timeout_ms == 0 || self.redis.timeout_ms > 10_000 {
            problems.push("redis.timeout_ms must be 1..=10000".into());
        }
        if self.memory.max_carts == 0 {
            problems.push("memory.max_carts must be at least 1".into());
        }
        problems
    }

    /// Loads and validates the keyring.
    pub fn load_keyring(&self) -> Result<(Keyring, Vec<Warning>), KeyringError> {
        Keyring::load(
            &self.keys,
            &self.base_dir,
            self.token.jwt_algorithm.into(),
            self.token.format == Format::Jwt,
        )
    }

    /// Loads the catalog, if one is configured.
    pub fn load_catalog(&self) -> Result<Option<Catalog>, CatalogError> {
        if self.catalog.file.trim().is_empty() {
            return Ok(None);
        }
        Catalog::load(&self.base_dir.join(&self.catalog.file), &self.limits).map(Some)
    }
}
