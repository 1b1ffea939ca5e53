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

pub use cartseal_kit::shopper::Outcome;
use cartseal_kit::shopper::{self, Answer, Cart, Churn, Jar, Op, Via, quantities};

use crate::helpers::Client;

/// A request that takes longer than this has hung: it fails, and counts.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Most lines a shopper's cart holds: further adds change existing lines.
const MAX_LINES: usize = 6;

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

/// A client with its own credential and its own record of its cart: the
/// kit's shopper over the tests' client, drawing from the churn mix.
pub struct Shopper {
    pub id: usize,
    shopper: shopper::Shopper<Client>,
    mix: Churn,
}

impl Shopper {
    /// Shopper `id` of the load balancer `client`: even ids use the cookie,
    /// odd ids a bearer token.
    pub fn new(id: usize, client: &Client) -> Self {
        let via = if id.is_multiple_of(2) {
            Via::Cookie
        } else {
            Via::Bearer
        };
        let jar = Jar::new(via, "cart")
            .forgetting_cleared()
            .same_origin_writes();
        let client = client.clone().with_timeout(REQUEST_TIMEOUT);
        Self {
            id,
            shopper: shopper::Shopper::new(jar, client),
            mix: Churn::new(id, MAX_LINES),
        }
    }

    /// How it carries its credential.
    pub fn via(&self) -> Via {
        self.shopper.jar.via
    }

    /// The token it holds, whichever way it travels.
    pub fn token(&self) -> Option<&str> {
        self.shopper.jar.token.as_deref()
    }

    /// Shops until the load stops; then hands itself back for the final
    /// check.
    pub async fn run(mut self, load: Arc<Load>) -> Self {
        while !load.stop.load(Ordering::SeqCst) {
            let jar = &self.shopper.jar;
            let holds_token = jar.token.is_some();
            let must_create = !holds_token && jar.via == Via::Bearer;
            let op = self
                .mix
                .choose(&self.shopper.cart, holds_token, must_create);
            self.step(&op, &load).await;
            // Thought between clicks, so that the shoppers spread over time
            // and leave the 2 cores some room.
            tokio::time::sleep(self.mix.think()).await;
        }
        self
    }

    /// Performs `op` once and settles the record with the answer.
    async fn step(&mut self, op: &Op, load: &Load) {
        let cart = &self.shopper.cart;
        let wanted = cart.after(op);
        let kind = op.kind(cart);
        let started = load.now();
        let answer = self.shopper.perform(op).await;
        load.requests.fetch_add(1, Ordering::SeqCst);
        *load.steps.lock().unwrap().entry(kind).or_default() += 1;
        match answer {
            Ok(reply) if reply.status == 200 || reply.status == 201 => {
                let held = Answer::items(&reply);
                let shown = quantities(&held);
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
                self.shopper.cart.replace(held);
                load.settled[self.id].fetch_max(started, Ordering::SeqCst);
            }
            Ok(reply) => {
                let kind = format!("{} {}", reply.status, reply.code());
                load.failure(
                    self.id,
                    kind.trim().to_owned(),
                    format!(
                        "user {} ({:?}): {op:?} → {} {}",
                        self.id,
                        self.via(),
                        reply.status,
                        reply.text
                    ),
                );
                if reply.status == 401 {
                    // The cart is gone: the client starts another.
                    load.refused.fetch_add(1, Ordering::SeqCst);
                    if !self.shopper.cart.is_empty() {
                        load.lost_lines.fetch_add(1, Ordering::SeqCst);
                    }
                    self.shopper.jar.token = None;
                    self.shopper.cart = Cart::default();
                }
            }
            Err(e) => load.failure(
                self.id,
                "no answer".into(),
                format!("user {}: {op:?} → {e}", self.id),
            ),
        }
    }

    /// The final check: the cart read through the load balancer must be
    /// exactly the record. Returns what it found, and keeps any re-sealed
    /// token.
    pub async fn verify(&mut self) -> Outcome {
        self.shopper.verify().await
    }
}
