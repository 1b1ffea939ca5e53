//! Failover behind a real load balancer (DESIGN section 8; issue 4, item 5).
//!
//! Three `cartseal` replicas (the binary, `serve --port 0`, one worker each)
//! run behind Debian's nginx on a free port, with a generated config in a
//! temp dir. 50 virtual users each build an 8-line cart of known content
//! and keep their own record of it, updated only by 200 responses. One
//! replica is SIGKILLed while they work; they carry on; then every cart is
//! read through nginx and checked against its client's record. The known
//! trade-offs of the three designs are asserted as facts:
//!
//! - `token`: no cart is lost, and only requests in flight at the kill fail.
//! - `redis` (a private redis-server): no cart is lost when a replica dies.
//!   While Redis is paused (SIGSTOP) every request gets 503
//!   `store_unavailable` promptly, none hangs; after SIGCONT every cart is
//!   back. A Redis restart without persistence loses every cart: its single
//!   point of failure, measured.
//! - `memory`: behind sticky routing, as such a design is deployed. nginx
//!   OSS has no `sticky`, so affinity is a load-balancer cookie `lb` hashed
//!   consistently. The carts pinned to the killed replica are lost (an
//!   unknown session id is `token_expired`), the others survive; both are
//!   counted and asserted, and the lost ones are exactly those the killed
//!   replica held (asked of each replica directly before the kill).
//!
//! **Retries.** nginx passes a request to another replica on `error
//! timeout` only. `non_idempotent` is deliberately absent: a POST or PATCH
//! whose connection broke after it was sent may have been applied, and
//! replaying it could apply it twice. Such a write fails instead, and the
//! client finds out what happened by reading its cart (it must hold either
//! the old cart or the new one, nothing else), then retries if it was not
//! applied. Those failed requests are counted.
//!
//! The table of carts lost, failed requests and recovery time is printed;
//! with `CARTSEAL_WRITE_DOCS=1` it is also written into docs/benchmarks.md
//! between `<!-- failover:start -->` and `<!-- failover:end -->`.
//!
//! nginx is required: a missing one fails the test loudly. The three tests
//! take turns, since each runs 3 replicas, nginx and 50 users on 2 cores.

mod report;
mod users;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Auth, BinaryServer, Client, ConfigDir};
use crate::process::{Nginx, RedisServer, Routing};
use report::{Check, Row, Run, ms, report};
use users::{Fate, Outcome, Stats, User};

