//! The machinery of the acceptance suite: the store under test and what it
//! cannot do ([`Facts`]), a running server on it ([`Rig`]), and a client of
//! the cart API ([`Shopper`]).

use std::time::{Duration, Instant};

use cartseal::config::{Settings, StoreKind};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Auth, Client, ConfigDir, RedisTarget, Reply, TestApp, spawn_app_in};

// ---------------------------------------------------------------------------
// The stores and what they cannot do
// ---------------------------------------------------------------------------

/// The store a scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Store(pub StoreKind);

/// What a store can and cannot do: the expected outcomes that differ.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// The server can end a cart before it expires.
    pub revocation: bool,
    /// A cart outlives the replica that wrote it.
    pub survives_replica_loss: bool,
    /// A cart outlives a restart of the store.
    pub survives_store_restart: bool,
    /// The code for a credential with one character changed. A token's MAC
    /// fails (`token_invalid`); a session id carries no MAC, so a changed id
    /// is merely one the store does not hold (`token_expired`).
    pub tampered_code: &'static str,
}

impl Store {
    pub fn facts(self) -> Facts {
        match self.0 {
            StoreKind::Token => Facts {
                revocation: false,
                survives_replica_loss: true,
                survives_store_restart: true,
                tampered_code: "token_invalid",
            },
            StoreKind::Redis => Facts {
                revocation: true,
                survives_replica_loss: true,
                survives_store_restart: false,
                tampered_code: "token_expired",
            },
            StoreKind::Memory => Facts {
                revocation: true,
                survives_replica_loss: false,
                survives_store_restart: false,
                tampered_code: "token_expired",
            },
            StoreKind::None => {
                unreachable!("the none store keeps no carts: it is not in the suite")
            }
        }
    }

    pub async fn spawn(self) -> Rig {
        self.spawn_with(|_| {}).await
    }

    pub async fn spawn_with(self, adjust: impl FnOnce(&mut Settings)) -> Rig {
        let redis =
            (self.0 == StoreKind::Redis).then(|| RedisTarget::shared_or_private("acceptance"));
        Rig::start(self, redis, adjust).await
    }

    /// With a redis-server of its own even when `REDIS_URL` is set: for the
    /// scenarios that restart it.
    pub async fn spawn_private(self) -> Rig {
        let redis = (self.0 == StoreKind::Redis).then(|| RedisTarget::private("acceptance"));
        Rig::start(self, redis, |_| {}).await
    }
}

/// A running server on one store, and what the scenario may do to it.
pub struct Rig {
    app: TestApp,
    store: Store,
    redis: Option<RedisTarget>,
    max_carts: usize,
}

impl std::ops::Deref for Rig {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Rig {
    async fn start(
        store: Store,
        redis: Option<RedisTarget>,
        adjust: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut max_carts = 0;
        let app = spawn_instance(store, redis.as_ref(), |s| {
            adjust(s);
            max_carts = s.memory.max_carts;
        })
        .await;
        Self {
            app,
            store,
            redis,
            max_carts,
        }
    }

    /// Another instance of the service: the same keys, the same Redis.
    pub async fn replica(&self) -> TestApp {
        spawn_instance(self.store, self.redis.as_ref(), |_| {}).await
    }

    /// `secs` pass: on the app's clock, and for Redis on its own clock.
    pub async fn time_passes(&self, secs: i64) {
        self.app.clock.advance(secs);
        let Some(redis) = &self.redis else { return };
        let mut conn = redis.connection().await;
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{}*", redis.prefix))
            .query_async(&mut conn)
            .await
            .expect("KEYS");
        for key in keys {
            let left: i64 = ::redis::cmd("PTTL")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .expect("PTTL");
            if left < 0 {
                continue; // gone, or no TTL (the test would then see it stay)
            }
            let passed = secs * 1000;
            let aged = if left <= passed {
                ::redis::cmd("DEL").arg(&key).clone()
            } else {
                ::redis::cmd("PEXPIRE").arg(&key).arg(left - passed).clone()
            };
            let _: i64 = aged.query_async(&mut conn).await.expect("age a key");
        }
    }

