//! The cluster under test: replicas of the binary behind nginx, and the
//! moves of each scenario (a replica killed mid-run, the store down, the
//! store emptied) with what the users saw.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cartseal_kit::cluster;
use cartseal_kit::shopper::Request;
use serde_json::json;

use super::report::{Check, Run};
use super::users::{Fate, Stats, User};
use super::{LINES, MEMCACHED_TIMEOUT_MS, REDIS_TIMEOUT_MS, REPLICAS, REQUEST_TIMEOUT, VUS};
use crate::helpers::{Auth, BinaryServer, Client, ConfigDir};
use crate::process::Routing;

/// What [`Cluster::route_affinity`] found.
#[derive(Debug, Default)]
pub struct Affinity {
    /// Routing keys seen.
    pub keys: usize,
    /// Keys answered by more than one replica other than by moving off the
    /// killed one.
    pub split_before_kill: usize,
    /// Keys that moved off the killed replica to another.
    pub moved: usize,
}

pub struct Cluster {
    /// The replicas behind nginx.
    fleet: cluster::Cluster<BinaryServer>,
    /// A client of nginx.
    client: Client,
    _config: ConfigDir,
}

impl Cluster {
    /// `store_url` is the central store's URL: Redis's for `redis`,
    /// Memcached's for `memcached`.
    pub fn start(store: &str, store_url: Option<String>, routing: Routing) -> Self {
        let config = ConfigDir::new();
        let redis_timeout = REDIS_TIMEOUT_MS.to_string();
        let memcached_timeout = MEMCACHED_TIMEOUT_MS.to_string();
        let mut env = vec![
            ("CARTSEAL__STORE__KIND", store),
            ("CARTSEAL__REDIS__TIMEOUT_MS", redis_timeout.as_str()),
            (
                "CARTSEAL__MEMCACHED__TIMEOUT_MS",
                memcached_timeout.as_str(),
            ),
            ("CARTSEAL__SERVER__WORKERS", "1"),
            // No catalog: any well-formed sku is accepted.
            ("CARTSEAL__CATALOG__FILE", ""),
        ];
        if let Some(url) = &store_url {
            let var = match store {
                "redis" => "CARTSEAL__REDIS__URL",
                "memcached" => "CARTSEAL__MEMCACHED__URL",
                other => panic!("the {other} store has no URL"),
            };
            env.push((var, url.as_str()));
        }
        let fleet =
            cluster::Cluster::start(REPLICAS, routing, |_| BinaryServer::spawn(&config, &env));
        let client = Client::new(fleet.url()).with_timeout(REQUEST_TIMEOUT);
        Self {
            fleet,
            client,
            _config: config,
        }
    }

    fn users(&self) -> Vec<User> {
        (0..VUS).map(|id| User::new(id, &self.client)).collect()
    }

    /// Every user builds half its cart; all wait for the slowest.
    pub async fn build_first_half(&self) -> Vec<User> {
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
    pub async fn run_with_a_replica_killed(&self, victim: usize) -> Run {
        let mut users = self.build_first_half().await;
        self.finish_with_a_replica_killed(&mut users, victim).await
    }

    /// The second half of every cart, with replica `victim` SIGKILLed once
    /// 30% of that half's requests are done; then every cart is checked.
    pub async fn finish_with_a_replica_killed(&self, users: &mut Vec<User>, victim: usize) -> Run {
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
        let gone = self.fleet.kill(victim);
        *stats.killed_at.lock().unwrap() = Some(killed_at);
        gone.await;
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

    /// How nginx routed each routing key (`Routing::CartRoute`), from its
    /// access log: a key must reach one replica only, and move at most
    /// once, off the replica `victim` that was killed.
    pub fn route_affinity(&self, victim: usize) -> Affinity {
        let victim = format!("127.0.0.1:{}", self.fleet.ports()[victim]);
        let answered = self.fleet.routes();
        let mut affinity = Affinity {
            keys: answered.len(),
            ..Affinity::default()
        };
        for mut replicas in answered.into_values() {
            replicas.dedup();
            match replicas.as_slice() {
                [_] => {}
                [from, _] if *from == victim => affinity.moved += 1,
                _ => affinity.split_before_kill += 1,
            }
        }
        affinity
    }

    /// Which replica holds each user's cart (memory store): the one that
    /// opens it when asked directly.
    pub async fn owners(&self, users: &[User]) -> Vec<usize> {
        let mut owners = Vec::new();
        for user in users {
            let cart = Auth::Cookie(user.shopper.jar.token.clone().expect("a cart"));
            let mut holders = Vec::new();
            for (r, replica) in self.fleet.replicas().iter().enumerate() {
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
    pub async fn verify(&self, users: &mut [User]) -> Check {
        let mut outcomes = Vec::new();
        for user in users.iter_mut() {
            outcomes.push(user.verify().await);
        }
        Check { outcomes }
    }

    /// With the store down: every user reads its cart and rewrites one line
    /// with the quantity it has, at once. Counts the answers, times them.
    pub async fn while_the_store_is_down(&self, users: &[User]) -> Paused {
        let tasks: Vec<_> = users
            .iter()
            .map(|user| {
                let mut user = user.clone();
                tokio::spawn(async move {
                    let sku = user.sku(0);
                    let quantity = user.holds(&sku) as i64;
                    let mut answers = Vec::new();
                    for request in [Request::read(), Request::set(&sku, quantity)] {
                        let started = Instant::now();
                        let answer = user.call(&request).await;
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
    pub async fn first_success(&self, user: &User, since: Instant) -> Duration {
        let mut user = user.clone();
        let deadline = since + Duration::from_secs(20);
        loop {
            if let Ok(reply) = user.call(&Request::read()).await
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
    pub async fn first_new_cart(&self, since: Instant) -> (Duration, usize) {
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
    pub async fn after_the_store_lost_everything(&self, users: &[User]) -> Lost {
        let mut lost = Lost::default();
        for user in users {
            let mut user = user.clone();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match user.call(&Request::read()).await {
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
pub struct Paused {
    pub requests: usize,
    pub unavailable: usize,
    pub slowest: Duration,
    pub ready_status: u16,
    pub others: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Lost {
    pub expired: usize,
    pub unavailable: usize,
    pub others: Vec<String>,
}