const REPLICAS: usize = 3;
const VUS: usize = 50;
const LINES: usize = 8;
/// `redis.timeout_ms` of the replicas.
const REDIS_TIMEOUT_MS: u64 = 300;
/// No request may take longer while Redis is paused: a hang would blow it.
/// Generous on purpose; the measured figure is reported.
const NO_HANG: Duration = Duration::from_secs(5);
/// A request that takes longer than this has hung: it fails, and is counted.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The three failover tests take turns.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------
// The three designs
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_token_loses_no_cart_when_a_replica_dies() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let rig = Cluster::start("token", None, Routing::RoundRobin);
    let run = rig.run_with_a_replica_killed(1).await;

    assert_eq!(
        run.lost(),
        0,
        "token: no cart may be lost\n{}",
        run.describe()
    );
    assert!(
        run.failed <= VUS,
        "token: only requests in flight at the kill may fail (at most one per user), got {}\n{}",
        run.failed,
        run.describe()
    );
    report(
        "token",
        vec![run.row("token", "a replica SIGKILLed mid-run")],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_redis_survives_a_replica_not_its_own_restart() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut redis = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .unwrap();
    let rig = Cluster::start("redis", Some(redis.url()), Routing::RoundRobin);
    let mut rows = Vec::new();

    // 1. A replica dies: the carts are in Redis.
    let mut run = rig.run_with_a_replica_killed(1).await;
    assert_eq!(
        run.lost(),
        0,
        "redis: a replica's death loses no cart\n{}",
        run.describe()
    );
    rows.push(run.row("redis", "a replica SIGKILLed mid-run"));

    // 2. Redis paused: every request is a prompt 503, none hangs.
    redis.signal("STOP");
    let paused = rig.while_the_store_is_down(&run.users).await;
    let resumed_at = Instant::now();
    redis.signal("CONT");
    let recovery = rig.first_success(&run.users[0], resumed_at).await;
    assert_eq!(
        paused.unavailable, paused.requests,
        "redis paused: every request is 503 store_unavailable; got {:?}",
        paused.others
    );
    assert!(
        paused.slowest < NO_HANG,
        "redis paused: no request may hang; the slowest took {:?}",
        paused.slowest
    );
    assert_eq!(paused.ready_status, 503, "redis paused: /readyz fails");
    let check = rig.verify(&mut run.users).await;
    assert_eq!(
        check.lost(),
        0,
        "redis resumed: every cart is back\n{}",
        check.describe(&run.users)
    );
    rows.push(Row {
        mode: "redis",
        event: "Redis paused (SIGSTOP), then resumed".into(),
        lost: 0,
        failed: paused.requests,
        refused: 0,
        recovery: format!("{} after SIGCONT", ms(recovery)),
        notes: format!(
            "while paused every request was 503 `store_unavailable`; slowest {} (timeout {REDIS_TIMEOUT_MS} ms); all carts back",
            ms(paused.slowest)
        ),
    });

    // 3. Redis restarts without persistence: every cart is gone.
    let restarted_at = {
        let mut moved = redis;
        let (back, at) = tokio::task::spawn_blocking(move || {
            moved.restart();
            let at = Instant::now();
            (moved, at)
        })
        .await
        .unwrap();
        redis = back;
        at
    };
    let (recovery, failed) = rig.first_new_cart(restarted_at).await;
    let outcome = rig.after_the_store_lost_everything(&run.users).await;
    assert_eq!(
        outcome.expired, VUS,
        "redis restarted without persistence: every cart is lost (401 token_expired); got {:?}",
        outcome.others
    );
    rows.push(Row {
        mode: "redis",
        event: "Redis restarted without persistence".into(),
        lost: outcome.expired,
        failed: failed + outcome.unavailable,
        refused: outcome.expired,
        recovery: format!("{} to the first new cart", ms(recovery)),
        notes: "every client got 401 `token_expired`: Redis is the single point of failure".into(),
    });
    report("redis", rows);
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_memory_behind_sticky_routing_loses_the_dead_replicas_carts() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let rig = Cluster::start("memory", None, Routing::Sticky);
    let mut users = rig.build_first_half().await;

    // Which replica holds each cart: ask each one directly.
    let owners = rig.owners(&users).await;
    let victim = (0..REPLICAS)
        .max_by_key(|r| owners.iter().filter(|o| **o == *r).count())
        .unwrap();
    let pinned: Vec<usize> = (0..VUS).filter(|u| owners[*u] == victim).collect();

    let run = rig.finish_with_a_replica_killed(&mut users, victim).await;
    let lost: Vec<usize> = (0..VUS).filter(|u| run.check.is_lost(*u)).collect();
    let survived = VUS - lost.len();
    assert!(
        !lost.is_empty(),
        "memory: the killed replica's carts are lost\n{}",
        run.describe()
    );
    assert!(
        survived > 0,
        "memory: the other replicas' carts survive\n{}",
        run.describe()
    );
    assert_eq!(lost.len() + survived, VUS);
    assert_eq!(
        lost,
        pinned,
        "memory: exactly the carts pinned to the killed replica are lost\n{}",
        run.describe()
    );
    for u in &lost {
        assert_eq!(
            run.check.outcomes[*u],
            Outcome::Refused("token_expired".into()),
            "user {u}: a lost cart reads as token_expired"
        );
    }
    for u in (0..VUS).filter(|u| !lost.contains(u)) {
        assert_eq!(
            run.check.outcomes[u],
            Outcome::Exact,
            "user {u}: a surviving cart is exact"
        );
    }
    let mut row = run.row("memory", "a replica SIGKILLed mid-run (sticky)");
    row.recovery = match run.recovery {
        Some(took) => format!(
            "never for the {} lost carts; {} after the kill for the others",
            lost.len(),
            ms(took)
        ),
        None => format!(
            "never for the {} lost carts; the others never failed",
            lost.len()
        ),
    };
    row.notes = format!(
        "{} carts were pinned to the killed replica: all lost (401 `token_expired`), for good; the other {survived} are exact. {}",
        pinned.len(),
        row.notes
    );
    report("memory", vec![row]);
}

// ---------------------------------------------------------------------------
// The cluster: replicas behind nginx
// ---------------------------------------------------------------------------

struct Cluster {
    replicas: Vec<BinaryServer>,
    ports: Vec<u16>,
    _nginx: Nginx,
    /// A client of nginx.
    client: Client,
    _config: ConfigDir,
}

