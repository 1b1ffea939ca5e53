//! Rolling key rotation across replicas under load (docs/key-rotation.md).
//!
//! Three replicas of the binary (`serve --port 0`, one worker each, each on
//! its own config directory) run behind nginx, round robin, so that
//! consecutive requests of one client land on different replicas. Sixty
//! virtual shoppers, half with the cookie and half with a bearer token, keep
//! building and changing their own carts the whole time, each keeping its
//! own record of what its cart must hold.
//!
//! The walk follows the runbook one replica at a time, with
//! `cartseal check-config` and SIGHUP after each config change (or, in the
//! `Reload::Watch` walk, the edit alone, which each replica's watcher
//! applies, then `check-config --against-running`), waiting until each
//! reload took effect (its reload counter or `GET /keys`, then a cart it
//! seals) before moving to the next replica:
//!
//! 1. the new key enters as `pending` everywhere;
//! 2. it becomes `active` everywhere, the old key `decrypt-only`;
//! 3. traffic runs until every shopper has made a request after step 2
//!    (which re-sealed its token), then until a window of opens, read from
//!    `cartseal_tokens_opened_total` on each replica's admin listener,
//!    counts none under the old key;
//! 4. the old key is `retired`, one replica at a time.
//!
//! (The runbook's section 3 holds steps 3 and 4: watch, then retire.)
//!
//! At the end no request may have failed (every non-2xx counts, 401s
//! included), every cart read through nginx must be its shopper's record,
//! and every token in use must name the new keys. The walk runs for the
//! `paseto` format and for the `jwt` format (EdDSA), where the signing key
//! and the cart key rotate together.
//!
//! Two more tests skip step 1 on purpose, one per format: one replica makes
//! the new keys active before the others know them, under the same load,
//! and the users that fail (401 from the replicas that cannot open its
//! tokens) and the carts lost are counted: the failure the staging prevents.
//!
//! Each test prints what it measured:
//! `cargo test --test api rotation::rolling -- --nocapture --test-threads=1`.
//! They take turns with the failover tests, which also run a cluster.

mod cluster;
pub(super) mod metrics;
mod runbook;
mod shoppers;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster::{Cluster, Format, Reload, Stage};
use metrics::{Opens, count, token_kids};
use shoppers::{Load, Outcome, Shopper};
use tokio::task::JoinHandle;

use crate::helpers::Client;

