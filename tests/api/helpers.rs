//! `spawn_app()`: the real server on port 0, in this test's runtime, with a
//! clock the test moves by hand and a private config directory.

// Not every test module uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cartseal::clock::ManualClock;
use cartseal::config::Settings;
use cartseal::http::{Application, Reloader};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Response};
use serde_json::Value;
use tempfile::TempDir;

/// The repository root, where config.toml, keys/ and catalog/ live.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

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
}

#[cfg(unix)]
fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A running server.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub clock: ManualClock,
    pub reloader: Reloader,
    pub config: ConfigDir,
    pub client: reqwest::Client,
    pub cookie_name: &'static str,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stop without waiting: the runtime is going away with the test.
        drop(handle.stop(false));
    }
}

/// The server on the shipped config (plain-http cookie `cart`).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The server with settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_in(ConfigDir::new(), adjust).await
}

/// The server on a config directory the test prepared.
pub async fn spawn_app_in(config: ConfigDir, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = config.settings();
    settings.server.port = 0;
    settings.server.workers = 2;
    settings.cookie.secure = false;
    adjust(&mut settings);
    let cookie_name = settings.cookie.name();
    let clock = ManualClock::new(chrono::Utc::now().timestamp());
    let app = Application::build_with_clock(
        settings,
        Some(config.config_path()),
        Arc::new(clock.clone()),
    )
    .expect("the app builds");
    let port = app.port();
    let reloader = app.reloader();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        clock,
        reloader,
        config,
        client,
        cookie_name,
        handle,
    }
}

/// What a test needs from a response, read once.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub async fn from(response: Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem+json `code`.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// The `Set-Cookie` for `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }

    /// The value of the `Set-Cookie` for `name`, if any.
    pub fn cookie_value(&self, name: &str) -> Option<String> {
        self.set_cookie(name).map(|c| {
            c[name.len() + 1..]
                .split(';')
                .next()
                .unwrap_or("")
                .to_owned()
        })
    }

    /// The `Cart-Token` header.
    pub fn cart_token(&self) -> Option<String> {
        self.header("cart-token").map(str::to_owned)
    }

    /// The (sku, quantity) pairs of a CartView body.
    pub fn lines(&self) -> Vec<(String, u64)> {
        self.body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| {
                        (
                            i["sku"].as_str().unwrap().to_owned(),
                            i["quantity"].as_u64().unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// How a request carries its credential.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Cookie(String),
    Bearer(String),
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A JSON request with a credential.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        request = match auth {
            Auth::None => request,
            Auth::Cookie(token) => {
                request.header("cookie", format!("{}={token}", self.cookie_name))
            }
            Auth::Bearer(token) => request.bearer_auth(token),
        };
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        Reply::from(request.send().await.expect("request sent")).await
    }

    pub async fn get_cart(&self, auth: &Auth) -> Reply {
        self.send(Method::GET, "/cart", auth, None).await
    }

    pub async fn add(&self, auth: &Auth, sku: &str, quantity: i64) -> Reply {
        self.send(
            Method::POST,
            "/cart/items",
            auth,
            Some(serde_json::json!({ "sku": sku, "quantity": quantity })),
        )
        .await
    }

    pub async fn set_quantity(&self, auth: &Auth, line: &str, quantity: i64) -> Reply {
        self.send(
            Method::PATCH,
            &format!("/cart/items/{line}"),
            auth,
            Some(serde_json::json!({ "quantity": quantity })),
        )
        .await
    }

    pub async fn remove(&self, auth: &Auth, line: &str) -> Reply {
        self.send(Method::DELETE, &format!("/cart/items/{line}"), auth, None)
            .await
    }

    /// `POST /cart`: a fresh bearer token.
    pub async fn create(&self) -> String {
        let reply = self.send(Method::POST, "/cart", &Auth::None, None).await;
        assert_eq!(reply.status, 201, "POST /cart: {}", reply.text);
        reply.body["token"].as_str().unwrap().to_owned()
    }

    /// A raw request with arbitrary headers.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_str(value).unwrap());
        }
        if let Some(body) = body {
            request = request.body(body.to_owned());
        }
        Reply::from(request.send().await.expect("request sent")).await
    }

    /// The Prometheus text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

