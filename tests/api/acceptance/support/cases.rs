//! Request tables: one row per request, with the answer it must get.

use cartseal_kit::shopper::Request;
use reqwest::Method;
use serde_json::Value;

use super::Shopper;
use crate::helpers::Reply;

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
        let mut request = Request::new(case.method.as_str(), case.path);
        for (name, value) in &case.headers {
            request = request.header(name, value);
        }
        if let (Some(content_type), Some(body)) = (case.content_type, &case.body) {
            request = request.body(content_type, body.clone());
        }
        self.request(request).await
    }
}
