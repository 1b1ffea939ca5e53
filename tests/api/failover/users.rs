//! The virtual users of the failover test: each keeps its own cookies and
//! its own record of what its cart must hold, and finds out what a failed
//! write did before it retries.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use cartseal_kit::shopper::Outcome;
use cartseal_kit::shopper::{Answer, Jar, Op, Request, Shopper, Via, quantities};

use super::LINES;
use crate::helpers::{Client, Reply};

/// Where a user's cart stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Every answer so far matched the record.
    Building,
    /// The service refused the credential (401, with this code).
    Lost(String),
    /// The service answered with a cart that is neither the record nor the
    /// record with the last write applied.
    Diverged(String),
}

/// A client with its own cookies and its own record of what its cart must
/// hold: the kit's shopper over the tests' client, keeping the load
/// balancer's affinity cookie and cartseal's routing key, and never
/// dropping the cart cookie, so that a lost cart can be shown to stay lost.
#[derive(Debug, Clone)]
pub struct User {
    pub id: usize,
    pub shopper: Shopper<Client>,
    pub fate: Fate,
}

impl User {
    /// User `id`, a client of nginx.
    pub fn new(id: usize, client: &Client) -> Self {
        let jar = Jar::new(Via::Cookie, "cart").keeping(&["lb", "cart_route"]);
        Self {
            id,
            shopper: Shopper::new(jar, client.clone()),
            fate: Fate::Building,
        }
    }

    pub fn sku(&self, line: usize) -> String {
        format!("FO-{:02}-{line}", self.id)
    }

    fn quantity(&self, line: usize) -> u64 {
        1 + ((self.id + line) % 4) as u64
    }

    /// The quantity the record holds of `sku`.
    pub fn holds(&self, sku: &str) -> u64 {
        self.shopper.cart.get(sku).map_or(0, |l| l.quantity)
    }

    /// Adds (and reads back) the lines in `lines`; the second half ends
    /// with a change of line 1 to a quantity no add gives (5).
    pub fn plan(&self, lines: std::ops::Range<usize>) -> Vec<Op> {
        let last = lines.end == LINES;
        let mut plan = Vec::new();
        for line in lines {
            plan.push(Op::Add {
                sku: self.sku(line),
                quantity: self.quantity(line),
                properties: None,
            });
            plan.push(Op::Get);
        }
        if last {
            plan.push(Op::Set {
                sku: self.sku(1),
                quantity: 5,
            });
            plan.push(Op::Get);
        }
        plan
    }

