//! The sections of config.toml other than `[token]`, `[[keys]]` and
//! `[limits]` (which their modules own), with their defaults. config.toml
//! gives each option's reason.

use serde::{Deserialize, Serialize};

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
            max_connections: 4_096,
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

/// `[demo]`: the demo shop page at `/`. Off unless config.toml turns it on:
/// the page shares the cart cookie with every other front end on the host
/// (docs/deployment.md, "One host, two front ends").
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Serve the page; production shops serve their own front-end.
    pub enabled: bool,
    /// Other cartseal origins the page may talk to (`/?api=ORIGIN`, its CSP
    /// `connect-src`); not `cors.allowed_origins`, which says who calls us.
    pub api_origins: Vec<String>,
}

impl DemoConfig {
    /// One line per problem.
    pub fn validate(&self) -> Vec<String> {
        self.api_origins
            .iter()
            .filter(|origin| !is_exact_origin(origin))
            .map(|origin| {
                format!(
                    "demo.api_origins: {origin:?} must be an exact origin such as https://cart.shop.example (no \"*\", no path)"
                )
            })
            .collect()
    }
}

/// True for `http(s)://host[:port]` only: origins reach the demo page's HTML
/// and its security policy.
pub fn is_exact_origin(origin: &str) -> bool {
    (origin.starts_with("https://") || origin.starts_with("http://"))
        && !origin.ends_with('/')
        && origin.len() <= 256
        && origin
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'/'))
        && origin.matches('/').count() == 2
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

/// `[cookie]`: the cart cookie of cookie-mode clients. docs/security.md,
/// "The cart cookie", weighs `same_site` and `partitioned`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CookieConfig {
    /// Secure cookie named `__Host-cart`, else plain `cart`.
    pub secure: bool,
    /// The `SameSite` attribute.
    pub same_site: SameSiteSetting,
    /// The `Partitioned` attribute (CHIPS): a cookie a browser keeps for a
    /// cross-site API, apart for each top-level site.
    pub partitioned: bool,
}

impl Default for CookieConfig {
    fn default() -> Self {
        Self {
            secure: true,
            same_site: SameSiteSetting::Lax,
            partitioned: false,
        }
    }
}

impl CookieConfig {
    /// The cookie's name.
    pub fn name(&self) -> &'static str {
        if self.secure { "__Host-cart" } else { "cart" }
    }

    /// One line per problem: browsers drop a `SameSite=None` or
    /// `Partitioned` cookie that is not `Secure`, silently.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.same_site == SameSiteSetting::None && !self.secure {
            problems.push("cookie.same_site = \"none\" requires cookie.secure = true".into());
        }
        if self.partitioned && !self.secure {
            problems.push("cookie.partitioned = true requires cookie.secure = true".into());
        }
        problems
    }
}

/// `cookie.same_site`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSiteSetting {
    /// Same-site requests and top-level navigations (the default).
    #[default]
    Lax,
    /// Same-site requests only.
    Strict,
    /// Cross-site too, where the browser allows third-party cookies.
    None,
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
    pub fn validate(&self) -> Vec<String> {
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

/// `[reload]`: how the running service picks up a changed config.toml, key
/// file or catalog (src/http/watch.rs; docs/key-rotation.md, "Kubernetes").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReloadConfig {
    /// Watch the files and reload when they change, as SIGHUP does.
    pub watch: bool,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self { watch: true }
    }
}
