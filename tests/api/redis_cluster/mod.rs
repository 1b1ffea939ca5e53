//! The Redis store on a Redis Cluster (`redis.cluster_nodes`;
//! docs/architecture.md, "Redis Cluster"). The acceptance suite runs on it
//! too (its `redis_cluster` module); here is the cluster a test uses.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use redis::aio::ConnectionLike;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;

use crate::process::RedisCluster;

/// The cluster the tests running at the same time share; it stops when the
/// last of them drops it.
static SHARED: Mutex<Weak<RedisCluster>> = Mutex::new(Weak::new());

enum Holder {
    Shared(Arc<RedisCluster>),
    /// `None` only while it restarts.
    Private(Option<RedisCluster>),
}

/// Where a test keeps its carts in a Redis Cluster: a shared cluster under
/// a key prefix of the test's own, or a private one it may restart.
pub struct ClusterTarget {
    cluster: Holder,
    /// Every key of this test starts with it.
    pub prefix: String,
}

impl ClusterTarget {
    /// The cluster other tests running now use, or a new one.
    pub async fn shared(label: &str) -> Self {
        let cluster = tokio::task::spawn_blocking(|| {
            let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
            shared.upgrade().unwrap_or_else(|| {
                let cluster = Arc::new(RedisCluster::start());
                *shared = Arc::downgrade(&cluster);
                cluster
            })
        })
        .await
        .expect("a Redis Cluster starts");
        Self::new(Holder::Shared(cluster), label)
    }

    /// A cluster of the test's own: for a test that kills or restarts it.
    pub async fn private(label: &str) -> Self {
        let cluster = tokio::task::spawn_blocking(RedisCluster::start)
            .await
            .expect("a Redis Cluster starts");
        Self::new(Holder::Private(Some(cluster)), label)
    }

    fn new(cluster: Holder, label: &str) -> Self {
        Self {
            cluster,
            prefix: format!("cartseal:{label}:{}:", cartseal::ids::random()),
        }
    }

    pub fn cluster(&self) -> &RedisCluster {
        match &self.cluster {
            Holder::Shared(cluster) => cluster,
            Holder::Private(cluster) => cluster.as_ref().expect("a cluster, not restarting"),
        }
    }

    /// The seed nodes: every node's URL.
    pub fn urls(&self) -> Vec<String> {
        self.cluster().urls()
    }

    /// The key of a session id.
    pub fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// A cluster connection of the test's own, beside the one under test.
    pub async fn connection(&self) -> ClusterConnection {
        ClusterClient::new(self.urls())
            .expect("the cluster's URLs")
            .get_async_connection()
            .await
            .expect("the test's cluster answers")
    }

    /// SIGKILLs the node on `port` of a private cluster.
    pub fn kill(&mut self, port: u16) {
        match &mut self.cluster {
            Holder::Private(Some(cluster)) => cluster.kill(port),
            _ => panic!("ClusterTarget::private: a cluster of the test's own to kill a node of"),
        }
    }

    /// Kills every node and makes a new, empty cluster on the same ports,
    /// off the runtime.
    pub async fn restart(&mut self) {
        let Holder::Private(held) = &mut self.cluster else {
            panic!("ClusterTarget::private: a cluster of the test's own to restart");
        };
        let mut cluster = held.take().expect("a cluster, not restarting");
        let cluster = tokio::task::spawn_blocking(move || {
            cluster.restart();
            cluster
        })
        .await
        .expect("the cluster restarts");
        *held = Some(cluster);
    }
}

/// Ages every key under `prefix` by `secs`, on a connection to one Redis or
/// to a cluster (`KEYS` there asks every master): a key whose TTL runs out
/// in that time is deleted, the others lose that much TTL.
pub async fn age_keys(conn: &mut (impl ConnectionLike + Send), prefix: &str, secs: i64) {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(conn)
        .await
        .expect("KEYS");
    for key in keys {
        let left: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(conn)
            .await
            .expect("PTTL");
        if left < 0 {
            continue; // gone, or no TTL (the test would then see it stay)
        }
        let passed = secs * 1000;
        let aged = if left <= passed {
            redis::cmd("DEL").arg(&key).clone()
        } else {
            redis::cmd("PEXPIRE").arg(&key).arg(left - passed).clone()
        };
        let _: i64 = aged.query_async(conn).await.expect("age a key");
    }
}

mod failover;

pub mod spread {
    use cartseal::config::StoreKind;

    use super::ClusterTarget;
    use crate::helpers::{Auth, ConfigDir, TestApp, spawn_app_in};
    use crate::process::redis_cli;

    /// A service on `target`'s cluster, every call bounded by `timeout_ms`.
    pub async fn app_on(target: &ClusterTarget, timeout_ms: u64) -> TestApp {
        spawn_app_in(ConfigDir::new(), |s| {
            s.redis.timeout_ms = timeout_ms;
            s.store.kind = StoreKind::Redis;
            s.redis.url = String::new();
            s.redis.cluster_nodes = target.urls();
            s.redis.key_prefix = target.prefix.clone();
        })
        .await
    }

    /// No hash tag pins the carts to one node: 30 carts land on every
    /// master (all three hold none with probability 3 × (2/3)^30, about
    /// 1 in 60,000).
    #[tokio::test]
    async fn carts_spread_over_every_master() {
        let target = ClusterTarget::shared("spread").await;
        let app = app_on(&target, 250).await;
        for _ in 0..30 {
            let token = app.create().await;
            let reply = app.add(&Auth::Bearer(token), "TEE-100", 1).await;
            assert_eq!(reply.status, 200, "add: {}", reply.text);
        }
        let pattern = format!("{}*", target.prefix);
        let mut held = Vec::new();
        for node in target.cluster().nodes().iter().filter(|n| n.is_master()) {
            let keys = redis_cli(node.port, &["keys", &pattern]);
            held.push(
                keys.lines()
                    .filter(|l| l.starts_with(&target.prefix))
                    .count(),
            );
        }
        assert_eq!(held.len(), 3, "three masters");
        assert_eq!(held.iter().sum::<usize>(), 30, "every cart once: {held:?}");
        assert!(held.iter().all(|&n| n > 0), "on every master: {held:?}");
    }
}
