//! A client of the cart API that holds one credential (the kit's virtual
//! shopper over the tests' client), and the checks the scenarios share.

use std::time::{Duration, Instant};

pub use cartseal_kit::shopper::Via;
use cartseal_kit::shopper::{self, Jar, Request};

use crate::helpers::{Client, Reply, TestApp};

/// One client: the credential it holds, sent back the way it came, replaced
/// by every new one a response issues (as a browser or an app would).
#[derive(Debug, Clone)]
pub struct Shopper(shopper::Shopper<Client>);

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
        self.0.jar.via = Via::Bearer;
        self.0.jar.token = None;
        let created = self.request(Request::create()).await;
        assert_eq!(created.status, 201, "POST /cart: {}", created.text);
        assert!(
            created.header("set-cookie").is_none(),
            "POST /cart sets no cookie"
        );
        let token = created.body["token"].as_str().expect("a token").to_owned();
        assert_eq!(created.cart_token().as_deref(), Some(token.as_str()));
        self.0.jar.token = Some(token);
        self
    }

    /// A client holding `credential`, sent by `via`.
    pub fn holding(app: &TestApp, via: Via, credential: Option<String>) -> Self {
        let jar = Jar::new(via, app.client.cookie_name).holding(credential);
        Self(shopper::Shopper::new(jar, app.client.clone()))
    }

    /// The same client, talking to another instance.
    pub fn at(&self, app: &TestApp) -> Self {
        let mut other = self.clone();
        other.0.transport = self.0.transport.at(app.address.clone());
        other
    }

    pub fn credential(&self) -> String {
        self.0
            .jar
            .token
            .clone()
            .expect("the shopper holds a credential")
    }

    /// Any request, with the shopper's credential.
    pub async fn request(&mut self, request: Request) -> Reply {
        self.0
            .call(&request)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn get(&mut self) -> Reply {
        self.request(Request::read()).await
    }

    pub async fn add(&mut self, sku: &str, quantity: i64) -> Reply {
        self.request(Request::add(sku, quantity, None)).await
    }

    pub async fn set(&mut self, line: &str, quantity: i64) -> Reply {
        self.request(Request::set(line, quantity)).await
    }

    pub async fn remove(&mut self, line: &str) -> Reply {
        self.request(Request::remove(line)).await
    }

    pub async fn clear(&mut self) -> Reply {
        self.request(Request::clear()).await
    }

    pub async fn merge(&mut self, token: &str) -> Reply {
        self.request(Request::merge(token)).await
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
