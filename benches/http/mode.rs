//! One mode's run: its Redis or Memcached (and delay proxy) and the server
//! started, the workload run against them, and a failure to start reported.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::args::Args;
use crate::report::ModeReport;
use crate::stats::CpuPids;
use crate::vu::Target;
use crate::workload::{known, workload};
use crate::{SERVER_WORKERS, client, process, procs, proxy};

fn mode_env(mode: &str, store_url: Option<&str>, lines: usize) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("CARTSEAL__COOKIE__SECURE".into(), "false".into()),
        (
            "CARTSEAL__SERVER__WORKERS".into(),
            SERVER_WORKERS.to_string(),
        ),
        ("CARTSEAL__CATALOG__FILE".into(), String::new()),
    ];
    let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
    match mode {
        "token-paseto" => {
            env.push(kv("CARTSEAL__STORE__KIND", "token"));
            env.push(kv("CARTSEAL__TOKEN__FORMAT", "paseto"));
        }
        "token-jwt" => {
            env.push(kv("CARTSEAL__STORE__KIND", "token"));
            env.push(kv("CARTSEAL__TOKEN__FORMAT", "jwt"));
        }
        "redis" | "redis+rtt" => {
            env.push(kv("CARTSEAL__STORE__KIND", "redis"));
            env.push(kv("CARTSEAL__REDIS__URL", store_url.unwrap_or_default()));
        }
        "memcached" | "memcached+rtt" => {
            env.push(kv("CARTSEAL__STORE__KIND", "memcached"));
            env.push(kv(
                "CARTSEAL__MEMCACHED__URL",
                store_url.unwrap_or_default(),
            ));
        }
        "memory" => env.push(kv("CARTSEAL__STORE__KIND", "memory")),
        _ => {
            env.push(kv("CARTSEAL__STORE__KIND", "none"));
            // The fixed cart every request sees: as many lines as the VUs'.
            env.push(kv(
                "CARTSEAL__STORE__NONE_TEMPLATE_LINES",
                &lines.to_string(),
            ));
        }
    }
    if std::env::var_os("RUST_LOG").is_none() {
        // Per-request logging would be measured as server CPU.
        env.push(kv("RUST_LOG", "warn"));
    }
    env
}

pub struct Ctx {
    pub args: Args,
    pub crate_root: PathBuf,
    pub log_dir: PathBuf,
    pub server_cpu: Option<usize>,
    pub generator_cpu: Option<usize>,
    pub clk_tck: f64,
    pub rate: Option<f64>,
    pub rate_source: String,
}

pub fn loud(msg: &str) {
    let bar = "!".repeat(78);
    eprintln!("\n{bar}\n!! {}\n{bar}\n", msg.replace('\n', "\n!! "));
}

/// On a shared machine, waits (up to `max` seconds) until neither core is
/// more than 20% busy over half a second, so that a mode does not start in
/// the middle of someone else's compile. Returns a note if it gave up.
async fn settle(max: f64) -> Option<String> {
    if max <= 0.0 {
        return None;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs_f64(max);
    let mut said = false;
    loop {
        let a = procs::per_cpu_ticks();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let b = procs::per_cpu_ticks();
        let busy: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(a, b)| {
                let total = b.1.saturating_sub(a.1).max(1);
                b.0.saturating_sub(a.0) as f64 / total as f64
            })
            .collect();
        let max_busy = busy.iter().cloned().fold(0.0, f64::max);
        if max_busy <= 0.20 {
            return None;
        }
        if std::time::Instant::now() > deadline {
            return Some(format!(
                "the machine was still busy (CPU {:.0}% on its busiest core) after waiting {max} s for it to quiet down",
                max_busy * 100.0
            ));
        }
        if !said {
            println!(
                "  waiting up to {max} s for other processes to quiet down (busiest core {:.0}%)",
                max_busy * 100.0
            );
            said = true;
        }
    }
}

