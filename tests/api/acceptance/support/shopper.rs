//! A client of the cart API that holds one credential, and the checks the
//! scenarios share.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Auth, Client, Reply, TestApp};

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