    /// Ends a cart server-side, the only way each store can, and says
    /// whether it could: Redis deletes the key; the memory store (spawned
    /// with `memory.max_carts` small) evicts it to make room for other
    /// clients' carts, the same removal its `revoke` does; a token cannot be
    /// ended by anything the server does.
    pub async fn end_cart(&self, credential: &str) -> bool {
        match self.store.0 {
            StoreKind::Token => false,
            StoreKind::Redis => {
                let redis = self.redis.as_ref().expect("a redis rig has Redis");
                let removed: i64 = ::redis::cmd("DEL")
                    .arg(redis.key(credential))
                    .query_async(&mut redis.connection().await)
                    .await
                    .expect("DEL");
                removed == 1
            }
            StoreKind::Memory => {
                assert!(
                    (1..=10).contains(&self.max_carts),
                    "spawn the memory store with a small memory.max_carts to end carts"
                );
                for i in 0..self.max_carts {
                    let mut other = Shopper::cookie(&self.app);
                    other
                        .add(&catalog_sku(40 + i), 1)
                        .await
                        .assert_ok("another cart");
                }
                true
            }
            StoreKind::None => unreachable!(),
        }
    }

    /// Restarts the store: Redis restarts empty (no persistence); for the
    /// memory store the store is the process, and for the token store there
    /// is no store, so the service restarts (a new instance, the same keys).
    pub async fn restart_store(&mut self) {
        match self.store.0 {
            StoreKind::Redis => {
                let redis = self.redis.as_mut().expect("a redis rig has Redis");
                redis.restart().await;
            }
            _ => self.app = self.replica().await,
        }
    }

    /// Swaps in another instance; the old one stops (its replica is lost).
    pub fn lose_replica_to(&mut self, survivor: TestApp) {
        self.app = survivor;
    }
}

async fn spawn_instance(
    store: Store,
    redis: Option<&RedisTarget>,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    spawn_app_in(ConfigDir::new(), |s| {
        s.store.kind = store.0;
        if let Some(redis) = redis {
            s.redis.url = redis.url().to_owned();
            s.redis.key_prefix = redis.prefix.clone();
        }
        adjust(s);
    })
    .await
}

// ---------------------------------------------------------------------------
// A client of the cart API
// ---------------------------------------------------------------------------

/// How a shopper carries its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Cookie,
    Bearer,
}

/// One client: the credential it holds, sent back the way it came, replaced
/// by every new one a response issues (as a browser or an app would).
#[derive(Debug, Clone)]
pub struct Shopper {
    client: Client,
    via: Via,
    credential: Option<String>,
}

impl Shopper {
    /// A browser with no cookie yet.
    pub fn cookie(app: &TestApp) -> Self {
        Self::holding(app, Via::Cookie, None)
    }

    /// An app that got a fresh bearer token from `POST /cart`.
    pub async fn bearer(app: &TestApp) -> Self {
        Self::cookie(app).into_bearer().await
    }

    /// This client as an app: it gets a fresh token from `POST /cart`, which
    /// sets no cookie, and sends it as a bearer token from then on.
    pub async fn into_bearer(mut self) -> Self {
        self.via = Via::Bearer;
        self.credential = None;
        let created = self.send(Method::POST, "/cart", None).await;
        assert_eq!(created.status, 201, "POST /cart: {}", created.text);
        assert!(
            created.header("set-cookie").is_none(),
            "POST /cart sets no cookie"
        );
        let token = created.body["token"].as_str().expect("a token").to_owned();
        assert_eq!(created.cart_token().as_deref(), Some(token.as_str()));
        self.credential = Some(token);
        self
    }

