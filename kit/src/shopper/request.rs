//! The requests of the cart API a shopper sends: method, path and JSON
//! body, the same bytes whichever client carries them.

/// One request of the cart API, without the credential (the shopper's
/// [`Jar`](super::Jar) adds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, `PATCH`, `DELETE`, or any other a test sends.
    pub method: String,
    /// The path and query, e.g. `/cart/items/TEE-100`.
    pub path: String,
    /// Extra headers, beyond the credential and the content type.
    pub headers: Vec<(String, String)>,
    /// The body's `Content-Type`, when it has a body.
    pub content_type: Option<String>,
    pub body: Option<String>,
}

impl Request {
    /// A bodiless request.
    pub fn new(method: &str, path: impl Into<String>) -> Self {
        Self {
            method: method.to_owned(),
            path: path.into(),
            headers: Vec::new(),
            content_type: None,
            body: None,
        }
    }

    /// With a JSON body, said so in `Content-Type`.
    pub fn json(self, body: String) -> Self {
        self.body("application/json", body)
    }

    /// With a body of any type.
    pub fn body(self, content_type: &str, body: String) -> Self {
        Self {
            content_type: Some(content_type.to_owned()),
            body: Some(body),
            ..self
        }
    }

    /// With a header; the same name twice sends it twice.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `GET /cart`: read the cart.
    pub fn read() -> Self {
        Self::new("GET", "/cart")
    }

    /// `POST /cart`: a fresh, empty cart and its token.
    pub fn create() -> Self {
        Self::new("POST", "/cart")
    }

    /// `POST /cart/items`: `quantity` more of `sku`, with `properties` (a
    /// JSON object's text) when given.
    pub fn add(sku: &str, quantity: i64, properties: Option<&str>) -> Self {
        let sku = string(sku);
        let body = match properties {
            Some(properties) => {
                format!(r#"{{"sku":{sku},"quantity":{quantity},"properties":{properties}}}"#)
            }
            None => format!(r#"{{"sku":{sku},"quantity":{quantity}}}"#),
        };
        Self::new("POST", "/cart/items").json(body)
    }

    /// `PATCH /cart/items/{line}`: the line's new quantity (0 removes it).
    pub fn set(line: &str, quantity: i64) -> Self {
        Self::new("PATCH", line_path(line)).json(format!(r#"{{"quantity":{quantity}}}"#))
    }

    /// `DELETE /cart/items/{line}`.
    pub fn remove(line: &str) -> Self {
        Self::new("DELETE", line_path(line))
    }

    /// `DELETE /cart`: empty the cart.
    pub fn clear() -> Self {
        Self::new("DELETE", "/cart")
    }

    /// `POST /cart/merge`: fold the cart of `token` into this one.
    pub fn merge(token: &str) -> Self {
        Self::new("POST", "/cart/merge").json(format!(r#"{{"token":{}}}"#, string(token)))
    }

    /// True for a request that may change the cart (anything but a read).
    pub fn writes(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD")
    }
}

/// A JSON string literal.
fn string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn line_path(line: &str) -> String {
    format!("/cart/items/{}", encode_segment(line))
}

/// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
/// Line keys are URL-safe already, so they pass as they are.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_compact_json_in_a_fixed_order() {
        let add = Request::add("SKU-1-0", 1, Some(r#"{"color":"ab","size":"cd"}"#));
        assert_eq!(
            add.body.as_deref(),
            Some(r#"{"sku":"SKU-1-0","quantity":1,"properties":{"color":"ab","size":"cd"}}"#)
        );
        assert_eq!(add.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            Request::add("A", -1, None).body.as_deref(),
            Some(r#"{"sku":"A","quantity":-1}"#)
        );
        let set = Request::set("TEE-100~0a1b", 4);
        assert_eq!(set.path, "/cart/items/TEE-100~0a1b");
        assert_eq!(set.body.as_deref(), Some(r#"{"quantity":4}"#));
        assert_eq!(Request::remove("a b").path, "/cart/items/a%20b");
        assert!(!Request::read().writes() && Request::clear().writes());
    }
}
