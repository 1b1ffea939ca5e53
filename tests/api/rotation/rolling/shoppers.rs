//! The steady load of the rolling rotation tests: virtual shoppers, each
//! building and changing its own cart through the load balancer, half of
//! them in the cookie transport and half in the bearer one, each keeping
//! its own record of what its cart must hold.
//!
//! Every answer counts: a non-2xx (401 included) or no answer is a failed
//! request. A 401 also ends the cart, as it does for a real client (a
//! cookie client's cookie is cleared, a bearer client is told its token is
//! invalid): the shopper counts a lost cart and starts a new one.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Client, Reply};

/// A request that takes longer than this has hung: it fails, and counts.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Most lines a shopper's cart holds: further adds change existing lines.
const MAX_LINES: usize = 6;

/// How a shopper carries its credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The `cart` cookie, as a browser does: writes say `Sec-Fetch-Site:
    /// same-origin`.
    Cookie,
    /// `Authorization: Bearer`, answered with `Cart-Token`.
    Bearer,
}

/// What the shoppers of one run did, shared by all of them.
pub struct Load {
    epoch: Instant,
    stop: AtomicBool,
    /// Requests answered (or failed) so far.
    pub requests: AtomicUsize,
    /// Requests that got no answer or a non-2xx one (401 included).
    pub failed: AtomicUsize,
    /// Requests answered 401: each ended a cart.
    pub refused: AtomicUsize,
    /// 401s that ended a cart holding lines.
    pub lost_lines: AtomicUsize,
    /// Answers whose cart was not the shopper's record with its change.
    pub diverged: AtomicUsize,
    /// Failed requests by kind (`401 token_invalid`, `no answer`).
    kinds: Mutex<BTreeMap<String, usize>>,
    /// The first few failures, described.
    samples: Mutex<Vec<String>>,
    /// Requests by kind of step (`add`, `change`, `remove`, `read`).
    steps: Mutex<BTreeMap<&'static str, usize>>,
    /// The shoppers that saw at least one failed request.
    failed_users: Mutex<BTreeSet<usize>>,
    /// Per shopper: when (µs after `epoch`) its latest successful request
    /// started; 0 before its first.
    settled: Vec<AtomicU64>,
}

impl Load {
    pub fn new(users: usize) -> Self {
        Self {
            epoch: Instant::now(),
            stop: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            lost_lines: AtomicUsize::new(0),
            diverged: AtomicUsize::new(0),
            kinds: Mutex::new(BTreeMap::new()),
            samples: Mutex::new(Vec::new()),
            steps: Mutex::new(BTreeMap::new()),
            failed_users: Mutex::new(BTreeSet::new()),
            settled: (0..users).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Microseconds since the run began: a point in time the shoppers'
    /// requests can be compared with.
    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }

    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    pub fn lost_lines(&self) -> usize {
        self.lost_lines.load(Ordering::SeqCst)
    }

    pub fn diverged(&self) -> usize {
        self.diverged.load(Ordering::SeqCst)
    }

    /// How many shoppers saw a failed request.
    pub fn failed_users(&self) -> usize {
        self.failed_users.lock().unwrap().len()
    }

    /// How many shoppers have not yet had a request succeed that started
    /// after `since` (from [`Load::now`]).
    pub fn unsettled_since(&self, since: u64) -> usize {
        self.settled
            .iter()
            .filter(|s| s.load(Ordering::SeqCst) <= since)
            .count()
    }

    /// The requests by kind of step: `12 add, 3 change, …`.
    pub fn steps(&self) -> String {
        let steps = self.steps.lock().unwrap();
        let steps: Vec<String> = steps.iter().map(|(k, n)| format!("{n} {k}")).collect();
        steps.join(", ")
    }

    /// The failures by kind, and the first few described.
    pub fn describe(&self) -> String {
        let kinds = self.kinds.lock().unwrap();
        let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} × {k}")).collect();
        format!(
            "{} requests, {} failed ({}), {} diverged; for example:\n{}",
            self.requests(),
            self.failed(),
            kinds.join(", "),
            self.diverged(),
            self.samples.lock().unwrap().join("\n")
        )
    }

