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
    /// The file these settings came from, to place later problems in it.
    #[serde(skip)]
    pub file: PathBuf,
}

mod redis_config;
mod report;
mod sections;
mod words;

pub use redis_config::RedisConfig;
pub use sections::*;

/// Why settings were refused: one line per problem, each naming the field
/// as config.toml writes it and, where it can, the file and line
/// (`config.toml:131: keys[3].state = "decrypt_only": must be one of …`).
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct ConfigError(pub Vec<String>);

impl Settings {
    /// Reads `path`, applies `CARTSEAL__…` environment overrides, and
    /// validates the result. Refuses with every problem at once: each bad
    /// field, and when the fields parse but break a rule, the keys' and the
    /// catalog's problems too.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let one = |line: String| ConfigError(vec![line]);
        let source = report::Source::read(path).map_err(one)?;
        let raw = config::Config::builder()
            .add_source(config::File::from_str(
                source.text(),
                config::FileFormat::Toml,
            ))
            .add_source(
                config::Environment::with_prefix("CARTSEAL")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("cors.allowed_origins")
                    .with_list_parse_key("demo.api_origins")
                    .with_list_parse_key("redis.cluster_nodes"),
            )
            .build()
            .and_then(|raw| raw.try_deserialize::<config::Value>())
            .map_err(|e| {
                one(format!(
                    "{}: {}",
                    path.display(),
                    e.to_string().replace('\n', "; ")
                ))
            })?;
        let mut settings: Settings = report::deserialize_all(raw).map_err(|mut bad| {
            source.sort(&mut bad);
            ConfigError(
                bad.iter()
                    .map(|b| source.locate(&b.path, &words::describe(b)))
                    .collect(),
            )
        })?;
        settings.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        settings.file = path.to_path_buf();
        let mut problems: Vec<String> = settings
            .validate()
            .iter()
            .map(|p| source.locate_text(p))
            .collect();
        if problems.is_empty() {
            return Ok(settings);
        }
        if let Err(ConfigError(more)) = settings.load_keyring() {
            problems.extend(more);
        }
        if let Err(ConfigError(more)) = settings.check_catalog() {
            problems.extend(more);
        }
        Err(ConfigError(problems))
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
        problems.extend(self.redis.validate());
        problems.extend(self.memcached.validate());
        problems.extend(self.cookie.validate());
        problems.extend(self.demo.validate());
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
    /// `server.allow_dev_keys` says this is a development machine. Refuses
    /// with every problem, one line each, placed in the config file.
    pub fn load_keyring(&self) -> Result<(Keyring, Vec<Warning>), ConfigError> {
        let loaded = Keyring::load_all(
            &self.keys,
            &self.base_dir,
            self.token.jwt_algorithm.into(),
            self.token.format == Format::Jwt,
        );
        let problems = match loaded {
            Ok((ring, warnings)) => {
                let exposed = ring
                    .dev_keys()
                    .first()
                    .filter(|_| !self.server.is_loopback() && !self.server.allow_dev_keys);
                match exposed {
                    None => return Ok((ring, warnings)),
                    Some(id) => vec![KeyringError::DevKeyExposed {
                        id: id.clone(),
                        host: self.server.host.clone(),
                    }],
                }
            }
            Err(problems) => problems,
        };
        Err(self.place_key_problems(&problems))
    }

    /// One line per keyring problem, at the line of the entry's field it
    /// concerns.
    fn place_key_problems(&self, problems: &[KeyringError]) -> ConfigError {
        let source = report::Source::read(&self.file).ok();
        let lines = problems
            .iter()
            .map(|problem| {
                let path = words::key_problem_path(&self.keys, problem);
                let text = problem.to_string();
                match &source {
                    Some(source) => source.locate(&path, &text),
                    None => text,
                }
            })
            .collect();
        ConfigError(lines)
    }

    /// Loads the catalog, if one is configured.
    pub fn load_catalog(&self) -> Result<Option<Catalog>, CatalogError> {
        if self.catalog.file.trim().is_empty() {
            return Ok(None);
        }
        Catalog::load(&self.base_dir.join(&self.catalog.file), &self.limits).map(Some)
    }

    /// [`Self::load_catalog`]'s problem, placed at `catalog.file`.
    fn check_catalog(&self) -> Result<(), ConfigError> {
        let Err(e) = self.load_catalog() else {
            return Ok(());
        };
        let text = format!("catalog.file: {e}");
        Err(ConfigError(vec![match report::Source::read(&self.file) {
            Ok(source) => source.locate_text(&text),
            Err(_) => text,
        }]))
    }
}

#[cfg(test)]
mod tests;