pub async fn run_mode(ctx: &mut Ctx, mode: &str) -> ModeReport {
    let mut rep = ModeReport::new(mode);
    println!("\n=== {mode} ===");
    if let Some(note) = settle(ctx.args.settle).await {
        println!("  ! {note}");
        rep.notes.push(note);
    }

    // Redis or Memcached, and the delay proxy.
    let mut redis = None;
    let mut memcached = None;
    let mut proxy = None;
    let mut store_url = None;
    let mut store_addr = None;
    if mode.starts_with("redis") {
        match start_redis(ctx) {
            Ok(r) => {
                match r.server() {
                    Some(server) => println!(
                        "  private redis-server pid {} at {}{}",
                        server.pid(),
                        r.url(),
                        ctx.server_cpu
                            .map(|c| format!(", pinned to CPU {c}"))
                            .unwrap_or_default()
                    ),
                    None => {
                        println!("  using REDIS_URL {} (its CPU is not measured)", r.url());
                        rep.notes.push(format!(
                            "external Redis from REDIS_URL ({}): its CPU is not counted",
                            r.url()
                        ));
                    }
                }
                store_url = Some(r.url().to_owned());
                redis = Some(r);
            }
            Err(e) => return fail_start(rep, &e),
        }
        let r = redis.as_ref().expect("redis set above");
        let Some(redis_addr) = r.addr() else {
            return fail_start(rep, &format!("cannot parse the Redis URL {:?}", r.url()));
        };
        store_addr = Some(redis_addr);
    } else if mode.starts_with("memcached") {
        match start_memcached(ctx) {
            Ok(m) => {
                match m.server() {
                    Some(server) => {
                        println!(
                            "  private memcached pid {} at {}{}",
                            server.pid(),
                            m.url(),
                            ctx.server_cpu
                                .map(|c| format!(", pinned to CPU {c}"))
                                .unwrap_or_default()
                        );
                        rep.notes.push(
                            "the store CPU shown as redis-server's is the private memcached's"
                                .into(),
                        );
                    }
                    None => {
                        println!(
                            "  using MEMCACHED_URL {} (its CPU is not measured)",
                            m.url()
                        );
                        rep.notes.push(format!(
                            "external Memcached from MEMCACHED_URL ({}): its CPU is not counted",
                            m.url()
                        ));
                    }
                }
                store_url = Some(m.url().to_owned());
                memcached = Some(m);
            }
            Err(e) => return fail_start(rep, &e),
        }
        let m = memcached.as_ref().expect("memcached set above");
        let Some(addr) = m.addr() else {
            return fail_start(
                rep,
                &format!("cannot parse the Memcached URL {:?}", m.url()),
            );
        };
        store_addr = Some(addr);
    }
    if let Some(store_addr) = store_addr {
        // Memcached answers the probe's `PING` line with one `ERROR` line:
        // the same one-line round trip.
        rep.redis_ping_direct_us = proxy::redis_ping_median_us(store_addr, 200);
        if mode.ends_with("+rtt") {
            let delay = Duration::from_secs_f64(ctx.args.rtt_ms / 1000.0);
            match proxy::DelayProxy::start(store_addr, delay) {
                Ok(p) => {
                    let (direct, via) = p.calibrate(store_addr, delay);
                    rep.redis_ping_direct_us = direct;
                    rep.redis_ping_via_proxy_us = via;
                    rep.proxy_hold_us = Some(p.hold().as_secs_f64() * 1e6);
                    println!(
                        "  delay proxy 127.0.0.1:{} -> {} for {} ms each way (hold calibrated to {:.0} µs per chunk); PING median {} µs direct, {} µs via proxy",
                        p.addr.port(),
                        store_addr,
                        ctx.args.rtt_ms,
                        p.hold().as_secs_f64() * 1e6,
                        known(rep.redis_ping_direct_us, 0),
                        known(rep.redis_ping_via_proxy_us, 0),
                    );
                    let scheme = if memcached.is_some() { "tcp" } else { "redis" };
                    store_url = Some(format!("{scheme}://127.0.0.1:{}", p.addr.port()));
                    proxy = Some(p);
                }
                Err(e) => return fail_start(rep, &format!("cannot start the delay proxy: {e}")),
            }
        }
    }

    // The server.
    let env = mode_env(mode, store_url.as_deref(), ctx.args.lines);
    rep.env = env.clone();
    let log_path = ctx
        .log_dir
        .join(format!("{}-server.log", mode.replace('+', "-")));
    let server = match start_server(ctx, env, &log_path).await {
        Ok(s) => s,
        Err(e) => return fail_start(rep, &e),
    };
    println!(
        "  server pid {} on {} (log {})",
        server.proc.pid(),
        server.url,
        log_path.display()
    );
    let pids = CpuPids {
        server: server.proc.pid(),
        // The central store's process, Redis or Memcached.
        redis: redis
            .as_ref()
            .and_then(|r| r.server())
            .map(|s| s.pid())
            .or_else(|| memcached.as_ref().and_then(|m| m.server()).map(|s| s.pid())),
    };
    let target = Arc::new(Target {
        addr: server.addr(),
        host: format!("127.0.0.1:{}", server.port),
    });

    let result = workload(ctx, mode, &mut rep, target, pids).await;
    if let Err(e) = result {
        loud(&format!("mode {mode}: {e}"));
        rep.status = "failed".into();
        rep.failure = Some(e);
    }
    let mut server = server;
    if let Some(status) = server.proc.exited() {
        let why = format!(
            "the server exited during the run ({status}); see {}",
            log_path.display()
        );
        loud(&format!("mode {mode}: {why}"));
        if rep.status == "ok" {
            rep.status = "failed".into();
            rep.failure = Some(why);
        } else {
            rep.notes.push(why);
        }
    }
    drop(server);
    drop(proxy);
    drop(redis);
    drop(memcached);
    rep
}

