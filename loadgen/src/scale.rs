//! `--replicas N`: each mode on N replicas behind nginx (round robin), the
//! closed loop through nginx, and the verified-token cache's hit rate read
//! from every replica's admin listener.

use std::fmt::Write as _;

use crate::markdown::{f_int, f_ms};
use crate::mode::{Ctx, run_mode};
use crate::process::Routing;
use crate::report::{ModeReport, RunReport};

pub const MARKER: &str = "http-bench-scale";

/// Runs every mode on `replicas` servers, once per routing of
/// `--routing` (round robin, then the routing key).
pub async fn run(ctx: &mut Ctx, modes: &[String], replicas: usize) -> Vec<ModeReport> {
    let mut reports = Vec::new();
    for routing in ctx.args.routings.clone() {
        ctx.routing = match routing.as_str() {
            "key" => Routing::CartRoute,
            _ => Routing::RoundRobin,
        };
        for mode in modes {
            let mut rep = run_mode(ctx, mode, replicas, false).await;
            rep.routing = routing.clone();
            reports.push(rep);
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }
    reports
}

/// The section (without its markers).
pub fn markdown(r: &RunReport, replicas: usize) -> String {
    let mut md = String::new();
    let s = &r.settings;
    crate::output::header(
        &mut md,
        &format!("Scaling out: {replicas} replicas behind nginx"),
        &r.date,
        &r.command,
        &r.machine,
        &r.pinning,
    );
    let _ = writeln!(
        md,
        "**Setup:** {replicas} replicas of each mode (one actix worker each) and nginx (one worker process, HTTP/1.1 keep-alive to the replicas, no access log), all pinned to CPU {}; the load generator on CPU {}. nginx routes round robin (`rr`), or by a consistent hash of cartseal's routing key (`key`, as examples/nginx/cartseal.conf does; a client without one, such as the actix-session peer's, is spread round robin). On this 2-core machine the replicas share one core, so the run measures what spreading clients over replicas costs (nginx, cache misses on a replica that has not seen a token), not how throughput grows with cores. {} VUs, {} lines per cart, {} s warm-up, {} s measured. Server CPU is every replica's, plus the store's for `redis` (redis-server) and `memcached` (memcached); nginx's is shown apart.\n",
        s.server_cpu.map_or("(unpinned)".into(), |c| c.to_string()),
        s.generator_cpu
            .map_or("(unpinned)".into(), |c| c.to_string()),
        s.concurrency,
        s.lines,
        s.warmup_s,
        s.duration_s
    );
    let _ = writeln!(
        md,
        "| routing | mode | req/s | vs actix-session-cookie (rr) | p50 ms | p99 ms | server CPU µs/req | nginx CPU µs/req | token cache hit rate | errors |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    // The peer's best: it has no routing key, so round robin.
    let base = r
        .modes
        .iter()
        .find(|m| m.mode == "actix-session-cookie" && m.routing == "rr" && m.status == "ok")
        .and_then(|m| m.closed.as_ref())
        .map(|c| c.throughput_rps)
        .filter(|b| *b > 0.0);
    for m in &r.modes {
        let Some(c) = m.closed.as_ref().filter(|_| m.status == "ok") else {
            let why = m
                .failure
                .as_deref()
                .and_then(|f| f.lines().next())
                .unwrap_or("no reason recorded");
            let _ = writeln!(
                md,
                "| {} | {} | **{}**: {why} | | | | | | | |",
                m.routing,
                m.mode,
                m.status.to_uppercase()
            );
            continue;
        };
        let hit_rate = match &c.cache {
            Some(cache) => match cache.hit_rate {
                Some(h) => format!(
                    "{:.1}% ({} hits, {} misses, {} evictions)",
                    h * 100.0,
                    f_int(cache.hits as f64),
                    f_int(cache.misses as f64),
                    f_int(cache.evictions as f64)
                ),
                None => "no lookups".into(),
            },
            None => "n/a".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {hit_rate} | {} |",
            m.routing,
            m.mode,
            f_int(c.throughput_rps),
            base.map(|b| format!("{:.2}×", c.throughput_rps / b))
                .unwrap_or("n/a".into()),
            f_ms(c.latency.p50_ms),
            f_ms(c.latency.p99_ms),
            c.server_side_cpu_us_per_req
                .map(|v| format!("{v:.1}"))
                .unwrap_or("n/a".into()),
            c.nginx_cpu_us_per_req
                .map(|v| format!("{v:.1}"))
                .unwrap_or("n/a".into()),
            c.error_count
        );
    }
    let _ = writeln!(
        md,
        "\n`n/a` for the hit rate: the replicas export no `cartseal_token_cache_*` counters (the peer, the redis or memcached store, or a build without the cache).\n"
    );
    let notes: Vec<String> = r
        .modes
        .iter()
        .flat_map(|m| m.notes.iter().map(move |n| format!("- `{}`: {n}", m.mode)))
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(md, "**Notes:**\n\n{}\n", notes.join("\n"));
    }
    md
}
