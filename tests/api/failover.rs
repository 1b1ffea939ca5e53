//! Failover behind a real load balancer (docs/benchmarks.md, "Failover behind nginx").
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
//! - `memcached` (a private memcached): the same as Redis when a replica
//!   dies. While Memcached is down (SIGKILL) every request gets 503
//!   `store_unavailable` promptly; it restarts empty, since it keeps
//!   nothing on disk, so every cart is lost.
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
//! nginx is required: a missing one fails the test loudly. The four tests
//! take turns, since each runs 3 replicas, nginx and 50 users on 2 cores.

mod cluster;
mod report;
mod users;

use std::time::{Duration, Instant};

use crate::process::{MemcachedServer, RedisServer, Routing};
use cluster::Cluster;
use report::{Row, ms, report};
use users::Outcome;

const REPLICAS: usize = 3;
const VUS: usize = 50;
const LINES: usize = 8;
/// `redis.timeout_ms` of the replicas.
const REDIS_TIMEOUT_MS: u64 = 300;
/// `memcached.timeout_ms` of the replicas.
const MEMCACHED_TIMEOUT_MS: u64 = 300;
/// No request may take longer while Redis is paused: a hang would blow it.
/// Generous on purpose; the measured figure is reported.
const NO_HANG: Duration = Duration::from_secs(5);
/// A request that takes longer than this has hung: it fails, and is counted.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The tests that run a cluster take turns: these four, and the rolling
/// rotation tests (rotation/rolling), each run 3 replicas, nginx and 50
/// users on 2 cores.
pub(crate) static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Restarts the store, empty (off the runtime: it blocks until the store
/// answers); then how long until a new client gets a cart and how many
/// attempts failed until then, and what the users' carts read as: every one
/// must be lost (401 `token_expired`).
async fn restarted_empty<S: Send + 'static>(
    rig: &Cluster,
    users: &[users::User],
    mut store: S,
    restart: impl FnOnce(&mut S) + Send + 'static,
    what: &str,
) -> (S, Duration, usize, cluster::Lost) {
    let (store, restarted_at) = tokio::task::spawn_blocking(move || {
        restart(&mut store);
        (store, Instant::now())
    })
    .await
    .unwrap();
    let (recovery, failed) = rig.first_new_cart(restarted_at).await;
    let outcome = rig.after_the_store_lost_everything(users).await;
    assert_eq!(
        outcome.expired, VUS,
        "{what}: every cart is lost (401 token_expired); got {:?}",
        outcome.others
    );
    (store, recovery, failed, outcome)
}

// ---------------------------------------------------------------------------
// The designs
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_token_loses_no_cart_when_a_replica_dies() {
    // Routed by cartseal's routing key, as examples/nginx/cartseal.conf
    // does: each client's requests reach one replica, until it dies; its
    // clients then move to the others, whose caches miss once.
    let _turn = ONE_AT_A_TIME.lock().await;
    let rig = Cluster::start("token", None, Routing::CartRoute);
    let run = rig.run_with_a_replica_killed(1).await;
    let affinity = rig.route_affinity(1);
    assert!(
        affinity.keys >= VUS && affinity.split_before_kill == 0,
        "token: every routing key must stay on one replica while it lives: {affinity:?}"
    );
    assert!(
        affinity.moved > 0,
        "token: the dead replica's clients must have moved: {affinity:?}"
    );

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
    let (back, recovery, failed, outcome) = restarted_empty(
        &rig,
        &run.users,
        redis,
        |redis| redis.restart(),
        "redis restarted without persistence",
    )
    .await;
    redis = back;
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
async fn failover_memcached_survives_a_replica_not_its_own_restart() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut memcached = tokio::task::spawn_blocking(MemcachedServer::start)
        .await
        .unwrap();
    let rig = Cluster::start("memcached", Some(memcached.url()), Routing::RoundRobin);
    let mut rows = Vec::new();

    // 1. A replica dies: the carts are in Memcached.
    let run = rig.run_with_a_replica_killed(1).await;
    assert_eq!(
        run.lost(),
        0,
        "memcached: a replica's death loses no cart\n{}",
        run.describe()
    );
    rows.push(run.row("memcached", "a replica SIGKILLed mid-run"));

    // 2. Memcached killed: every request is a prompt 503, none hangs.
    memcached.kill();
    let down = rig.while_the_store_is_down(&run.users).await;
    assert_eq!(
        down.unavailable, down.requests,
        "memcached killed: every request is 503 store_unavailable; got {:?}",
        down.others
    );
    assert!(
        down.slowest < NO_HANG,
        "memcached killed: no request may hang; the slowest took {:?}",
        down.slowest
    );
    assert_eq!(down.ready_status, 503, "memcached killed: /readyz fails");

    // 3. Memcached restarts, empty: every cart is gone.
    let (back, recovery, failed, outcome) = restarted_empty(
        &rig,
        &run.users,
        memcached,
        |memcached| memcached.restart(),
        "memcached restarted",
    )
    .await;
    memcached = back;
    rows.push(Row {
        mode: "memcached",
        event: "Memcached SIGKILLed, then restarted (it keeps nothing on disk)".into(),
        lost: outcome.expired,
        failed: down.requests + failed + outcome.unavailable,
        refused: outcome.expired,
        recovery: format!("{} to the first new cart after the restart", ms(recovery)),
        notes: format!(
            "while it was down every request was 503 `store_unavailable`, slowest {} \
             (timeout {MEMCACHED_TIMEOUT_MS} ms); after the restart every client got 401 \
             `token_expired`: Memcached is the single point of failure",
            ms(down.slowest)
        ),
    });
    report("memcached", rows);
    drop(memcached);
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
