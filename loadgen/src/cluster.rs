//! The `redis-cluster` mode's store: a local Redis Cluster of three masters
//! and three replicas (kit/src/process/redis_cluster.rs), its nodes pinned
//! to the server's CPU as the `redis` mode's redis-server is.

use crate::mode::Ctx;
use crate::{process, procs};

/// Starts the cluster. Its six processes' CPU is counted as the `redis`
/// mode's redis-server's is (`Stack::pids`).
pub async fn start(ctx: &Ctx, notes: &mut Vec<String>) -> Result<process::RedisCluster, String> {
    let cluster = tokio::task::spawn_blocking(process::RedisCluster::start)
        .await
        .map_err(|e| format!("the Redis Cluster start panicked: {e}"))?;
    if let Some(cpu) = ctx.server_cpu {
        for pid in cluster.pids() {
            if let Err(e) = procs::pin_pid(pid, cpu) {
                notes.push(format!("a cluster node could not be pinned: {e}"));
            }
        }
    }
    println!(
        "  private Redis Cluster (3 masters, 3 replicas) at {}",
        cluster.urls().join(",")
    );
    Ok(cluster)
}
