//! Typed settings from config.toml, with environment overrides, validated at
//! start-up. Every option, its default and the reason for it are documented
//! in the shipped config.toml.
//!
//! Overrides use the prefix `CARTSEAL__` and `__` between levels, for example
//! `CARTSEAL__SERVER__PORT=9000`. Lists (`cors.allowed_origins`) take
//! comma-separated values.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cart::Limits;
use crate::catalog::{Catalog, CatalogError};
use crate::keys::{KeyConfig, Keyring, KeyringError, Warning};
use crate::token::{Format, TokenConfig};

/// Everything config.toml can say.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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
    pub memcached: MemcachedConfig,
    #[serde(default)]
    pub memory: MemoryConfig,
    #[serde(default)]
    pub admin: AdminConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub demo: DemoConfig,
    #[serde(default)]
    pub reload: ReloadConfig,
    /// The folder relative paths start from: the config file's.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

mod sections;

pub use sections::*;

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
        for (name, ms) in [
            (
                "server.client_request_timeout_ms",
                self.server.client_request_timeout_ms,
            ),
            (
                "server.client_disconnect_timeout_ms",
                self.server.client_disconnect_timeout_ms,
            ),
            ("server.body_timeout_ms", self.server.body_timeout_ms),
        ] {
            if !(100..=60_000).contains(&ms) {
                problems.push(format!("{name} must be 100..=60000"));
            }
        }
        if self.server.keep_alive_secs > 600 {
            problems.push("server.keep_alive_secs must be at most 600".into());
        }
        if self.server.max_connections == 0 {
            problems.push("server.max_connections must be at least 1".into());
        }
        for origin in &self.cors.allowed_origins {
            // Origins reach the demo page's HTML and its security policy:
            // only the characters of scheme://host[:port].
            let ok = (origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin.ends_with('/')
                && origin.len() <= 256
                && origin
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'/'))
                && origin.matches('/').count() == 2;
            if !ok {
                problems.push(format!(
                    "cors.allowed_origins: {origin:?} must be an exact origin such as https://shop.example (no \"*\", no \"null\", no path)"
                ));
            }
        }
        if self.redis.timeout_ms == 0 || self.redis.timeout_ms > 10_000 {
            problems.push("redis.timeout_ms must be 1..=10000".into());
        }
        problems.extend(self.memcached.validate());
        if self.memory.max_carts == 0 {
            problems.push("memory.max_carts must be at least 1".into());
        }
        if self.memory.max_bytes < 64 * 1024 {
            problems.push("memory.max_bytes must be at least 65536".into());
        }
        problems
    }

    /// Loads and validates the keyring. The shipped development keys are
    /// refused on a listener that other machines reach, unless
    /// `server.allow_dev_keys` says this is a development machine.
    pub fn load_keyring(&self) -> Result<(Keyring, Vec<Warning>), KeyringError> {
        let (ring, warnings) = Keyring::load(
            &self.keys,
            &self.base_dir,
            self.token.jwt_algorithm.into(),
            self.token.format == Format::Jwt,
        )?;
        if let Some(id) = ring.dev_keys().first()
            && !self.server.is_loopback()
            && !self.server.allow_dev_keys
        {
            return Err(KeyringError::DevKeyExposed {
                id: id.clone(),
                host: self.server.host.clone(),
            });
        }
        Ok((ring, warnings))
    }

    /// Loads the catalog, if one is configured.
    pub fn load_catalog(&self) -> Result<Option<Catalog>, CatalogError> {
        if self.catalog.file.trim().is_empty() {
            return Ok(None);
        }
        Catalog::load(&self.base_dir.join(&self.catalog.file), &self.limits).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Settings {
        Settings::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml"))
            .expect("the shipped config loads")
    }

    #[test]
    fn the_shipped_development_keys_serve_on_loopback_only() {
        let mut settings = shipped();
        for host in ["127.0.0.1", "::1", "localhost"] {
            settings.server.host = host.into();
            assert!(settings.load_keyring().is_ok(), "{host}");
        }
        for host in ["0.0.0.0", "::", "10.1.2.3"] {
            settings.server.host = host.into();
            let refused = settings.load_keyring().err().map(|e| e.to_string());
            assert!(
                refused
                    .as_deref()
                    .is_some_and(|e| e.contains("dev-local-1") && e.contains("allow_dev_keys")),
                "{host}: {refused:?}"
            );
        }
        settings.server.allow_dev_keys = true;
        assert!(
            settings.load_keyring().is_ok(),
            "an explicit development flag"
        );
    }

    #[test]
    fn memcached_settings_are_checked() {
        let mut settings = shipped();
        assert!(settings.validate().is_empty());
        for good in ["tcp://127.0.0.1:11211", "tcp://cache-1.internal:11311"] {
            settings.memcached.url = good.into();
            assert!(settings.validate().is_empty(), "{good}");
        }
        for bad in [
            "127.0.0.1:11211",
            "tcp://127.0.0.1",
            "tcp://127.0.0.1:0",
            "tcp://[::1]:11211",
            "tcp://user:pw@host:11211",
            "unix:///run/memcached.sock",
            "tcp://host:11211/x",
        ] {
            settings.memcached.url = bad.into();
            let problems = settings.validate();
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert!(!problems[0].contains(bad), "the URL is not echoed");
        }
        settings.memcached = MemcachedConfig {
            timeout_ms: 0,
            key_prefix: "has space:".into(),
            pool_size: 0,
            max_value_bytes: 100,
            ..MemcachedConfig::default()
        };
        assert_eq!(settings.validate().len(), 4);
    }

    #[test]
    fn cors_origins_hold_only_the_characters_of_an_origin() {
        let mut settings = shipped();
        for bad in [
            "https://a.example; script-src *",
            "https://a.example/path",
            "https://a.example\" onload=\"x",
            "https://*.example",
            "null",
        ] {
            settings.cors.allowed_origins = vec![bad.into()];
            assert_eq!(settings.validate().len(), 1, "{bad}");
        }
        settings.cors.allowed_origins = vec!["https://shop.example:8443".into()];
        assert!(settings.validate().is_empty());
    }
}
