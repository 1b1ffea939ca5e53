//! `spawn_app()`: the real server on port 0, in this test's runtime, with a
//! clock the test moves by hand and a private config directory.

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