impl Cluster {
    fn start(store: &str, redis_url: Option<String>, routing: Routing) -> Self {
        let config = ConfigDir::new();
        let timeout = REDIS_TIMEOUT_MS.to_string();
        let mut env = vec![
            ("CARTSEAL__STORE__KIND", store),
            ("CARTSEAL__REDIS__TIMEOUT_MS", timeout.as_str()),
            ("CARTSEAL__SERVER__WORKERS", "1"),
            // No catalog: any well-formed sku is accepted.
            ("CARTSEAL__CATALOG__FILE", ""),
        ];
        if let Some(url) = &redis_url {
            env.push(("CARTSEAL__REDIS__URL", url.as_str()));
        }
        let replicas: Vec<BinaryServer> = (0..REPLICAS)
            .map(|_| BinaryServer::spawn(&config, &env))
            .collect();
        let ports: Vec<u16> = replicas.iter().map(|r| r.port).collect();
        let nginx = Nginx::start(&ports, routing);
        let client = Client::new(nginx.url.clone()).with_timeout(REQUEST_TIMEOUT);
        Self {
            replicas,
            ports,
            _nginx: nginx,
            client,
            _config: config,
        }
    }

    fn users(&self) -> Vec<User> {
        (0..VUS)
            .map(|id| User {
                id,
                client: self.client.clone(),
                cart: None,
                lb: None,
                record: BTreeMap::new(),
                fate: Fate::Building,
            })
            .collect()
    }

    /// Every user builds half its cart; all wait for the slowest.
    async fn build_first_half(&self) -> Vec<User> {
        let stats = Arc::new(Stats::default());
        let tasks: Vec<_> = self
            .users()
            .into_iter()
            .map(|mut user| {
                let stats = stats.clone();
                tokio::spawn(async move {
                    let plan = user.plan(0..LINES / 2);
                    user.run(&plan, &stats, false).await;
                    user
                })
            })
            .collect();
        let mut users = Vec::new();
        for task in tasks {
            users.push(task.await.expect("a user's first half"));
        }
        for user in &users {
            assert_eq!(
                user.fate,
                Fate::Building,
                "user {}: before any fault every request succeeds; stats {stats:?}",
                user.id
            );
        }
        users
    }

    /// The whole run of the replica-loss scenario.
    async fn run_with_a_replica_killed(&self, victim: usize) -> Run {
        let mut users = self.build_first_half().await;
        self.finish_with_a_replica_killed(&mut users, victim).await
    }

    /// The second half of every cart, with replica `victim` SIGKILLed once
    /// 30% of that half's requests are done; then every cart is checked.
    async fn finish_with_a_replica_killed(&self, users: &mut Vec<User>, victim: usize) -> Run {
        let stats = Arc::new(Stats::default());
        let tasks: Vec<_> = std::mem::take(users)
            .into_iter()
            .map(|mut user| {
                let stats = stats.clone();
                tokio::spawn(async move {
                    let plan = user.plan(LINES / 2..LINES);
                    user.run(&plan, &stats, true).await;
                    user
                })
            })
            .collect();
        // Each user's second half is 2 requests per line and 2 for a change.
        let second_half = VUS * (2 * (LINES / 2) + 2);
        let threshold = second_half * 3 / 10;
        let give_up = Instant::now() + Duration::from_secs(30);
        while stats.completed.load(Ordering::SeqCst) < threshold && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let in_flight = stats.in_flight.load(Ordering::SeqCst);
        let done_before = stats.completed.load(Ordering::SeqCst);
        let killed_at = Instant::now();
        self.replicas[victim].signal("KILL");
        *stats.killed_at.lock().unwrap() = Some(killed_at);
        self.wait_gone(victim).await;
        for task in tasks {
            users.push(task.await.expect("a user's second half"));
        }
        let done_after = stats.completed.load(Ordering::SeqCst) - done_before;
        assert!(
            done_after >= VUS,
            "the kill must come mid-run: only {done_after} requests followed it"
        );
        let check = self.verify(users).await;
        Run {
            users: std::mem::take(users),
            failed: stats.failed.load(Ordering::SeqCst),
            refused: stats.refused.load(Ordering::SeqCst),
            failures: stats.breakdown(),
            never_recovered: stats.still_failing(),
            in_flight_at_kill: in_flight,
            recovery: stats.recovery(),
            stats: format!("{stats:?}"),
            check,
        }
    }