// ---------------------------------------------------------------------------
// Helpers of the HTTP contract suite (cookie_flow, bearer_flow, errors, ...).
// ---------------------------------------------------------------------------

/// Text that would show internal error details leaking into a response body.
const INTERNAL_TEXT: &[&str] = &[
    "panicked",
    "thread '",
    "backtrace",
    "Error(",
    "Error {",
    "Invalid(",
    "Crypto",
    "Os {",
    "kind:",
    "serde",
    "pasetors",
    "redis://",
    "src/",
    ".rs:",
    "unwrap",
];

/// One `Set-Cookie` header, parsed.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// Attribute names (lower-cased) and their values.
    pub attributes: Vec<(String, Option<String>)>,
    /// The header as sent.
    pub raw: String,
}

impl SetCookie {
    pub fn parse(header: &str) -> Self {
        let mut parts = header.split(';');
        let (name, value) = parts
            .next()
            .and_then(|pair| pair.split_once('='))
            .unwrap_or_else(|| panic!("a Set-Cookie without name=value: {header}"));
        let attributes = parts
            .map(|attribute| match attribute.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_owned())),
                None => (attribute.trim().to_ascii_lowercase(), None),
            })
            .collect();
        Self {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
            attributes,
            raw: header.to_owned(),
        }
    }

    /// True when the attribute (a flag or a key) is present.
    pub fn has(&self, attribute: &str) -> bool {
        let attribute = attribute.to_ascii_lowercase();
        self.attributes.iter().any(|(k, _)| *k == attribute)
    }

    /// The value of an attribute.
    pub fn get(&self, attribute: &str) -> Option<&str> {
        let attribute = attribute.to_ascii_lowercase();
        self.attributes
            .iter()
            .find(|(k, _)| *k == attribute)
            .and_then(|(_, v)| v.as_deref())
    }

    /// `Max-Age`, in seconds.
    pub fn max_age(&self) -> Option<i64> {
        self.get("max-age").map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("Max-Age is not a number: {}", self.raw))
        })
    }

    /// Asserts the attributes every cart cookie carries (DESIGN section 5):
    /// HttpOnly; SameSite=Lax; Path=/; Secure exactly when `secure`; no
    /// Domain (a `__Host-` cookie must not have one).
    pub fn assert_cart_attributes(&self, secure: bool) {
        let expected_name = if secure { "__Host-cart" } else { "cart" };
        assert_eq!(self.name, expected_name, "cookie name: {}", self.raw);
        assert!(self.has("httponly"), "HttpOnly is missing: {}", self.raw);
        assert_eq!(
            self.get("samesite").map(str::to_ascii_lowercase).as_deref(),
            Some("lax"),
            "SameSite=Lax is missing: {}",
            self.raw
        );
        assert_eq!(
            self.get("path"),
            Some("/"),
            "Path=/ is missing: {}",
            self.raw
        );
        assert_eq!(self.has("secure"), secure, "Secure flag: {}", self.raw);
        assert!(
            !self.has("domain"),
            "a cart cookie has no Domain: {}",
            self.raw
        );
    }
}

