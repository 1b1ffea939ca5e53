//! A virtual user: its cart, the request mix it draws from, and what each
//! request did.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::client::{Conn, CookieUpdate, FetchError, Response, build_request, encode_segment};
use crate::load::{OpKind, REQUEST_TIMEOUT, describe_error};

mod build;

/// Never add above this quantity (the server's default `max_quantity`).
const MAX_QUANTITY: u32 = 999;

pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
}

struct LineState {
    sku: String,
    /// The line's properties as a JSON object.
    props: String,
    /// The server's line key, from the CartView.
    line: Option<String>,
    qty: u32,
    present: bool,
}

impl LineState {
    fn add_body(&self, quantity: u32) -> String {
        format!(
            r#"{{"sku":"{}","quantity":{quantity},"properties":{}}}"#,
            self.sku, self.props
        )
    }
}

#[derive(Clone, Copy)]
enum Op {
    Get,
    Resync,
    Add(usize),
    Patch(usize, u32),
    Remove(usize),
    ReAdd(usize),
}

/// What one request came to.
pub struct Outcome {
    pub kind: OpKind,
    /// Ok(status) or Err(error class).
    pub result: Result<u16, &'static str>,
    /// `<status> <problem code>` for a non-2xx.
    pub error_key: Option<String>,
    /// A non-2xx that the mode makes inevitable (`none` keeps no cart, so
    /// a PATCH or DELETE of a line gets 404): reported apart from errors.
    pub expected: bool,
    pub bytes_out: usize,
    pub bytes_in: usize,
}

impl Outcome {
    /// A 2xx, or a non-2xx the mode makes inevitable.
    pub fn is_ok(&self) -> bool {
        matches!(self.result, Ok(s) if (200..300).contains(&s)) || self.expected
    }
}

/// One virtual user: its own connection, its own cart, its own cookie.
pub struct Vu {
    pub id: usize,
    target: Arc<Target>,
    conn: Option<Conn>,
    cookie: Option<String>,
    /// cartseal's routing key cookie (`cart_route=<key>`), sent with the
    /// cart cookie once the server issued it, as a browser would.
    route: Option<String>,
    /// Length of the last cart `Set-Cookie` value and header line received.
    pub cookie_value_len: Option<usize>,
    pub set_cookie_header_len: Option<usize>,
    lines: Vec<LineState>,
    pending_readd: Option<usize>,
    resync: bool,
    /// The server keeps no cart between requests (the `none` mode): the VU
    /// keeps its own model of the cart and never re-reads it.
    pub stateless: bool,
    rng: u64,
    /// TCP connections opened (1 for a VU that kept its keep-alive).
    pub connects: u64,
    /// Drop the connection after every this many requests of the mix, so
    /// that a long run also opens and closes connections (the soak).
    pub reconnect_every: Option<u64>,
    steps: u64,
}

impl Vu {
    pub fn new(id: usize, target: Arc<Target>) -> Vu {
        Vu {
            id,
            target,
            conn: None,
            cookie: None,
            route: None,
            cookie_value_len: None,
            set_cookie_header_len: None,
            lines: Vec::new(),
            pending_readd: None,
            resync: false,
            stateless: false,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (id as u64).wrapping_mul(0xD134_2543_DE82_EF95),
            connects: 0,
            reconnect_every: None,
            steps: 0,
        }
    }