    /// Waits until `more` requests beyond those done now have completed.
    pub async fn progress(&self, more: usize, patience: Duration) {
        let target = self.requests() + more;
        let deadline = Instant::now() + patience;
        while self.requests() < target {
            assert!(
                Instant::now() < deadline,
                "the load made no progress: {} of {target} requests in {patience:?}",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Asks the shoppers to stop after their current request.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    fn failure(&self, user: usize, kind: String, what: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        *self.kinds.lock().unwrap().entry(kind).or_default() += 1;
        self.failed_users.lock().unwrap().insert(user);
        let mut samples = self.samples.lock().unwrap();
        if samples.len() < 10 {
            samples.push(what);
        }
    }
}

/// One step a shopper takes.
#[derive(Debug, Clone)]
enum Op {
    /// `POST /cart`: a fresh, empty cart (bearer only).
    Create,
    /// `POST /cart/items` of a sku the cart does not hold, some with
    /// properties (whose line key is not the sku).
    AddNew {
        sku: String,
        quantity: u64,
        size: Option<&'static str>,
    },
    /// `POST /cart/items` of a line the cart holds: raises its quantity.
    AddMore { sku: String, quantity: u64 },
    /// `PATCH /cart/items/{line}`; 0 removes the line.
    Set { sku: String, quantity: u64 },
    /// `DELETE /cart/items/{line}`.
    Remove { sku: String },
    /// `DELETE /cart`.
    Clear,
    /// `GET /cart`.
    Get,
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Self::Create => "new cart",
            Self::AddNew { .. } => "add",
            Self::AddMore { .. } => "add to a line",
            Self::Set { quantity: 0, .. } | Self::Remove { .. } | Self::Clear => "remove",
            Self::Set { .. } => "quantity change",
            Self::Get => "read",
        }
    }
}

/// A line of the record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Held {
    /// The line key the service gave it.
    line: String,
    quantity: u64,
    size: Option<&'static str>,
}

/// A client with its own credential and its own record of its cart.
pub struct Shopper {
    pub id: usize,
    pub transport: Transport,
    client: Client,
    /// The token it holds, whichever way it travels.
    pub token: Option<String>,
    /// sku → line: what the cart must hold.
    record: BTreeMap<String, Held>,
    rng: u64,
    /// Numbers the skus of new lines, so that none repeats.
    made: usize,
}