impl Reply {
    /// Every `Set-Cookie` header, parsed.
    pub fn set_cookies(&self) -> Vec<SetCookie> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(SetCookie::parse)
            .collect()
    }

    /// The parsed `Set-Cookie` for `name`.
    pub fn cookie(&self, name: &str) -> Option<SetCookie> {
        self.set_cookies().into_iter().find(|c| c.name == name)
    }

    /// The CartView `revision`.
    pub fn revision(&self) -> u64 {
        self.body["revision"]
            .as_u64()
            .unwrap_or_else(|| panic!("no revision in {}", self.text))
    }

    /// The `line` key of the item with this sku.
    pub fn line_of(&self, sku: &str) -> String {
        self.body["items"]
            .as_array()
            .and_then(|items| items.iter().find(|i| i["sku"] == sku))
            .and_then(|i| i["line"].as_str())
            .unwrap_or_else(|| panic!("no line for {sku} in {}", self.text))
            .to_owned()
    }

    /// Asserts an RFC 9457 problem: the status, `application/problem+json`,
    /// the five members (status and code as expected), and no internal text.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "expected {status} {code}, got {}: {}",
            self.status,
            self.text
        );
        self.assert_problem_shape();
    }

    /// Asserts the problem+json form of an error, whatever its code.
    pub fn assert_problem_shape(&self) {
        let content_type = self.header("content-type").unwrap_or("");
        assert!(
            content_type.starts_with("application/problem+json"),
            "an error must be application/problem+json, got {content_type:?} for {} {}",
            self.status,
            self.text
        );
        let body = &self.body;
        assert!(
            body["type"].as_str().is_some_and(|t| !t.is_empty()),
            "problem without type: {}",
            self.text
        );
        assert!(
            body["title"].as_str().is_some_and(|t| !t.is_empty()),
            "problem without title: {}",
            self.text
        );
        assert_eq!(
            body["status"].as_u64(),
            Some(u64::from(self.status)),
            "problem status: {}",
            self.text
        );
        assert!(
            body["code"].as_str().is_some_and(|t| !t.is_empty()),
            "problem without code: {}",
            self.text
        );
        assert!(
            body["detail"].as_str().is_some_and(|t| !t.is_empty()),
            "problem without detail: {}",
            self.text
        );
        for leak in INTERNAL_TEXT {
            assert!(
                !self.text.contains(leak),
                "internal text {leak:?} in an error body: {}",
                self.text
            );
        }
    }

    /// Asserts that this response issued no credential at all.
    pub fn assert_no_new_credential(&self) {
        assert!(
            self.header("set-cookie").is_none(),
            "no Set-Cookie expected: {:?}",
            self.headers.get_all("set-cookie")
        );
        assert!(
            self.cart_token().is_none(),
            "no Cart-Token expected: {:?}",
            self.cart_token()
        );
    }
}

impl TestApp {
    /// The manual clock's now, in Unix seconds.
    pub fn now(&self) -> i64 {
        use cartseal::clock::Clock;
        self.clock.now()
    }

    /// `POST /cart/items` with properties.
    pub async fn add_with(
        &self,
        auth: &Auth,
        sku: &str,
        quantity: i64,
        properties: &[(&str, &str)],
    ) -> Reply {
        let properties: serde_json::Map<String, Value> = properties
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        self.send(
            Method::POST,
            "/cart/items",
            auth,
            Some(serde_json::json!({ "sku": sku, "quantity": quantity, "properties": properties })),
        )
        .await
    }

    /// `POST /cart/merge`.
    pub async fn merge(&self, auth: &Auth, token: &str) -> Reply {
        self.send(
            Method::POST,
            "/cart/merge",
            auth,
            Some(serde_json::json!({ "token": token })),
        )
        .await
    }

    /// `DELETE /cart`.
    pub async fn clear(&self, auth: &Auth) -> Reply {
        self.send(Method::DELETE, "/cart", auth, None).await
    }

    /// The credential to send after `reply`: the new one it issued in the
    /// transport `auth` uses (a cookie for `Auth::None`), else `auth` itself.
    pub fn next_auth(&self, auth: &Auth, reply: &Reply) -> Auth {
        match auth {
            Auth::Bearer(old) => Auth::Bearer(reply.cart_token().unwrap_or_else(|| old.clone())),
            Auth::Cookie(_) | Auth::None => match reply.cookie_value(self.cookie_name) {
                Some(new) if !new.is_empty() => Auth::Cookie(new),
                _ => auth.clone(),
            },
        }
    }

    /// The token issued by `reply` in the transport of `auth`.
    pub fn issued(&self, auth: &Auth, reply: &Reply) -> Option<String> {
        match auth {
            Auth::Bearer(_) => reply.cart_token(),
            Auth::Cookie(_) | Auth::None => reply.cookie_value(self.cookie_name),
        }
    }
}

impl Auth {
    /// The token this credential carries.
    pub fn token(&self) -> Option<&str> {
        match self {
            Auth::None => None,
            Auth::Cookie(t) | Auth::Bearer(t) => Some(t),
        }
    }
}

