//! [`Reply`]: what a test needs from a response, read once, and the
//! assertions of the HTTP contract on it.

use reqwest::Response;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// What a test needs from a response, read once.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// Reads a response; an error when its body breaks off.
    pub async fn read(response: Response) -> Result<Self, String> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| format!("a broken answer: {e}"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Self {
            status,
            headers,
            body,
            text,
        })
    }

    /// The first `name` header as text, if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts that the comma-separated list in the `name` headers (all of
    /// them, as `Vary` may come in several) holds each of `values`, without
    /// regard to case, as the CORS lists are compared.
    pub fn assert_header_lists(&self, name: &str, values: &[&str], what: &str) {
        let listed: Vec<String> = self
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_ascii_lowercase())
            .collect();
        for value in values {
            assert!(
                listed.iter().any(|l| l.eq_ignore_ascii_case(value)),
                "{what}: {name} must list {value}, got {listed:?}"
            );
        }
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

    /// Asserts the attributes every cart cookie carries (docs/architecture.md, "The request path"):
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
        for member in ["type", "title", "code", "detail"] {
            assert!(
                self.body[member].as_str().is_some_and(|t| !t.is_empty()),
                "problem without {member}: {}",
                self.text
            );
        }
        assert_eq!(
            self.body["status"].as_u64(),
            Some(u64::from(self.status)),
            "problem status: {}",
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