    /// Runs a plan; with `think`, pauses 2 to 12 ms between requests, so
    /// the users spread over time as real ones do.
    pub async fn run(&mut self, plan: &[Op], stats: &Stats, think: bool) {
        for (i, op) in plan.iter().enumerate() {
            if self.fate != Fate::Building {
                return;
            }
            self.apply(op, stats).await;
            if think {
                let ms = 2 + ((self.id * 7 + i * 13) % 11) as u64;
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
        }
    }

    /// Performs `op` until it is known to be applied. A failure (no answer,
    /// or a 5xx) leaves the outcome unknown: the cart is read to find out,
    /// and the op is retried only if it was not applied.
    async fn apply(&mut self, op: &Op, stats: &Stats) {
        let wanted = self.shopper.cart.after(op);
        for _ in 0..10 {
            let answer = stats.track(self.shopper.perform(op)).await;
            match answer {
                Ok(reply) if reply.status == 200 => {
                    stats.succeeded(self.id);
                    self.settle(&reply, &wanted);
                    return;
                }
                Ok(reply) if reply.status == 401 => {
                    stats.refused.fetch_add(1, Ordering::SeqCst);
                    self.fate = Fate::Lost(reply.code().to_owned());
                    return;
                }
                Ok(reply) if reply.status < 500 => {
                    self.fate = Fate::Diverged(format!("{op:?}: {} {}", reply.status, reply.text));
                    return;
                }
                failure => {
                    stats.failed_for(self.id, &failure);
                    if matches!(op, Op::Get) {
                        continue;
                    }
                    // What did the failed write do?
                    match self.read_until_answered(stats).await {
                        Ok(reply) if reply.status == 200 => {
                            let held = Answer::items(&reply);
                            if quantities(&held) == wanted {
                                stats.succeeded(self.id);
                                self.shopper.cart.replace(held);
                                return;
                            }
                            let record = self.shopper.cart.quantities();
                            if quantities(&held) != record {
                                self.fate = Fate::Diverged(format!(
                                    "after a failed {op:?} the cart is {held:?}, neither {record:?} nor {wanted:?}"
                                ));
                                return;
                            }
                            // Not applied: retry.
                        }
                        Ok(reply) => {
                            stats.refused.fetch_add(1, Ordering::SeqCst);
                            self.fate = Fate::Lost(reply.code().to_owned());
                            return;
                        }
                        Err(e) => {
                            self.fate =
                                Fate::Diverged(format!("no answer after a failed {op:?}: {e}"));
                            return;
                        }
                    }
                }
            }
        }
        self.fate = Fate::Diverged(format!("{op:?} failed 10 times"));
    }

    /// A 200 must show the record the user expects.
    fn settle(&mut self, reply: &Reply, wanted: &BTreeMap<String, u64>) {
        let held = Answer::items(reply);
        if quantities(&held) == *wanted {
            self.shopper.cart.replace(held);
        } else {
            self.fate = Fate::Diverged(format!("expected {wanted:?}, the service shows {held:?}"));
        }
    }

    /// `GET /cart` until something other than a failure comes back.
    async fn read_until_answered(&mut self, stats: &Stats) -> Result<Reply, String> {
        let mut last = String::new();
        for _ in 0..10 {
            let answer = stats.track(self.call(&Request::read())).await;
            match &answer {
                Ok(reply) if reply.status < 500 => return answer,
                Ok(reply) => last = format!("{} {}", reply.status, reply.text),
                Err(e) => last = e.clone(),
            }
            stats.failed_for(self.id, &answer);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(last)
    }

    /// One request through nginx with this user's cookies; keeps the
    /// cookies the response sets.
    pub async fn call(&mut self, request: &Request) -> Result<Reply, String> {
        self.shopper.call(request).await
    }

    /// The final check of this user's cart: exactly the record, every line
    /// of the plan in it.
    pub async fn verify(&mut self) -> Outcome {
        if let Fate::Diverged(why) = &self.fate {
            return Outcome::Diverged(why.clone());
        }
        let stats = Stats::default();
        let answer = self.read_until_answered(&stats).await;
        match self.shopper.cart.check(&answer) {
            Outcome::Exact if self.shopper.cart.len() != LINES => Outcome::Diverged(format!(
                "{} lines, not {LINES}: {:?}",
                self.shopper.cart.len(),
                self.shopper.cart.quantities()
            )),
            outcome => outcome,
        }
    }
}

/// Counters shared by the users of one run.
#[derive(Debug, Default)]
pub struct Stats {
    pub in_flight: AtomicUsize,
    pub completed: AtomicUsize,
    pub failed: AtomicUsize,
    /// Requests refused with 401: the cart is gone.
    pub refused: AtomicUsize,
    /// Failed requests by kind (`502`, `503 store_unavailable`, `no answer`).
    kinds: Mutex<BTreeMap<String, usize>>,
    pub killed_at: Mutex<Option<Instant>>,
    /// Users with a failure not yet followed by a success.
    failing: Mutex<BTreeMap<usize, Instant>>,
    /// The latest recovery, from the kill to a failing user's next success.
    recovered: Mutex<Option<Duration>>,
}

impl Stats {
    /// Awaits a request, counting it in flight meanwhile.
    async fn track(
        &self,
        request: impl Future<Output = Result<Reply, String>>,
    ) -> Result<Reply, String> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let answer = request.await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.completed.fetch_add(1, Ordering::SeqCst);
        answer
    }

    /// Counts a failed request (no answer, or a 5xx), by kind.
    fn failed_for(&self, user: usize, answer: &Result<Reply, String>) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let kind = match answer {
            Ok(reply) => format!("{} {}", reply.status, reply.code())
                .trim()
                .to_owned(),
            Err(_) => "no answer".to_owned(),
        };
        *self.kinds.lock().unwrap().entry(kind).or_default() += 1;
        self.failing
            .lock()
            .unwrap()
            .entry(user)
            .or_insert_with(Instant::now);
    }

    fn succeeded(&self, user: usize) {
        if self.failing.lock().unwrap().remove(&user).is_some()
            && let Some(killed) = *self.killed_at.lock().unwrap()
        {
            let took = killed.elapsed();
            let mut recovered = self.recovered.lock().unwrap();
            *recovered = Some(recovered.map_or(took, |r| r.max(took)));
        }
    }

    pub fn recovery(&self) -> Option<Duration> {
        *self.recovered.lock().unwrap()
    }

    /// The failures by kind, for the table: `3 × 502`.
    pub fn breakdown(&self) -> String {
        let kinds = self.kinds.lock().unwrap();
        let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} × {k}")).collect();
        parts.join(", ")
    }

    /// Users whose last failure was never followed by a success.
    pub fn still_failing(&self) -> usize {
        self.failing.lock().unwrap().len()
    }
}