/// A private `redis-server` on the server's CPU, or the Redis of `REDIS_URL`.
fn start_redis(ctx: &Ctx) -> Result<process::Redis, String> {
    let cpu = ctx.server_cpu;
    // Not `redis-server.log`: the redis mode's server log has that name.
    let log = ctx.log_dir.join("redis.log");
    process::Redis::from_env_or(|| {
        process::RedisServer::start_with(
            move || procs::pinned_command(Path::new("redis-server"), cpu),
            Some(&log),
        )
    })
}

/// A private `memcached` on the server's CPU, or the Memcached of
/// `MEMCACHED_URL`.
fn start_memcached(ctx: &Ctx) -> Result<process::Memcached, String> {
    let cpu = ctx.server_cpu;
    // Not `memcached-server.log`: the memcached mode's server log.
    let log = ctx.log_dir.join("memcached.log");
    process::Memcached::from_env_or(|| {
        process::MemcachedServer::start_with(
            move || procs::pinned_command(Path::new("memcached"), cpu),
            &[],
            Some(&log),
        )
    })
}

/// Starts the server on its CPU, waits for its `listening on` line (off
/// this runtime) and a 200 from `/readyz`. Any failure is an `Err` with the
/// reason and the output's last lines.
async fn start_server(
    ctx: &Ctx,
    env: Vec<(String, String)>,
    log_path: &Path,
) -> Result<process::Service, String> {
    let mut cmd = procs::pinned_command(&ctx.args.bin, ctx.server_cpu);
    cmd.envs(env);
    let config = ctx.crate_root.join("config.toml");
    let log = log_path.to_path_buf();
    let mut server =
        tokio::task::spawn_blocking(move || process::Service::start(cmd, &config, Some(&log)))
            .await
            .map_err(|e| format!("the server start panicked: {e}"))??;
    let fail = |why: String, server: &process::Service| {
        format!(
            "{why}\nlog {}; last output:\n{}",
            log_path.display(),
            server.proc.tail(20)
        )
    };
    let host = format!("127.0.0.1:{}", server.port);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.proc.exited() {
            tokio::time::sleep(Duration::from_millis(100)).await; // let the readers finish
            return Err(fail(
                format!("server exited ({status}) before ready"),
                &server,
            ));
        }
        let req = client::build_request("GET", "/readyz", &host, None, None);
        let attempt = tokio::time::timeout(Duration::from_secs(2), async {
            let mut c = client::Conn::connect(server.addr())
                .await
                .map_err(|e| e.to_string())?;
            c.roundtrip(&req).await.map_err(|e| e.to_string())
        })
        .await;
        let last = match attempt {
            Ok(Ok(r)) if r.status == 200 => return Ok(server),
            Ok(Ok(r)) => format!("/readyz {}: {}", r.status, String::from_utf8_lossy(&r.body)),
            Ok(Err(e)) => e,
            Err(_) => "/readyz timed out".to_string(),
        };
        if std::time::Instant::now() > deadline {
            return Err(fail(format!("not ready within 30 s ({last})"), &server));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn fail_start(mut rep: ModeReport, why: &str) -> ModeReport {
    loud(&format!(
        "mode {} FAILED TO START; skipping it.\n{why}",
        rep.mode
    ));
    rep.status = "failed to start".into();
    rep.failure = Some(why.to_string());
    rep
}
