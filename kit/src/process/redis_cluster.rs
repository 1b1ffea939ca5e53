//! A private Redis Cluster: six `redis-server --cluster-enabled yes` on free
//! loopback ports, made into three masters with one replica each by
//! `redis-cli --cluster create`, killed on drop.
//!
//! Starting blocks the calling thread while it waits for every node to say
//! `cluster_state:ok`: call it from `spawn_blocking` while a server under
//! test shares the runtime.

use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::redis_server::serves;
use super::{ChildGuard, free_port};

/// Masters, and one replica for each.
const MASTERS: usize = 3;
const NODES: usize = 2 * MASTERS;
/// `cluster-node-timeout`: how long a master may be unreachable before its
/// replica starts a failover.
pub const NODE_TIMEOUT_MS: u64 = 1000;

/// A running Redis Cluster.
pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: TempDir,
}

/// One `redis-server` of the cluster.
pub struct Node {
    proc: Option<ChildGuard>,
    pub port: u16,
}

impl RedisCluster {
    /// How long a start may take before it counts as failed.
    const PATIENCE: Duration = Duration::from_secs(30);

    /// Starts one; fails loudly when redis-server or redis-cli is missing.
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_start() -> Result<Self, String> {
        for program in ["redis-server", "redis-cli"] {
            if Command::new(program).arg("--version").output().is_err() {
                return Err(format!(
                    "{program} is missing: apt-get install redis-server redis-tools \
                     (scripts/test installs them)"
                ));
            }
        }
        let dir = tempfile::tempdir().map_err(|e| format!("a temp dir for the cluster: {e}"))?;
        let mut nodes = Vec::with_capacity(NODES);
        while nodes.len() < NODES {
            // Another process can take the free port first: try another.
            let port = free_port();
            if let Ok(proc) = launch(port, &dir) {
                nodes.push(Node {
                    proc: Some(proc),
                    port,
                });
            }
        }
        let cluster = Self { nodes, dir };
        cluster.create()?;
        Ok(cluster)
    }

    /// Joins the nodes into a cluster and waits until every one serves it.
    fn create(&self) -> Result<(), String> {
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &self.nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        create.args(["--cluster-replicas", "1", "--cluster-yes"]);
        let output = create
            .output()
            .map_err(|e| format!("cannot run redis-cli --cluster create: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let deadline = Instant::now() + Self::PATIENCE;
        for node in &self.nodes {
            // Serving the cluster, and a replica holding its master's data:
            // one whose first sync has not ended cannot take over.
            while !node.is_ok() || !node.is_synced() {
                if Instant::now() > deadline {
                    return Err(format!(
                        "node 127.0.0.1:{} never reached cluster_state:ok and a synced replication",
                        node.port
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// `redis://127.0.0.1:PORT` of every node: the seed nodes.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}", node.port))
            .collect()
    }

    /// The process ids of the running nodes.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .filter_map(|node| node.proc.as_ref().map(ChildGuard::pid))
            .collect()
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// SIGKILLs the node on `port`.
    pub fn kill(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|node| node.port == port)
            .expect("a node of this cluster");
        if let Some(mut proc) = node.proc.take() {
            proc.kill();
        }
    }

    /// Kills every node and makes a new, empty cluster on the same ports:
    /// a restart without persistence.
    pub fn restart(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut proc) = node.proc.take() {
                proc.kill();
            }
        }
        let dir = tempfile::tempdir().expect("a temp dir for the cluster");
        let deadline = Instant::now() + Self::PATIENCE;
        for node in &mut self.nodes {
            loop {
                match launch(node.port, &dir) {
                    Ok(proc) => break node.proc = Some(proc),
                    Err(output) if Instant::now() > deadline => {
                        panic!("redis-server did not restart on {}:\n{output}", node.port)
                    }
                    // The old socket may linger for a moment.
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        self.dir = dir;
        self.create().unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Node {
    /// What `CLUSTER INFO` says of the cluster's state, from this node.
    fn is_ok(&self) -> bool {
        redis_cli(self.port, &["cluster", "info"]).contains("cluster_state:ok")
    }

    /// A master, or a replica whose link to its master is up.
    fn is_synced(&self) -> bool {
        let info = redis_cli(self.port, &["info", "replication"]);
        info.contains("role:master") || info.contains("master_link_status:up")
    }

    /// Whether this node is a master, by `ROLE`.
    pub fn is_master(&self) -> bool {
        self.proc.is_some() && redis_cli(self.port, &["role"]).starts_with("master")
    }
}

/// What `redis-cli -p PORT ARGS…` prints, empty when it fails.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

/// Starts one cluster node on `port` and waits for its PONG.
fn launch(port: u16, dir: &TempDir) -> Result<ChildGuard, String> {
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--cluster-enabled", "yes"])
        .arg("--cluster-config-file")
        .arg(dir.path().join(format!("nodes-{port}.conf")))
        .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
        // The other masters' slots stay served while one master's are not
        // (the default stops the whole cluster; docs/architecture.md,
        // "Redis Cluster").
        .args(["--cluster-require-full-coverage", "no"])
        // A replica syncs at once, not after the 5 s a master waits by
        // default for more replicas to share a diskless sync.
        .args(["--repl-diskless-sync-delay", "0"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--protected-mode", "no", "--daemonize", "no"])
        .args(["--loglevel", "warning"])
        .arg("--dir")
        .arg(dir.path());
    let mut proc = ChildGuard::start("redis-server (cluster)", cmd, None, |_| {})?;
    let pid = proc.pid();
    proc.wait_until(Duration::from_secs(10), "answered on its port", || {
        serves(port, pid)
    })?;
    Ok(proc)
}
