//! A virtual user: the kit's virtual shopper (its cart, the benchmark's
//! request mix, the request bodies) over this benchmark's raw HTTP/1.1
//! client, and what each request did.

use std::net::SocketAddr;
use std::sync::Arc;

use cartseal_kit::shopper::{Answer, Browse, Jar, Op, Pick, Request, Shopper, Transport, Via};

use crate::client::{Conn, CookieUpdate, FetchError, Response, build_request};
use crate::load::{OpKind, REQUEST_TIMEOUT, describe_error};

mod build;

pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
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

/// A response, with the bytes its request took.
struct Sent {
    response: Response,
    bytes_out: usize,
}

/// No response: the error class, and the bytes the request took.
struct Unsent {
    class: &'static str,
    bytes_out: usize,
}

impl Answer for Sent {
    fn status(&self) -> u16 {
        self.response.status
    }

    fn body(&self) -> &[u8] {
        &self.response.body
    }

    /// The raw client keeps two cookies of a response: the routing key
    /// (`route`), and the cart cookie (`cookie`), whatever it is named.
    fn set_cookie(&self, name: &str) -> Option<String> {
        let pair = if name == "cart_route" {
            self.response.route.as_ref()?
        } else {
            match self.response.cookie.as_ref()? {
                CookieUpdate::Set { pair, .. } => pair,
                CookieUpdate::Clear => return Some(String::new()),
            }
        };
        pair.strip_prefix(name)?
            .strip_prefix('=')
            .map(str::to_owned)
    }

    fn cart_token(&self) -> Option<String> {
        None
    }
}

/// The raw client of one virtual user: its own keep-alive connection.
struct Raw {
    target: Arc<Target>,
    conn: Option<Conn>,
    /// TCP connections opened (1 for a VU that kept its keep-alive).
    connects: u64,
}

impl Transport for Raw {
    type Answer = Sent;
    type Error = Unsent;

    /// Sends one request with a timeout over the whole exchange, retrying
    /// once on a fresh connection if a reused one was closed by the server
    /// while idle (nothing of the response was read).
    async fn send(&mut self, request: &Request, jar: &Jar) -> Result<Sent, Unsent> {
        let cookies = jar.cookie_header();
        let req = build_request(
            &request.method,
            &request.path,
            &self.target.host,
            cookies.as_deref(),
            request.body.as_deref(),
        );
        let bytes_out = req.len();
        let res = match tokio::time::timeout(REQUEST_TIMEOUT, self.roundtrip(&req)).await {
            Ok(r) => r,
            Err(_) => {
                self.conn = None;
                Err("timeout")
            }
        };
        res.map(|response| Sent {
            response,
            bytes_out,
        })
        .map_err(|class| Unsent { class, bytes_out })
    }
}

impl Raw {
    async fn roundtrip(&mut self, req: &[u8]) -> Result<Response, &'static str> {
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
}

/// One virtual user: its own connection, its own cart, its own cookie (and
/// cartseal's routing key cookie `cart_route`, sent back once the server
/// issued it, as a browser would).
pub struct Vu {
    pub id: usize,
    shopper: Shopper<Raw>,
    mix: Browse,
    /// Length of the last cart `Set-Cookie` value and header line received.
    pub cookie_value_len: Option<usize>,
    pub set_cookie_header_len: Option<usize>,
    /// After a failure: the next request re-reads the cart.
    resync: bool,
    /// The server keeps no cart between requests (the `none` mode): the VU
    /// keeps its own model of the cart and never re-reads it.
    pub stateless: bool,
    /// Drop the connection after every this many requests of the mix, so
    /// that a long run also opens and closes connections (the soak).
    pub reconnect_every: Option<u64>,
    steps: u64,
}

impl Vu {
    pub fn new(id: usize, target: Arc<Target>) -> Vu {
        let jar = Jar::new(Via::Cookie, "cart")
            .keeping(&["cart_route"])
            .forgetting_cleared();
        let raw = Raw {
            target,
            conn: None,
            connects: 0,
        };
        Vu {
            id,
            shopper: Shopper::new(jar, raw),
            mix: Browse::new(id),
            cookie_value_len: None,
            set_cookie_header_len: None,
            resync: false,
            stateless: false,
            reconnect_every: None,
            steps: 0,
        }
    }

    /// TCP connections opened so far.
    pub fn connects(&self) -> u64 {
        self.shopper.transport.connects
    }

    /// The length of its cookie value and of the `Set-Cookie` header that
    /// set it, when it holds a cookie.
    pub fn cookie_lens(&self) -> (Option<usize>, Option<usize>) {
        match self.shopper.jar.token {
            Some(_) => (self.cookie_value_len, self.set_cookie_header_len),
            None => (None, None),
        }
    }

    pub fn cookie_header_len(&self) -> Option<usize> {
        let jar = &self.shopper.jar;
        jar.token
            .as_ref()
            .map(|c| "Cookie: ".len() + jar.cookie_name.len() + 1 + c.len() + 2)
    }

    /// Sends the request of `op`, noting the size of a cart cookie it sets.
    async fn send(&mut self, op: &Op) -> Result<Sent, Unsent> {
        let res = self.shopper.perform(op).await;
        if let Ok(Sent {
            response:
                Response {
                    cookie:
                        Some(CookieUpdate::Set {
                            value_len,
                            header_len,
                            ..
                        }),
                    ..
                },
            ..
        }) = &res
        {
            self.cookie_value_len = Some(*value_len);
            self.set_cookie_header_len = Some(*header_len);
        }
        res
    }

    pub fn line_count(&self) -> usize {
        self.shopper.cart.len()
    }

    /// One request of the measured mix.
    pub async fn step(&mut self) -> Outcome {
        self.steps += 1;
        if self
            .reconnect_every
            .is_some_and(|n| self.steps.is_multiple_of(n.max(1)))
        {
            self.shopper.transport.conn = None;
        }
        let (pick, op) = self.mix.choose(&self.shopper.cart, self.resync);
        let kind = match pick {
            Pick::Read | Pick::Resync => OpKind::Get,
            Pick::Add => OpKind::Add,
            Pick::ReAdd => OpKind::ReAdd,
            Pick::Patch => OpKind::Patch,
            Pick::Remove => OpKind::Remove,
        };
        let mut out = Outcome {
            kind,
            result: Err("io error"),
            error_key: None,
            expected: false,
            bytes_out: 0,
            bytes_in: 0,
        };
        match self.send(&op).await {
            Err(e) => {
                out.result = Err(e.class);
                out.bytes_out = e.bytes_out;
                self.resync = !self.stateless;
            }
            Ok(sent) => {
                let r = &sent.response;
                out.bytes_out = sent.bytes_out;
                out.result = Ok(r.status);
                out.bytes_in = r.bytes_in;
                let expected = self.stateless && r.status == 404;
                if expected {
                    out.expected = true;
                    out.error_key = Some(describe_error(r.status, &r.body));
                }
                if (200..300).contains(&r.status) || expected {
                    match pick {
                        Pick::Resync => {
                            self.resync = false;
                            if !self.stateless {
                                self.apply_view(&r.body);
                            }
                        }
                        _ => self.shopper.cart.apply(&op),
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
}