    fn rand(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Six random alphanumeric characters.
    pub(crate) fn word(&mut self) -> String {
        const ALPHABET: &[u8; 62] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..6)
            .map(|_| char::from(ALPHABET[self.below(ALPHABET.len())]))
            .collect()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.rand() % n as u64) as usize
    }

    /// The length of its cookie value and of the `Set-Cookie` header that
    /// set it, when it holds a cookie.
    pub fn cookie_lens(&self) -> (Option<usize>, Option<usize>) {
        match self.cookie {
            Some(_) => (self.cookie_value_len, self.set_cookie_header_len),
            None => (None, None),
        }
    }

    pub fn cookie_header_len(&self) -> Option<usize> {
        self.cookie.as_ref().map(|c| "Cookie: ".len() + c.len() + 2)
    }

    /// Sends one request with a timeout over the whole exchange, retrying
    /// once on a fresh connection if a reused one was closed by the server
    /// while idle (nothing of the response was read).
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        json: Option<&str>,
    ) -> (Result<Response, &'static str>, usize) {
        let cookies = match (&self.cookie, &self.route) {
            (Some(cart), Some(route)) => Some(format!("{cart}; {route}")),
            (cart, route) => cart.clone().or_else(|| route.clone()),
        };
        let req = build_request(method, path, &self.target.host, cookies.as_deref(), json);
        let res = tokio::time::timeout(REQUEST_TIMEOUT, self.send_inner(&req)).await;
        let res = match res {
            Ok(r) => r,
            Err(_) => {
                self.conn = None;
                Err("timeout")
            }
        };
        if let Ok(r) = &res {
            match &r.cookie {
                Some(CookieUpdate::Set {
                    pair,
                    value_len,
                    header_len,
                }) => {
                    self.cookie = Some(pair.clone());
                    self.cookie_value_len = Some(*value_len);
                    self.set_cookie_header_len = Some(*header_len);
                }
                Some(CookieUpdate::Clear) => self.cookie = None,
                None => {}
            }
            if let Some(route) = &r.route {
                self.route = Some(route.clone());
            }
        }
        (res, req.len())
    }

    async fn send_inner(&mut self, req: &[u8]) -> Result<Response, &'static str> {
        for _attempt in 0..2 {
            let fresh = self.conn.is_none();
            if fresh {
                self.connects += 1;
                match Conn::connect(self.target.addr).await {
                    Ok(c) => self.conn = Some(c),
                    Err(_) => return Err("connect error"),
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                return Err("connect error");
            };
            match conn.roundtrip(req).await {
                Ok(r) => {
                    if r.close {
                        self.conn = None;
                    }
                    return Ok(r);
                }
                Err(e) => {
                    self.conn = None;
                    match e {
                        FetchError::ClosedBeforeResponse if !fresh => continue,
                        FetchError::ClosedBeforeResponse | FetchError::Io(_) => {
                            return Err("io error");
                        }
                        FetchError::Protocol(_) => return Err("protocol error"),
                    }
                }
            }
        }
        Err("io error")
    }

    pub fn line_count(&self) -> usize {
        self.lines.iter().filter(|l| l.present).count()
    }

    fn choose(&mut self) -> Op {
        if self.resync {
            return Op::Resync;
        }
        if let Some(i) = self.pending_readd {
            return Op::ReAdd(i);
        }
        let present: usize = self.line_count();
        if present == 0 {
            return Op::Get;
        }
        let r = self.below(100);
        let pick = {
            let k = self.below(present);
            self.lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.present)
                .nth(k)
                .map(|(i, _)| i)
                .unwrap_or(0)
        };
        let keyed = self.lines[pick].line.is_some();
        if r < 70 {
            Op::Get
        } else if r < 90 {
            if self.lines[pick].qty < MAX_QUANTITY {
                Op::Add(pick)
            } else {
                Op::Patch(pick, 1)
            }
        } else if !keyed {
            // No line key known (should not happen): read the cart instead.
            Op::Resync
        } else if r < 98 {
            let k = 1 + self.below(10) as u32;
            Op::Patch(pick, k)
        } else {
            Op::Remove(pick)
        }
    }

    /// One request of the measured mix.
    pub async fn step(&mut self) -> Outcome {
        self.steps += 1;
        if self
            .reconnect_every
            .is_some_and(|n| self.steps.is_multiple_of(n.max(1)))
        {
            self.conn = None;
        }
        let op = self.choose();
        let (kind, method, path, body) = match op {
            Op::Get | Op::Resync => (OpKind::Get, "GET", "/cart".to_string(), None),
            Op::Add(i) => (
                OpKind::Add,
                "POST",
                "/cart/items".into(),
                Some(self.lines[i].add_body(1)),
            ),
            Op::ReAdd(i) => (
                OpKind::ReAdd,
                "POST",
                "/cart/items".into(),
                Some(self.lines[i].add_body(1)),
            ),
            Op::Patch(i, k) => (
                OpKind::Patch,
                "PATCH",
                self.line_path(i),
                Some(format!(r#"{{"quantity":{k}}}"#)),
            ),
            Op::Remove(i) => (OpKind::Remove, "DELETE", self.line_path(i), None),
        };
        let (res, bytes_out) = self.send(method, &path, body.as_deref()).await;
        let mut out = Outcome {
            kind,
            result: Err("io error"),
            error_key: None,
            expected: false,
            bytes_out,
            bytes_in: 0,
        };
        match res {
            Err(e) => {
                out.result = Err(e);
                self.resync = !self.stateless;
            }
            Ok(r) => {
                out.result = Ok(r.status);
                out.bytes_in = r.bytes_in;
                let expected = self.stateless && r.status == 404;
                if expected {
                    out.expected = true;
                    out.error_key = Some(describe_error(r.status, &r.body));
                }
                if (200..300).contains(&r.status) || expected {
                    match op {
                        Op::Get => {}
                        Op::Resync if self.stateless => self.resync = false,
                        Op::Resync => {
                            self.resync = false;
                            self.apply_view(&r.body);
                        }
                        Op::Add(i) => self.lines[i].qty += 1,
                        Op::Patch(i, k) => self.lines[i].qty = k,
                        Op::Remove(i) => {
                            self.lines[i].present = false;
                            self.pending_readd = Some(i);
                        }
                        Op::ReAdd(i) => {
                            let l = &mut self.lines[i];
                            l.present = true;
                            l.qty = 1;
                            self.pending_readd = self.lines.iter().position(|l| !l.present);
                        }
                    }
                } else {
                    out.error_key = Some(describe_error(r.status, &r.body));
                    // The cart may differ from what we think: re-read it
                    // (pointless when the server keeps no cart).
                    self.resync = !self.stateless;
                }
            }
        }
        out
    }

    fn line_path(&self, i: usize) -> String {
        format!(
            "/cart/items/{}",
            encode_segment(self.lines[i].line.as_deref().unwrap_or("unknown"))
        )
    }
}

/// One item of a CartView, as far as the benchmark needs it.
struct Item {
    sku: String,
    line: String,
    quantity: u32,
    /// The properties as a JSON object.
    props: String,
}

fn parse_items(body: &[u8]) -> Option<Vec<Item>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let items = v.get("items")?.as_array()?;
    Some(
        items
            .iter()
            .filter_map(|it| {
                Some(Item {
                    sku: it.get("sku")?.as_str()?.to_string(),
                    line: match it.get("line")? {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                    quantity: it.get("quantity").and_then(|q| q.as_u64()).unwrap_or(1) as u32,
                    props: match it.get("properties") {
                        Some(p @ serde_json::Value::Object(_)) => p.to_string(),
                        _ => "{}".into(),
                    },
                })
            })
            .collect(),
    )
}