const REPLICAS: usize = 3;
/// Virtual shoppers; even ids use the cookie, odd ids a bearer token.
const VUS: usize = 60;
/// Requests served between two replicas' reloads: while the replicas stand
/// at different steps.
const BETWEEN_RELOADS: usize = VUS * 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_rotation_of_the_paseto_key_fails_no_request_and_loses_no_cart() {
    walk(Format::Paseto, Reload::Signal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_rotation_of_the_jwt_signing_and_cart_keys_fails_no_request_and_loses_no_cart() {
    walk(Format::Jwt, Reload::Signal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_rotation_by_file_edits_alone_fails_no_request_and_loses_no_cart() {
    walk(Format::Paseto, Reload::Watch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipping_the_pending_step_on_one_replica_fails_users_and_loses_paseto_carts() {
    skip_step_one(Format::Paseto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipping_the_pending_step_on_one_replica_fails_users_and_loses_jwt_carts() {
    skip_step_one(Format::Jwt).await;
}

/// The shoppers at work.
struct Shopping {
    load: Arc<Load>,
    tasks: Vec<JoinHandle<Shopper>>,
}

impl Shopping {
    /// `count` shoppers of the load balancer `client`.
    fn start(client: &Client, count: usize) -> Self {
        let load = Arc::new(Load::new(count));
        let tasks = (0..count)
            .map(|id| tokio::spawn(Shopper::new(id, client).run(load.clone())))
            .collect();
        Self { load, tasks }
    }

    /// Stops the shoppers, then reads every cart: the shoppers, and what
    /// each cart read as.
    async fn stop_and_verify(self) -> (Vec<Shopper>, Vec<Outcome>) {
        self.load.stop();
        let mut shoppers = Vec::new();
        for task in self.tasks {
            shoppers.push(task.await.expect("a shopper panicked"));
        }
        let mut outcomes = Vec::new();
        for shopper in &mut shoppers {
            outcomes.push(shopper.verify().await);
        }
        (shoppers, outcomes)
    }
}

/// The shoppers of the cluster at work, once they warmed it up under the
/// old keys alone.
async fn warm_up(cluster: &Cluster) -> (Shopping, Arc<Load>, Stages) {
    let shopping = Shopping::start(&cluster.client, VUS);
    let load = shopping.load.clone();
    let mut stages = Stages::new(cluster).await;
    load.progress(VUS * 5, Cluster::PATIENCE).await;
    stages
        .stage("warm-up (old keys only)", cluster, &load)
        .await;
    (shopping, load, stages)
}

/// What each replica counted during each stage.
struct Stages {
    rotation: cluster::Rotation,
    last: Vec<Opens>,
    last_requests: usize,
    last_at: Instant,
    text: String,
}

impl Stages {
    async fn new(cluster: &Cluster) -> Self {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "{:<38} {:>8} {:>7}  opens under the old / new keys, per replica{}",
            "stage",
            "requests",
            "seconds",
            if cluster.rotation.format == Format::Jwt {
                " (kid = signing key, cart_kid = cart key)"
            } else {
                ""
            }
        );
        Self {
            rotation: cluster.rotation.clone(),
            last: cluster.opens().await,
            last_requests: 0,
            last_at: Instant::now(),
            text,
        }
    }

    /// Records what happened since the last stage; returns the opens of
    /// this stage, per replica.
    async fn stage(&mut self, name: &str, cluster: &Cluster, load: &Load) -> Vec<Opens> {
        let now = cluster.opens().await;
        let during: Vec<Opens> = now
            .iter()
            .zip(&self.last)
            .map(|(n, l)| n.since(l))
            .collect();
        let requests = load.requests();
        let mut cells = Vec::new();
        for opens in &during {
            cells.push(self.cell(opens));
        }
        let _ = writeln!(
            self.text,
            "{name:<38} {:>8} {:>7.1}  {}",
            requests - self.last_requests,
            self.last_at.elapsed().as_secs_f64(),
            cells.join(" | ")
        );
        self.last = now;
        self.last_requests = requests;
        self.last_at = Instant::now();
        during
    }

    fn cell(&self, opens: &Opens) -> String {
        let r = &self.rotation;
        let get = |map: &std::collections::BTreeMap<String, u64>, id: &str| {
            map.get(id).copied().unwrap_or(0)
        };
        match &r.new_signing {
            None => format!(
                "{}/{}",
                get(&opens.by_kid, &r.old_local.id),
                get(&opens.by_kid, &r.new_local.id)
            ),
            Some(signing) => format!(
                "kid {}/{} cart_kid {}/{}",
                get(&opens.by_kid, &r.old_signing.id),
                get(&opens.by_kid, &signing.id),
                get(&opens.by_cart_kid, &r.old_local.id),
                get(&opens.by_cart_kid, &r.new_local.id)
            ),
        }
    }
}

/// Opens under any of `ids`, over every replica.
fn opened_under(opens: &[Opens], ids: &[&str]) -> u64 {
    opens
        .iter()
        .map(|o| ids.iter().map(|id| o.under(id)).sum::<u64>())
        .sum()
}

/// The runbook, one replica at a time, under load; then every check.
async fn walk(format: Format, reload: Reload) {
    let _turn = crate::failover::ONE_AT_A_TIME.lock().await;
    let began = Instant::now();
    let mut cluster = Cluster::start(format, reload);
    let patience = Cluster::PATIENCE;
    // A cart sealed under the old keys that nobody touches: retiring the
    // old keys must refuse it, and only it.
    let idle = cluster.direct(0).post("/cart").send().await;
    let idle = idle.cart_token().expect("POST /cart issues a Cart-Token");

    let (shopping, load, mut stages) = warm_up(&cluster).await;

    let mut reloads = Vec::new();
    for r in 0..REPLICAS {
        reloads.push(cluster.move_to(r, Stage::Pending).await);
        load.progress(BETWEEN_RELOADS, patience).await;
        stages
            .stage(&format!("1. pending on replica {r}"), &cluster, &load)
            .await;
    }

    let mut step_two_done = 0;
    for r in 0..REPLICAS {
        reloads.push(cluster.move_to(r, Stage::Active).await);
        step_two_done = load.now();
        if r + 1 < REPLICAS {
            load.progress(BETWEEN_RELOADS, patience).await;
            stages
                .stage(&format!("2. active on replica {r}"), &cluster, &load)
                .await;
        }
    }

    // Step 3: every shopper makes a request after step 2...
    let deadline = Instant::now() + patience;
    while load.unsettled_since(step_two_done) > 0 {
        assert!(
            Instant::now() < deadline,
            "{} shoppers made no successful request after step 2; {}",
            load.unsettled_since(step_two_done),
            load.describe()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stages
        .stage(
            &format!("2. active on replica {}; 3. all re-seal", REPLICAS - 1),
            &cluster,
            &load,
        )
        .await;
    // ...then a window of opens counts none under the old keys.
    let rotation = cluster.rotation.clone();
    let old = rotation.old_ids();
    let new = rotation.new_ids();
    let mut windows = 0;
    let window = loop {
        windows += 1;
        load.progress(VUS * 3, patience).await;
        let window = stages
            .stage(&format!("3. window {windows}"), &cluster, &load)
            .await;
        if opened_under(&window, &old) == 0 {
            break window;
        }
        assert!(
            Instant::now() < deadline,
            "the old keys still open tokens; {}",
            stages.text
        );
    };
    for (r, opens) in window.iter().enumerate() {
        assert!(
            new.iter().all(|id| opens.under(id) > 0),
            "replica {r} opened tokens under every new key during the window: {opens:?}"
        );
    }

    for r in 0..REPLICAS {
        reloads.push(cluster.move_to(r, Stage::Retired).await);
        let refused = cluster
            .direct(r)
            .get("/cart")
            .header("authorization", &format!("Bearer {idle}"))
            .send()
            .await;
        refused.assert_problem(401, "token_invalid");
        load.progress(BETWEEN_RELOADS, patience).await;
        let retired = stages
            .stage(&format!("4. retired on replica {r}"), &cluster, &load)
            .await;
        assert_eq!(
            opened_under(&retired, &old),
            0,
            "nothing opens under the old keys once they are being retired"
        );
    }

    let (shoppers, outcomes) = shopping.stop_and_verify().await;
    stages
        .stage("stop, then read every cart", &cluster, &load)
        .await;
    let exact = outcomes.iter().filter(|o| **o == Outcome::Exact).count();
    let wanted = cluster.rotation.kids_at(Stage::Retired);
    let on_new_keys = shoppers
        .iter()
        .filter(|s| s.token().map(token_kids) == Some(wanted.clone()))
        .count();
    let metrics = cluster.metrics().await;
    let rejected: Vec<u64> = metrics
        .iter()
        .map(|m| {
            metrics::samples(m, "cartseal_token_rejections_total")
                .iter()
                .map(|(_, n)| *n as u64)
                .sum()
        })
        .collect();
    let retired_key: Vec<u64> = metrics
        .iter()
        .map(|m| {
            count(
                m,
                "cartseal_token_rejections_total",
                "reason",
                "retired_key",
            )
        })
        .collect();

    let reloads_ms: Vec<String> = reloads
        .iter()
        .map(|d| format!("{}", d.as_millis()))
        .collect();
    eprintln!(
        "\n== rolling rotation, {} format, {reload:?}: {REPLICAS} replicas behind nginx (round robin), {VUS} shoppers ({} cookie, {} bearer) ==\n\
         {}\
         requests {} ({}), failed {} (401s {}), carts diverged {}\n\
         carts checked through nginx {VUS}: exact {exact}, tokens on the new keys {on_new_keys}\n\
         opens windows until none under the old keys: {windows}\n\
         rejections per replica {rejected:?} (retired_key {retired_key:?}: the one idle old-key cart, asked of each replica)\n\
         reloads took (ms, from the edit until it took effect: check-config + SIGHUP, or the watcher) {}\n\
         whole test {:.1} s",
        format.as_str(),
        VUS.div_ceil(2),
        VUS / 2,
        stages.text,
        load.requests(),
        load.steps(),
        load.failed(),
        load.refused(),
        load.diverged(),
        reloads_ms.join(", "),
        began.elapsed().as_secs_f64()
    );

    assert_eq!(load.failed(), 0, "no request may fail: {}", load.describe());
    assert_eq!(
        load.diverged(),
        0,
        "no cart may diverge: {}",
        load.describe()
    );
    for (shopper, outcome) in shoppers.iter().zip(&outcomes) {
        assert_eq!(
            *outcome,
            Outcome::Exact,
            "shopper {} ({:?}): its cart is its record",
            shopper.id,
            shopper.via()
        );
        let token = shopper.token().expect("every shopper holds a token");
        assert_eq!(
            token_kids(token),
            wanted,
            "shopper {}: the token in use names the new keys",
            shopper.id
        );
    }
    assert_eq!(
        rejected, retired_key,
        "the only tokens refused are the idle old-key cart's"
    );
    assert_eq!(retired_key, vec![1; REPLICAS]);
}

/// Step 1 skipped: replica 0 makes the new key active while the others do
/// not know it, under the same load. Counts what the users saw.
async fn skip_step_one(format: Format) {
    let _turn = crate::failover::ONE_AT_A_TIME.lock().await;
    let began = Instant::now();
    let mut cluster = Cluster::start(format, Reload::Signal);
    let patience = Cluster::PATIENCE;
    let (shopping, load, mut stages) = warm_up(&cluster).await;
    assert_eq!(
        load.failed(),
        0,
        "before the rotation nothing fails: {}",
        load.describe()
    );
    let unknown_before: Vec<u64> = cluster
        .metrics()
        .await
        .iter()
        .map(|m| {
            count(
                m,
                "cartseal_token_rejections_total",
                "reason",
                "unknown_key",
            )
        })
        .collect();

    let requests_before = load.requests();
    cluster.move_to(0, Stage::Active).await;
    load.progress(VUS * 20, patience).await;
    stages
        .stage("replica 0 active alone (no step 1)", &cluster, &load)
        .await;
    // The final reads go past the load's counters.
    let (_, outcomes) = shopping.stop_and_verify().await;
    let requests = load.requests() - requests_before;
    let exact = outcomes.iter().filter(|o| **o == Outcome::Exact).count();
    let refused_at_end = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Refused(_)))
        .count();
    let unknown: Vec<u64> = cluster
        .metrics()
        .await
        .iter()
        .zip(&unknown_before)
        .map(|(m, before)| {
            count(
                m,
                "cartseal_token_rejections_total",
                "reason",
                "unknown_key",
            ) - before
        })
        .collect();

    eprintln!(
        "\n== step 1 skipped, {} format: replica 0 of {REPLICAS} made the new keys active alone, {VUS} shoppers ==\n\
         {}\
         after the change: requests {requests}, failed {} (401s {}), users that failed {} of {VUS}\n\
         carts lost (a 401 ended them) {}, {} of them holding lines; at the end {exact} of {VUS} carts read back exactly, {refused_at_end} more were refused\n\
         unknown_key rejections per replica {unknown:?}\n\
         failures: {}\n\
         whole test {:.1} s",
        format.as_str(),
        stages.text,
        load.failed(),
        load.refused(),
        load.failed_users(),
        load.refused(),
        load.lost_lines(),
        load.describe(),
        began.elapsed().as_secs_f64()
    );

    assert!(
        load.failed_users() > 0 && load.refused() > 0,
        "skipping step 1 fails users: {}",
        load.describe()
    );
    assert_eq!(
        load.failed(),
        load.refused(),
        "every failure is a 401: {}",
        load.describe()
    );
    assert_eq!(load.diverged(), 0, "no cart diverges: {}", load.describe());
    assert_eq!(unknown[0], 0, "replica 0 knows both keys");
    assert!(
        unknown[1..].iter().all(|n| *n > 0),
        "the replicas that do not know the new key refuse its tokens: {unknown:?}"
    );
}