    /// Waits until the killed replica's port refuses connections.
    async fn wait_gone(&self, victim: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.ports[victim]))
            .await
            .is_ok()
        {
            assert!(
                Instant::now() < deadline,
                "replica {victim} still answers after SIGKILL"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Which replica holds each user's cart (memory store): the one that
    /// opens it when asked directly.
    async fn owners(&self, users: &[User]) -> Vec<usize> {
        let mut owners = Vec::new();
        for user in users {
            let cart = Auth::Cookie(user.cart.clone().expect("a cart"));
            let mut holders = Vec::new();
            for (r, replica) in self.replicas.iter().enumerate() {
                let reply = self.client.at(replica.url.clone()).get("/cart").auth(&cart);
                if reply.send().await.status == 200 {
                    holders.push(r);
                }
            }
            assert_eq!(
                holders.len(),
                1,
                "user {}: one replica holds the cart",
                user.id
            );
            owners.push(holders[0]);
        }
        owners
    }

    /// Reads every cart through nginx and compares it with its record.
    async fn verify(&self, users: &mut [User]) -> Check {
        let mut outcomes = Vec::new();
        for user in users.iter_mut() {
            outcomes.push(user.verify().await);
        }
        Check { outcomes }
    }

    /// With the store down: every user reads its cart and rewrites one line
    /// with the quantity it has, at once. Counts the answers, times them.
    async fn while_the_store_is_down(&self, users: &[User]) -> Paused {
        let tasks: Vec<_> = users
            .iter()
            .map(|user| {
                let mut user = user.clone();
                tokio::spawn(async move {
                    let sku = user.sku(0);
                    let quantity = user.record[&sku];
                    let mut answers = Vec::new();
                    for (method, path, body) in [
                        (Method::GET, "/cart".to_owned(), None),
                        (
                            Method::PATCH,
                            format!("/cart/items/{sku}"),
                            Some(json!({ "quantity": quantity })),
                        ),
                    ] {
                        let started = Instant::now();
                        let answer = user.call(method, &path, body).await;
                        answers.push((answer, started.elapsed()));
                    }
                    answers
                })
            })
            .collect();
        let mut paused = Paused::default();
        for task in tasks {
            for (answer, took) in task.await.expect("a user's requests") {
                paused.requests += 1;
                paused.slowest = paused.slowest.max(took);
                match answer {
                    Ok(reply) if reply.status == 503 && reply.code() == "store_unavailable" => {
                        paused.unavailable += 1
                    }
                    Ok(reply) => paused
                        .others
                        .push(format!("{} {}", reply.status, reply.text)),
                    Err(e) => paused.others.push(e),
                }
            }
        }
        paused.ready_status = self.client.get("/readyz").send().await.status;
        paused
    }

    /// How long after `since` a user's cart first reads back as 200.
    async fn first_success(&self, user: &User, since: Instant) -> Duration {
        let mut user = user.clone();
        let deadline = since + Duration::from_secs(20);
        loop {
            if let Ok(reply) = user.call(Method::GET, "/cart", None).await
                && reply.status == 200
            {
                return since.elapsed();
            }
            assert!(
                Instant::now() < deadline,
                "the store did not come back within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// How long after `since` a new client first gets a cart, and how many
    /// attempts failed until then.
    async fn first_new_cart(&self, since: Instant) -> (Duration, usize) {
        let deadline = since + Duration::from_secs(20);
        let mut failed = 0;
        loop {
            let body = json!({ "sku": "FO-NEW", "quantity": 1 });
            let reply = self.client.post("/cart/items").json(&body).try_send().await;
            if reply.is_ok_and(|r| r.status == 200) {
                return (since.elapsed(), failed);
            }
            failed += 1;
            assert!(
                Instant::now() < deadline,
                "no new cart within 20 s of the restart"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// After the store lost everything: what each user's cart reads as,
    /// asked again while the store answers 503 (reconnecting).
    async fn after_the_store_lost_everything(&self, users: &[User]) -> Lost {
        let mut lost = Lost::default();
        for user in users {
            let mut user = user.clone();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match user.call(Method::GET, "/cart", None).await {
                    Ok(reply) if reply.status == 401 && reply.code() == "token_expired" => {
                        lost.expired += 1;
                        break;
                    }
                    Ok(reply) if reply.status == 503 && Instant::now() < deadline => {
                        lost.unavailable += 1;
                    }
                    Ok(reply) => {
                        lost.others
                            .push(format!("user {}: {} {}", user.id, reply.status, reply.text));
                        break;
                    }
                    Err(e) if Instant::now() < deadline => lost.others.push(e),
                    Err(e) => {
                        lost.others.push(e);
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        lost
    }
}

#[derive(Debug, Default)]
struct Paused {
    requests: usize,
    unavailable: usize,
    slowest: Duration,
    ready_status: u16,
    others: Vec<String>,
}

#[derive(Debug, Default)]
struct Lost {
    expired: usize,
    unavailable: usize,
    others: Vec<String>,
}
