//! `spawn_app()`: the real server on port 0, in this test's runtime, with a
//! clock the test moves by hand and a private config directory, and the cart
//! API as methods on it.

use std::sync::Arc;

use cartseal::clock::ManualClock;
use cartseal::config::{Settings, StoreKind};
use cartseal::http::{Application, Reloader};
use reqwest::Method;
use serde_json::Value;

use super::{Auth, Client, ConfigDir, Reply};

/// A running server.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// The admin listener (`/metrics`).
    pub admin: Client,
    pub clock: ManualClock,
    pub reloader: Reloader,
    pub config: ConfigDir,
    pub client: Client,
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

/// The server on a `kind` store that nothing listens for, and the free port
/// its URL names: every store call fails, at once or at a 200 ms deadline.
pub async fn spawn_app_on_a_dead_store(kind: StoreKind) -> (TestApp, u16) {
    let port = crate::process::free_port();
    let app = spawn_app_with(|s| {
        s.store.kind = kind;
        s.redis.url = format!("redis://127.0.0.1:{port}");
        s.redis.timeout_ms = 200;
        s.memcached.url = format!("tcp://127.0.0.1:{port}");
        s.memcached.timeout_ms = 200;
    })
    .await;
    (app, port)
}

/// The server on a config directory the test prepared.
pub async fn spawn_app_in(config: ConfigDir, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = config.settings();
    settings.server.port = 0;
    settings.admin.port = 0;
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
    let admin = app.admin_port().map_or_else(
        || Client::new(format!("http://127.0.0.1:{port}")),
        |admin| Client::new(format!("http://127.0.0.1:{admin}")),
    );
    let reloader = app.reloader();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let address = format!("http://127.0.0.1:{port}");
    TestApp {
        client: Client::new(address.clone()).with_cookie_name(cookie_name),
        address,
        port,
        admin,
        clock,
        reloader,
        config,
        cookie_name,
        handle,
    }
}

/// The client's requests (`send`, `url`, `request`, ...) on the app itself.
impl std::ops::Deref for TestApp {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl TestApp {
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

    /// A fresh bearer cart with `quantity` of `sku`: the token the add
    /// issued.
    pub async fn bearer_cart(&self, sku: &str, quantity: i64) -> String {
        let created = self.create().await;
        let added = self.add(&Auth::Bearer(created), sku, quantity).await;
        added
            .cart_token()
            .unwrap_or_else(|| panic!("no token for the add: {}", added.text))
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
        let mut call = self.client.request(method, path).headers(headers);
        if let Some(body) = body {
            call = call.body(body.to_owned());
        }
        call.send().await
    }

    /// `method path` with `auth` and a body sent as written, not re-encoded,
    /// said to be JSON: for bodies no JSON encoder would write.
    pub async fn send_json_text(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: impl Into<String>,
    ) -> Reply {
        self.request(method, path)
            .auth(auth)
            .header("content-type", "application/json")
            .body(body.into())
            .send()
            .await
    }

    /// `POST /cart/items` of one `sku`, with exactly the headers given:
    /// the request a browser or a script sends on its own terms.
    pub async fn raw_add(&self, headers: &[(&str, &str)], sku: &str) -> Reply {
        let body = serde_json::json!({ "sku": sku }).to_string();
        self.raw(Method::POST, "/cart/items", headers, Some(&body))
            .await
    }

    /// The Prometheus text.
    pub async fn metrics(&self) -> String {
        self.admin.text("/metrics").await
    }

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
