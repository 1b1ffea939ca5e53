//! The HTTP client of the tests: a server's base URL, the credential a
//! request carries, and the [`Reply`] it gets.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::Value;

use super::Reply;

/// How a request carries its credential.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Cookie(String),
    Bearer(String),
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

/// A client of one server. It follows no redirect, sends `Auth::Cookie` in
/// the server's cart cookie, and may bound every request by a timeout.
/// Clones share their connections.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The cart cookie: `cart` over plain http, `__Host-cart` when secure.
    pub cookie_name: &'static str,
    timeout: Option<Duration>,
}

impl Client {
    /// A client of the server at `base`, whose cart cookie is `cart`.
    pub fn new(base: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        Self {
            http,
            base: base.into(),
            cookie_name: "cart",
            timeout: None,
        }
    }

    /// The same client for a server whose cart cookie is `name`.
    pub fn with_cookie_name(self, name: &'static str) -> Self {
        Self {
            cookie_name: name,
            ..self
        }
    }

    /// The same client, every request of which fails after `timeout`.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            ..self
        }
    }

    /// The same client (and connections), talking to another server.
    pub fn at(&self, base: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            ..self.clone()
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to build further.
    pub fn request(&self, method: Method, path: &str) -> Call {
        let mut request = self.http.request(method, self.url(path));
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        Call {
            request,
            cookie_name: self.cookie_name,
            cookies: Vec::new(),
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.request(Method::POST, path)
    }

    /// A request with a credential and, when given, a JSON body: what most
    /// tests send.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Reply {
        let mut call = self.request(method, path).auth(auth);
        if let Some(body) = body {
            call = call.json(&body);
        }
        call.send().await
    }

    /// The body of a `GET` (the Prometheus text of `/metrics`).
    pub async fn text(&self, path: &str) -> String {
        self.get(path).send().await.text
    }
}

/// One request being built.
pub struct Call {
    request: reqwest::RequestBuilder,
    cookie_name: &'static str,
    /// `name=value` pairs, sent in one `Cookie` header.
    cookies: Vec<String>,
}

impl Call {
    /// The credential, in the cookie or the `Authorization` header.
    pub fn auth(self, auth: &Auth) -> Self {
        match auth {
            Auth::None => self,
            Auth::Cookie(token) => {
                let name = self.cookie_name;
                self.cookie(name, token)
            }
            Auth::Bearer(token) => Self {
                request: self.request.bearer_auth(token),
                ..self
            },
        }
    }

    /// Adds a cookie to the request's `Cookie` header.
    pub fn cookie(mut self, name: &str, value: &str) -> Self {
        self.cookies.push(format!("{name}={value}"));
        self
    }

    /// Adds a header; the same name twice sends it twice.
    pub fn header(self, name: &str, value: &str) -> Self {
        let value = HeaderValue::from_str(value)
            .unwrap_or_else(|e| panic!("{name}: {value:?} is not a header value: {e}"));
        self.header_value(name, value)
    }

    /// Adds a header of any bytes (not only text).
    pub fn header_value(self, name: &str, value: HeaderValue) -> Self {
        Self {
            request: self.request.header(name, value),
            ..self
        }
    }

    pub fn headers(self, headers: &[(&str, &str)]) -> Self {
        headers
            .iter()
            .fold(self, |call, (name, value)| call.header(name, value))
    }

    /// A JSON body, said so in `Content-Type`.
    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_string())
    }

    /// A body as it is, with whatever `Content-Type` the test set.
    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        Self {
            request: self.request.body(body),
            ..self
        }
    }

    /// Sends it; an error when no answer or a broken one comes back.
    pub async fn try_send(self) -> Result<Reply, String> {
        let mut request = self.request;
        if !self.cookies.is_empty() {
            request = request.header("cookie", self.cookies.join("; "));
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        Reply::read(response).await
    }

    /// Sends it; the test fails when no answer comes back.
    pub async fn send(self) -> Reply {
        self.try_send().await.unwrap_or_else(|e| panic!("{e}"))
    }
}
