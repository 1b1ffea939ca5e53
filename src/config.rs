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
    /// The folder relative paths start from: the config file's.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[server]`: the public listener. Each timeout bounds what a slow or idle
/// client can hold (docs/security.md, "Slow and abusive clients").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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
    /// A client must send its whole request head within this, or the
    /// connection is closed with 408.
    pub client_request_timeout_ms: u64,
    /// How long a closing connection may take to shut down.
    pub client_disconnect_timeout_ms: u64,
    /// An idle keep-alive connection is closed after this; 0 disables
    /// keep-alive.
    pub keep_alive_secs: u64,
    /// A request body must arrive whole within this after its head.
    pub body_timeout_ms: u64,
    /// Most connections each worker holds open at once.
    pub max_connections: usize,
    /// Serve with the development keys shipped in keys/ on an address that
    /// is not loopback. Off: such a start is refused.
    pub allow_dev_keys: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            workers: 0,
            shutdown_timeout_secs: 10,
            client_request_timeout_ms: 5_000,
            client_disconnect_timeout_ms: 1_000,
            keep_alive_secs: 30,
            body_timeout_ms: 5_000,
            max_connections: 25_000,
            allow_dev_keys: false,
        }
    }
}

impl ServerConfig {
    /// True when the configured host is a loopback address (or `localhost`):
    /// only this machine can reach it.
    pub fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// `[admin]`: the operators' listener, for `/metrics`. Per-reason rejection
/// counts would tell a client which check its forgery failed, so metrics
/// are not served on the public port.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Serve the admin listener at all.
    pub enabled: bool,
    /// Address to bind; loopback by default.
    pub host: String,
    /// Port to bind; 0 picks a free one.
    pub port: u16,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            host: "127.0.0.1".into(),
            port: 9464,
        }
    }
}

/// `[cache]`: the verified-token cache of the token store
/// ([`crate::token::cache`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Most tokens kept; 0 turns the cache off.
    pub max_entries: usize,
    /// Most bytes kept; 0 turns the cache off.
    pub max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_bytes: 32 * 1024 * 1024,
        }
    }
}

/// `[demo]`: the demo shop page at `/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Serve the page; production shops serve their own front-end.
    pub enabled: bool,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Where carts live between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// Sealed into the client's token.
    #[default]
    Token,
    /// In Redis, under a random session id.
    Redis,
    /// In Memcached, under a random session id.
    Memcached,
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
            Self::Memcached => "memcached",
            Self::Memory => "memory",
            Self::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Exact origins allowed with credentials.
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// The products file; empty for none.
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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

/// `[memcached]`: used only by `store.kind = "memcached"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemcachedConfig {
    /// `tcp://host:port`: the client refuses a bare `host:port`, and opens
    /// IPv4 sockets only.
    pub url: String,
    /// Hard deadline of every call, in milliseconds: waiting for a pooled
    /// connection, connecting, and the exchange.
    pub timeout_ms: u64,
    /// Prefix of every key.
    pub key_prefix: String,
    /// Connections per actix worker: each carries one request at a time, so
    /// a worker makes at most `pool_size` calls per round trip.
    pub pool_size: usize,
    /// Largest value written; a larger cart is refused (413) before it is
    /// sent. Keep it below the server's item size limit (`-I`) less the
    /// item header and key.
    pub max_value_bytes: usize,
}

impl MemcachedConfig {
    /// memcached's default item size limit (`-I 1m`).
    pub const DEFAULT_ITEM_SIZE: usize = 1 << 20;
    /// What an item needs beside its value: the item header (about 60
    /// bytes on 1.6) and a key of up to 250 bytes, rounded up.
    pub const ITEM_OVERHEAD: usize = 1024;
}

impl Default for MemcachedConfig {
    fn default() -> Self {
        Self {
            url: "tcp://127.0.0.1:11211".into(),
            timeout_ms: 250,
            key_prefix: "cartseal:cart:".into(),
            pool_size: 16,
            max_value_bytes: Self::DEFAULT_ITEM_SIZE - Self::ITEM_OVERHEAD,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Most carts held.
    pub max_carts: usize,
    /// Most bytes of carts held.
    pub max_bytes: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            max_carts: 100_000,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

impl MemcachedConfig {
    /// One line per problem.
    fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !is_memcached_url(&self.url) {
            // The URL is not echoed: it names a host of the deployment.
            problems.push(
                "memcached.url must be tcp://host:port (an IPv4 address or a host name)".into(),
            );
        }
        if self.timeout_ms == 0 || self.timeout_ms > 10_000 {
            problems.push("memcached.timeout_ms must be 1..=10000".into());
        }
        // Keys are the prefix and a 22-character session id; memcached takes
        // keys of at most 250 bytes, without spaces or control characters.
        if self.key_prefix.len() > 200
            || self
                .key_prefix
                .bytes()
                .any(|b| b <= b' ' || b == 0x7f || !b.is_ascii())
        {
            problems.push(
                "memcached.key_prefix must be at most 200 printable ASCII characters, without spaces"
                    .into(),
            );
        }
        if !(1..=64).contains(&self.pool_size) {
            problems.push("memcached.pool_size must be 1..=64".into());
        }
        // memcached's own item size limit is 1k..=1024m.
        if !(1024..=1 << 30).contains(&self.max_value_bytes) {
            problems.push("memcached.max_value_bytes must be 1024..=1073741824".into());
        }
        problems
    }
}

/// True for `tcp://host:port` with a port, and nothing after it.
pub fn is_memcached_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("tcp://") else {
        return false;
    };
    let Some((host, port)) = rest.rsplit_once(':') else {
        return false;
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        && port.parse::<u16>().is_ok_and(|p| p > 0)
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
