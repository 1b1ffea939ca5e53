//! The credential a shopper holds and the cookies it keeps, sent back the
//! way they came, as a browser or an app does.

use super::Answer;

/// How a shopper carries its cart credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The cart cookie, as a browser does.
    Cookie,
    /// `Authorization: Bearer`, answered with `Cart-Token`.
    Bearer,
}

/// A shopper's credential and the other cookies it keeps (the routing key
/// `cart_route`, a load balancer's affinity cookie).
#[derive(Debug, Clone)]
pub struct Jar {
    pub via: Via,
    /// The cart cookie's name: `cart`, or `__Host-cart` when secure.
    pub cookie_name: &'static str,
    /// The token it holds, whichever way it travels.
    pub token: Option<String>,
    /// Other cookies it keeps, by name, once a response set them.
    kept: Vec<(&'static str, Option<String>)>,
    /// A response that clears the cart cookie (a 401) drops the token; else
    /// the token is kept, so that a lost cart can be shown to stay lost.
    forget_cleared: bool,
    /// Writes say `Sec-Fetch-Site: same-origin`, as a browser's do.
    same_origin: bool,
}

impl Jar {
    /// An empty jar.
    pub fn new(via: Via, cookie_name: &'static str) -> Self {
        Self {
            via,
            cookie_name,
            token: None,
            kept: Vec::new(),
            forget_cleared: false,
            same_origin: false,
        }
    }

    /// The same jar, holding `token`.
    pub fn holding(self, token: Option<String>) -> Self {
        Self { token, ..self }
    }

    /// The same jar, also keeping (and sending back, in this order, after
    /// the cart cookie) the cookies named `names`.
    pub fn keeping(self, names: &[&'static str]) -> Self {
        Self {
            kept: names.iter().map(|name| (*name, None)).collect(),
            ..self
        }
    }

    /// The same jar, dropping the token when a response clears the cookie,
    /// as a browser does.
    pub fn forgetting_cleared(self) -> Self {
        Self {
            forget_cleared: true,
            ..self
        }
    }

    /// The same jar, its writes saying `Sec-Fetch-Site: same-origin`.
    pub fn same_origin_writes(self) -> Self {
        Self {
            same_origin: true,
            ..self
        }
    }

    /// A kept cookie's value, once set.
    pub fn kept(&self, name: &str) -> Option<&str> {
        self.kept
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, value)| value.as_deref())
    }

    /// The `Cookie` header's value: the cart cookie (in cookie transport),
    /// then the kept cookies; `None` when there is none to send.
    pub fn cookie_header(&self) -> Option<String> {
        let cart = match (self.via, &self.token) {
            (Via::Cookie, Some(token)) => Some((self.cookie_name, token.as_str())),
            _ => None,
        };
        let pairs: Vec<String> = cart
            .into_iter()
            .chain(
                self.kept
                    .iter()
                    .filter_map(|(name, value)| Some((*name, value.as_deref()?))),
            )
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// The headers that carry the credential of a `method` request:
    /// `Cookie`, `Authorization`, and `Sec-Fetch-Site` on a browser's
    /// writes.
    pub fn headers(&self, method: &str) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(cookies) = self.cookie_header() {
            headers.push(("cookie", cookies));
        }
        if let (Via::Bearer, Some(token)) = (self.via, &self.token) {
            headers.push(("authorization", format!("Bearer {token}")));
        }
        if self.same_origin && self.via == Via::Cookie && method != "GET" {
            headers.push(("sec-fetch-site", "same-origin".to_owned()));
        }
        headers
    }

    /// Keeps what `answer` issues: a new credential the way it travels, and
    /// the kept cookies it sets.
    pub fn keep(&mut self, answer: &impl Answer) {
        let issued = match self.via {
            Via::Cookie => answer.set_cookie(self.cookie_name),
            Via::Bearer => answer.cart_token(),
        };
        match issued {
            Some(token) if !token.is_empty() => self.token = Some(token),
            Some(_) if self.forget_cleared && self.via == Via::Cookie => self.token = None,
            _ => {}
        }
        for (name, value) in &mut self.kept {
            if let Some(set) = answer.set_cookie(name).filter(|v| !v.is_empty()) {
                *value = Some(set);
            }
        }
    }
}