    /// A client holding `credential`, sent by `via`.
    pub fn holding(app: &TestApp, via: Via, credential: Option<String>) -> Self {
        Self {
            client: app.client.clone(),
            via,
            credential,
        }
    }

    /// The same client, talking to another instance.
    pub fn at(&self, app: &TestApp) -> Self {
        Self {
            client: self.client.at(app.address.clone()),
            ..self.clone()
        }
    }

    pub fn credential(&self) -> String {
        self.credential
            .clone()
            .expect("the shopper holds a credential")
    }

    pub async fn send(&mut self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let content_type = body.as_ref().map(|_| "application/json");
        let body = body.map(|b| b.to_string());
        self.request(method, path, &[], content_type, body).await
    }

    /// Any request, with the shopper's credential and extra headers.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        content_type: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let auth = match (&self.credential, self.via) {
            (None, _) => Auth::None,
            (Some(c), Via::Cookie) => Auth::Cookie(c.clone()),
            (Some(c), Via::Bearer) => Auth::Bearer(c.clone()),
        };
        let mut call = self.client.request(method, path).auth(&auth);
        call = call.headers(headers);
        if let Some(content_type) = content_type {
            call = call.header("content-type", content_type);
        }
        if let Some(body) = body {
            call = call.body(body);
        }
        let reply = call.send().await;
        let issued = match self.via {
            Via::Cookie => reply.cookie_value(self.client.cookie_name),
            Via::Bearer => reply.cart_token(),
        };
        if let Some(new) = issued.filter(|c| !c.is_empty()) {
            self.credential = Some(new);
        }
        reply
    }

    pub async fn get(&mut self) -> Reply {
        self.send(Method::GET, "/cart", None).await
    }

    pub async fn add(&mut self, sku: &str, quantity: i64) -> Reply {
        let body = json!({ "sku": sku, "quantity": quantity });
        self.send(Method::POST, "/cart/items", Some(body)).await
    }

    pub async fn set(&mut self, line: &str, quantity: i64) -> Reply {
        let body = json!({ "quantity": quantity });
        let path = format!("/cart/items/{line}");
        self.send(Method::PATCH, &path, Some(body)).await
    }

    pub async fn remove(&mut self, line: &str) -> Reply {
        let path = format!("/cart/items/{line}");
        self.send(Method::DELETE, &path, None).await
    }

    pub async fn clear(&mut self) -> Reply {
        self.send(Method::DELETE, "/cart", None).await
    }

    pub async fn merge(&mut self, token: &str) -> Reply {
        let body = json!({ "token": token });
        self.send(Method::POST, "/cart/merge", Some(body)).await
    }

    /// `GET /cart`, again while the store answers 503 (Redis reconnecting
    /// after a restart), for at most 10 s: a hang guard, not a timing check.
    pub async fn get_once_the_store_answers(&mut self) -> Reply {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let reply = self.get().await;
            if reply.status != 503 || Instant::now() > deadline {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Checks shared by the scenarios.
pub trait Expect {
    fn assert_ok(&self, what: &str);
    fn assert_lines(&self, expected: &[(&str, u64)], what: &str);
    fn assert_refused_credential(&self, via: Via, cookie_name: &str, code: &str, what: &str);
}

impl Expect for Reply {
    fn assert_ok(&self, what: &str) {
        assert_eq!(self.status, 200, "{what}: {}", self.text);
    }

    fn assert_lines(&self, expected: &[(&str, u64)], what: &str) {
        self.assert_ok(what);
        let expected: Vec<(String, u64)> = expected
            .iter()
            .map(|(s, q)| ((*s).to_owned(), *q))
            .collect();
        assert_eq!(self.lines(), expected, "{what}: {}", self.text);
    }

    /// A 401 with `code`: the cookie is cleared in cookie mode, and bearer
    /// mode says `WWW-Authenticate: Bearer error="invalid_token"`. No new
    /// credential is issued either way.
    fn assert_refused_credential(&self, via: Via, cookie_name: &str, code: &str, what: &str) {
        assert_eq!(
            (self.status, self.code()),
            (401, code),
            "{what}: {}",
            self.text
        );
        self.assert_problem(401, code);
        assert!(
            self.cart_token().is_none(),
            "{what}: no Cart-Token on a 401"
        );
        match via {
            Via::Cookie => {
                let cookie = self.cookie(cookie_name).unwrap_or_else(|| {
                    panic!(
                        "{what}: a 401 clears the cookie; headers {:?}",
                        self.headers
                    )
                });
                assert!(
                    cookie.value.is_empty() && cookie.max_age() == Some(0),
                    "{what}: the cookie is cleared: {}",
                    cookie.raw
                );
            }
            Via::Bearer => {
                assert_eq!(
                    self.header("www-authenticate"),
                    Some(r#"Bearer error="invalid_token""#),
                    "{what}"
                );
                assert!(self.header("set-cookie").is_none(), "{what}: no cookie");
            }
        }
    }
}

/// The `i`-th sku of the shipped catalog (50 products, catalog/products.json;
/// the first are TEE-100, HOOD-101, CAP-102, SOCK-103, MUG-104, BOTL-105).
pub fn catalog_sku(i: usize) -> String {
    thread_local! {
        static SKUS: Vec<String> = {
            let path = crate::helpers::repo().join("catalog/products.json");
            let text = std::fs::read_to_string(path).expect("the shipped catalog");
            let products: Vec<Value> = serde_json::from_str(&text).expect("catalog JSON");
            products
                .iter()
                .map(|p| p["sku"].as_str().expect("a sku").to_owned())
                .collect()
        };
    }
    SKUS.with(|skus| skus[i % skus.len()].clone())
}

/// One day and the token leeway, in seconds.
pub const DAY: i64 = 86_400;
pub const LEEWAY: i64 = 60;
/// The shipped idle and absolute lifetimes (config.toml).
pub const IDLE: i64 = 7 * DAY;
pub const ABSOLUTE: i64 = 30 * DAY;

/// Changes one character in the middle of a credential, keeping it in the
/// credential alphabet (and canonical base64url: the last character of a
/// session id carries padding bits, the middle ones do not).
pub fn flip_char(credential: &mut String) {
    let i = credential.len() / 2;
    let old = credential.as_bytes()[i];
    let new = if old == b'A' { 'B' } else { 'A' };
    credential.replace_range(i..=i, &new.to_string());
}

/// One row of a request table: the request, and the answer it must get.
#[derive(Debug, Clone)]
pub struct Case {
    pub what: String,
    pub method: Method,
    pub path: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub content_type: Option<&'static str>,
    pub body: Option<String>,
    pub status: u16,
    pub code: &'static str,
}

impl Case {
    /// A request; it must get 200 unless [`Case::expect`] says otherwise.
    pub fn new(what: &str, method: Method, path: &'static str) -> Self {
        Self {
            what: what.to_owned(),
            method,
            path,
            headers: Vec::new(),
            content_type: None,
            body: None,
            status: 200,
            code: "",
        }
    }

    /// With a JSON body.
    pub fn json(self, body: Value) -> Self {
        self.body("application/json", body.to_string())
    }

    /// With a body of another type.
    pub fn body(mut self, content_type: &'static str, body: impl Into<String>) -> Self {
        self.content_type = Some(content_type);
        self.body = Some(body.into());
        self
    }

    /// With a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The answer it must get.
    pub fn expect(mut self, status: u16, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }
}

impl Shopper {
    /// Sends a table row with this shopper's credential.
    pub async fn attempt(&mut self, case: &Case) -> Reply {
        let headers: Vec<(&str, &str)> =
            case.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        self.request(
            case.method.clone(),
            case.path,
            &headers,
            case.content_type,
            case.body.clone(),
        )
        .await
    }
}