impl Shopper {
    /// Shopper `id` of the load balancer `client`: even ids use the cookie,
    /// odd ids a bearer token.
    pub fn new(id: usize, client: &Client) -> Self {
        Self {
            id,
            transport: if id.is_multiple_of(2) {
                Transport::Cookie
            } else {
                Transport::Bearer
            },
            client: client.clone().with_timeout(REQUEST_TIMEOUT),
            token: None,
            record: BTreeMap::new(),
            rng: (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            made: 0,
        }
    }

    /// Shops until the load stops; then hands itself back for the final
    /// check.
    pub async fn run(mut self, load: Arc<Load>) -> Self {
        while !load.stop.load(Ordering::SeqCst) {
            let op = self.choose();
            self.step(&op, &load).await;
            // 10 to 29 ms of thought between clicks, so that the shoppers
            // spread over time and leave the 2 cores some room.
            let think = 10 + self.random(20);
            tokio::time::sleep(Duration::from_millis(think)).await;
        }
        self
    }

    fn random(&mut self, below: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % below
    }

    /// A held sku, chosen at random.
    fn some_line(&mut self) -> Option<String> {
        if self.record.is_empty() {
            return None;
        }
        let i = self.random(self.record.len() as u64) as usize;
        self.record.keys().nth(i).cloned()
    }

    fn choose(&mut self) -> Op {
        if self.token.is_none() && self.transport == Transport::Bearer {
            return Op::Create;
        }
        let roll = self.random(100);
        let held = self.some_line();
        let add_new = |s: &mut Self| {
            s.made += 1;
            let quantity = 1 + s.random(3);
            Op::AddNew {
                sku: format!("RR-{}-{}", s.id, s.made),
                quantity,
                size: s
                    .made
                    .is_multiple_of(3)
                    .then_some(["S", "M", "L"][s.made % 9 / 3]),
            }
        };
        match (roll, held) {
            (_, None) if self.token.is_none() => add_new(self),
            (0..30, _) => Op::Get,
            (30..50, _) if self.record.len() < MAX_LINES => add_new(self),
            (30..50, None) => add_new(self),
            (50..60, Some(sku)) if self.record[&sku].quantity < 900 => Op::AddMore {
                sku,
                quantity: 1 + self.random(3),
            },
            (30..75, Some(sku)) => Op::Set {
                sku,
                quantity: 1 + self.random(20),
            },
            (75..82, Some(sku)) => Op::Set { sku, quantity: 0 },
            (82..92, Some(sku)) => Op::Remove { sku },
            (92..95, _) => Op::Clear,
            (_, None) if roll < 92 => add_new(self),
            _ => Op::Get,
        }
    }

    /// The record once `op` is applied.
    fn after(&self, op: &Op) -> BTreeMap<String, u64> {
        let mut lines: BTreeMap<String, u64> = self
            .record
            .iter()
            .map(|(sku, held)| (sku.clone(), held.quantity))
            .collect();
        match op {
            Op::Create | Op::Clear => lines.clear(),
            Op::AddNew { sku, quantity, .. } | Op::AddMore { sku, quantity } => {
                *lines.entry(sku.clone()).or_default() += quantity
            }
            Op::Set { sku, quantity: 0 } | Op::Remove { sku } => {
                lines.remove(sku);
            }
            Op::Set { sku, quantity } => {
                lines.insert(sku.clone(), *quantity);
            }
            Op::Get => {}
        }
        lines
    }

    /// Performs `op` once and settles the record with the answer.
    async fn step(&mut self, op: &Op, load: &Load) {
        let wanted = self.after(op);
        let started = load.now();
        let answer = self.send(op).await;
        load.requests.fetch_add(1, Ordering::SeqCst);
        *load.steps.lock().unwrap().entry(op.kind()).or_default() += 1;
        match answer {
            Ok(reply) if reply.status == 200 || reply.status == 201 => {
                let held = items(&reply);
                let shown: BTreeMap<String, u64> = held
                    .iter()
                    .map(|(sku, h)| (sku.clone(), h.quantity))
                    .collect();
                if shown != wanted {
                    load.diverged.fetch_add(1, Ordering::SeqCst);
                    load.failure(
                        self.id,
                        "diverged".into(),
                        format!(
                            "user {}: after {op:?} expected {wanted:?}, the service shows {shown:?}",
                            self.id
                        ),
                    );
                }
                self.record = held;
                load.settled[self.id].fetch_max(started, Ordering::SeqCst);
            }
            Ok(reply) => {
                let kind = format!("{} {}", reply.status, reply.code());
                load.failure(
                    self.id,
                    kind.trim().to_owned(),
                    format!(
                        "user {} ({:?}): {op:?} → {} {}",
                        self.id, self.transport, reply.status, reply.text
                    ),
                );
                if reply.status == 401 {
                    // The cart is gone: the client starts another.
                    load.refused.fetch_add(1, Ordering::SeqCst);
                    if !self.record.is_empty() {
                        load.lost_lines.fetch_add(1, Ordering::SeqCst);
                    }
                    self.token = None;
                    self.record.clear();
                }
            }
            Err(e) => load.failure(
                self.id,
                "no answer".into(),
                format!("user {}: {op:?} → {e}", self.id),
            ),
        }
    }

    async fn send(&mut self, op: &Op) -> Result<Reply, String> {
        let line = |s: &Self, sku: &str| s.record[sku].line.clone();
        let (method, path, body) = match op {
            Op::Create => (Method::POST, "/cart".to_owned(), None),
            Op::AddNew {
                sku,
                quantity,
                size,
            } => {
                let mut body = json!({ "sku": sku, "quantity": quantity });
                if let Some(size) = size {
                    body["properties"] = json!({ "size": size });
                }
                (Method::POST, "/cart/items".to_owned(), Some(body))
            }
            Op::AddMore { sku, quantity } => {
                let mut body = json!({ "sku": sku, "quantity": quantity });
                if let Some(size) = self.record[sku].size {
                    body["properties"] = json!({ "size": size });
                }
                (Method::POST, "/cart/items".to_owned(), Some(body))
            }
            Op::Set { sku, quantity } => (
                Method::PATCH,
                format!("/cart/items/{}", line(self, sku)),
                Some(json!({ "quantity": quantity })),
            ),
            Op::Remove { sku } => (
                Method::DELETE,
                format!("/cart/items/{}", line(self, sku)),
                None,
            ),
            Op::Clear => (Method::DELETE, "/cart".to_owned(), None),
            Op::Get => (Method::GET, "/cart".to_owned(), None),
        };
        self.call(method, &path, body).await
    }

    /// One request through the load balancer with this shopper's credential;
    /// keeps the credential the answer carries.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Reply, String> {
        let writes = method != Method::GET;
        let mut call = self.client.request(method, path);
        match (self.transport, &self.token) {
            (Transport::Cookie, Some(token)) => call = call.cookie("cart", token),
            (Transport::Bearer, Some(token)) => {
                call = call.header("authorization", &format!("Bearer {token}"))
            }
            (_, None) => {}
        }
        if self.transport == Transport::Cookie && writes {
            call = call.header("sec-fetch-site", "same-origin");
        }
        if let Some(body) = body {
            call = call.json(&body);
        }
        let reply = call.try_send().await?;
        match self.transport {
            Transport::Cookie => {
                if let Some(value) = reply.cookie_value("cart") {
                    self.token = Some(value).filter(|v| !v.is_empty());
                }
            }
            Transport::Bearer => {
                if let Some(token) = reply.cart_token() {
                    self.token = Some(token);
                }
            }
        }
        Ok(reply)
    }