impl ConfigDir {
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

/// The key id in a PASETO token's footer: the last `.`-segment, base64url
/// of `{"kid":"k4.lid..."}`.
pub fn footer_kid(token: &str) -> String {
    use base64::Engine;
    let footer = token.rsplit('.').next().unwrap_or("");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(footer)
        .unwrap_or_else(|e| panic!("the footer of {token:?} is not base64url: {e}"));
    let value: Value = serde_json::from_slice(&json)
        .unwrap_or_else(|e| panic!("the footer of {token:?} is not JSON: {e}"));
    value["kid"]
        .as_str()
        .unwrap_or_else(|| panic!("no kid in the footer {value}"))
        .to_owned()
}

/// The kid of the shipped development local key.
pub fn dev_local_kid() -> String {
    let settings = Settings::load(&repo().join("config.toml")).expect("shipped config loads");
    let (ring, _) = settings.load_keyring().expect("shipped keyring loads");
    ring.active_local().material.kid().to_owned()
}

/// A unique label for keys and skus, so that tests sharing the process-wide
/// metrics registry never count each other's events.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `len` characters of `[A-Za-z0-9]` that do not compress: a deterministic
/// xorshift stream, so that failures reproduce.
pub fn noise(seed: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ALPHABET[(state % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// A local port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Sends raw bytes over one HTTP/1.1 connection (the request should say
/// `Connection: close`) and returns the status and the whole response text.
/// For requests reqwest will not build: chunked bodies, odd header bytes.
pub async fn raw_http(port: u16, request: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(request).await.expect("write request");
    let mut response = Vec::new();
    // The server may close before reading everything we sent; what it
    // answered is still in the buffer.
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    (status, text)
}

/// The real `cartseal` binary, started as a black box on port 0 with a
/// config directory, its stdout and stderr captured together (killed with
/// its process group on drop, as [`ChildGuard`] does).
pub struct BinaryServer {
    pub proc: ChildGuard,
    pub url: String,
}

impl BinaryServer {
    /// How long the binary may take to start or stop before the test gives
    /// up (a hang guard, not a timing assertion).
    pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

    /// `cartseal serve --config <dir>/config.toml --port 0`, with a plain
    /// `cart` cookie and `env` on top of a clean `CARTSEAL*`/`RUST_LOG`
    /// environment.
    pub fn spawn(config: &ConfigDir, env: &[(&str, &str)]) -> Self {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_cartseal"));
        command
            .current_dir(config.path())
            .arg("serve")
            .arg("--config")
            .arg(config.config_path())
            .args(["--port", "0"]);
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name.starts_with("CARTSEAL") || name == "RUST_LOG" {
                command.env_remove(&key);
            }
        }
        command.env("CARTSEAL__COOKIE__SECURE", "false");
        for (key, value) in env {
            command.env(key, value);
        }
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let url_tx = std::sync::Mutex::new(url_tx);
        let mut proc = ChildGuard::spawn("cartseal", command, move |line| {
            if let Some((_, url)) = line.split_once("cartseal listening on ") {
                let _ = url_tx.lock().unwrap().send(url.trim().to_owned());
            }
        });
        let Ok(url) = url_rx.recv_timeout(Self::PATIENCE) else {
            proc.kill();
            panic!(
                "cartseal did not print its address; output:\n{}",
                proc.output()
            );
        };
        Self { proc, url }
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Everything the process printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.proc.output()
    }

    /// Sends a signal by name (`HUP`, `TERM`) with kill(1).
    pub fn signal(&self, name: &str) {
        self.proc.signal(name);
    }

    /// Waits for the process to exit, up to `patience` (a hang guard).
    pub fn wait_exit(&mut self, patience: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            if let Some(status) = self.proc.exited() {
                return Some(status);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

// ---------------------------------------------------------------------------
// Child processes: a guard that kills on drop, and a private redis-server.
// Used by the acceptance suite (redis store) and the failover tests.
// ---------------------------------------------------------------------------

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A child process in a process group of its own, SIGKILLed with its group
/// when the guard drops (also when the test panics). Its stdout and stderr
/// are kept, and printed if the test fails.
pub struct ChildGuard {
    name: String,
    child: Child,
    output: Arc<Mutex<String>>,
}

impl ChildGuard {
    /// Spawns `cmd`; `on_stdout` sees every stdout line (to spot readiness).
    pub fn spawn(name: &str, mut cmd: Command, on_stdout: impl Fn(&str) + Send + 'static) -> Self {
        use std::os::unix::process::CommandExt;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        collect_lines(child.stdout.take().unwrap(), output.clone(), on_stdout);
        collect_lines(child.stderr.take().unwrap(), output.clone(), |_| {});
        Self {
            name: name.to_owned(),
            child,
            output,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process printed so far.
    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Sends a signal (`"STOP"`, `"CONT"`, `"KILL"`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("kill(1) runs");
        assert!(
            status.success(),
            "kill -{signal} {} ({})",
            self.pid(),
            self.name
        );
    }

    /// SIGKILL to the whole process group, then reap the child. SIGKILL
    /// also ends a stopped process.
    pub fn kill(&mut self) {
        if self.exited().is_none() {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", self.pid())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let out = self.output();
            let mut start = out.len().saturating_sub(4000);
            while !out.is_char_boundary(start) {
                start += 1;
            }
            eprintln!(
                "----- output of {} (last 4000 bytes) -----\n{}\n-----",
                self.name,
                &out[start..]
            );
        }
    }
}

fn collect_lines(
    stream: impl Read + Send + 'static,
    sink: Arc<Mutex<String>>,
    on_line: impl Fn(&str) + Send + 'static,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            on_line(&line);
            let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
            sink.push_str(&line);
            sink.push('\n');
        }
    });
}

/// A private `redis-server` on a free port, without persistence (as the
/// benchmarks and the failover test run it), killed on drop.
///
/// Starting and restarting block the calling thread while they wait for
/// PING: call them from `spawn_blocking` while a server under test shares
/// the runtime.
pub struct RedisServer {
    proc: ChildGuard,
    port: u16,
    dir: TempDir,
}

impl RedisServer {
    /// How long a start may take before the test fails.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// Starts one on a free port. Fails loudly when redis-server is missing.
    pub fn start() -> Self {
        assert!(
            Command::new("redis-server")
                .arg("--version")
                .output()
                .is_ok(),
            "redis-server is missing: the redis store's tests need it \
             (apt-get install redis-server; scripts/test installs it), or set REDIS_URL"
        );
        let dir = tempfile::tempdir().expect("a temp dir for redis-server");
        // Another process can take the free port first: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(closed_port(), &dir) {
                Ok((proc, port)) => return Self { proc, port, dir },
                Err(output) => last = output,
            }
        }
        panic!("redis-server did not start:\n{last}");
    }

    fn try_start(port: u16, dir: &TempDir) -> Result<(ChildGuard, u16), String> {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path());
        let mut proc = ChildGuard::spawn("redis-server", cmd, |_| {});
        let deadline = Instant::now() + Self::PATIENCE;
        while Instant::now() < deadline {
            if redis_ping(port) {
                return Ok((proc, port));
            }
            if proc.exited().is_some() {
                std::thread::sleep(Duration::from_millis(50));
                return Err(proc.output());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(format!(
            "no PONG within {:?}\n{}",
            Self::PATIENCE,
            proc.output()
        ))
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sends a signal to the server (`"STOP"` pauses it, `"CONT"` resumes).
    pub fn signal(&self, signal: &str) {
        self.proc.signal(signal);
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Kills the server and starts a new, empty one on the same port: a
    /// restart without persistence.
    pub fn restart(&mut self) {
        self.proc.kill();
        let deadline = Instant::now() + Self::PATIENCE;
        loop {
            match Self::try_start(self.port, &self.dir) {
                Ok((proc, _)) => {
                    self.proc = proc;
                    return;
                }
                Err(output) if Instant::now() > deadline => {
                    panic!("redis-server did not restart on {}:\n{output}", self.port)
                }
                // The old socket may linger for a moment.
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

/// True when a Redis server answers PING on `port`.
pub fn redis_ping(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

/// The token with one character in its middle changed: still well-formed,
/// no longer authentic.
pub fn tamper(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("tokens are ASCII")
}

/// Unix seconds in the form CartView's `expires_at` uses.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .expect("a representable time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}