    /// The final check: the cart read through the load balancer must be
    /// exactly the record. Returns what it found, and keeps any re-sealed
    /// token.
    pub async fn verify(&mut self) -> Outcome {
        if self.token.is_none() {
            return Outcome::NoCart;
        }
        match self.call(Method::GET, "/cart", None).await {
            Ok(reply) if reply.status == 200 => {
                let held = items(&reply);
                if held == self.record {
                    Outcome::Exact
                } else {
                    Outcome::Diverged(format!("record {:?}, service {held:?}", self.record))
                }
            }
            Ok(reply) if reply.status == 401 => Outcome::Refused(reply.code().to_owned()),
            Ok(reply) => Outcome::Diverged(format!("{} {}", reply.status, reply.text)),
            Err(e) => Outcome::Diverged(e),
        }
    }
}

/// The lines of a cart view (`GET`, a write) or of `POST /cart`'s body.
fn items(reply: &Reply) -> BTreeMap<String, Held> {
    let view = if reply.body.get("cart").is_some() {
        &reply.body["cart"]
    } else {
        &reply.body
    };
    view["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    let text = |field: &str| item[field].as_str().unwrap_or("").to_owned();
                    let size = match item["properties"]["size"].as_str() {
                        Some("S") => Some("S"),
                        Some("M") => Some("M"),
                        Some("L") => Some("L"),
                        _ => None,
                    };
                    (
                        text("sku"),
                        Held {
                            line: text("line"),
                            quantity: item["quantity"].as_u64().unwrap_or(0),
                            size,
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What one shopper's cart read as at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exactly the shopper's record.
    Exact,
    /// The shopper holds no cart (its last one was refused).
    NoCart,
    /// 401 with this code.
    Refused(String),
    /// Anything else.
    Diverged(String),
}
