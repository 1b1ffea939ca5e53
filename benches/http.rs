//! HTTP load benchmark: one command starts every mode itself.
//!
//! ```sh
//! cargo build --release
//! cargo bench --bench http                     # all modes, 10 s per phase
//! cargo bench --bench http -- --quick --modes token-paseto,none
//! ```
//!
//! For each mode (`token-paseto`, `token-jwt`, `redis`, `redis+rtt`,
//! `memory`, `none`) it starts `target/release/cartseal` (and, for the redis
//! modes, a private `redis-server` and, for `redis+rtt`, a TCP delay proxy),
//! pins the server to CPU 0 and itself to CPU 1, builds one cart per virtual
//! user, then measures peak throughput (closed loop) and latency at a fixed
//! offered rate (open loop, latency from the scheduled send time). It writes
//! the section between `<!-- http-bench:start -->` and
//! `<!-- http-bench:end -->` of docs/benchmarks.md, the raw results as JSON,
//! and the chart docs/img/http-bench.svg.
//!
//! Options (flags win over the `CARTSEAL_BENCH_*` environment variables):
//!
//! | flag | env | default |
//! |---|---|---|
//! | `--duration SECS` | `CARTSEAL_BENCH_DURATION` | 10 per phase (2 with `--quick`) |
//! | `--warmup SECS` | `CARTSEAL_BENCH_WARMUP` | 2 closed, 1 open (0.5 with `--quick`) |
//! | `--concurrency N` | `CARTSEAL_BENCH_CONCURRENCY` | 32 closed-loop VUs |
//! | `--pool N` | `CARTSEAL_BENCH_POOL` | 64 open-loop VUs (at least `--concurrency`) |
//! | `--lines N` | `CARTSEAL_BENCH_LINES` | 20 lines per cart |
//! | `--rate R` | `CARTSEAL_BENCH_RATE` | 50% of token-paseto's closed-loop peak in this run |
//! | `--modes a,b` | `CARTSEAL_BENCH_MODES` | all six |
//! | `--rtt-ms MS` | `CARTSEAL_BENCH_RTT_MS` | 0.5 ms each way (`redis+rtt`) |
//! | `--settle SECS` | `CARTSEAL_BENCH_SETTLE` | wait up to 30 s (0 with `--quick`) for the machine to go quiet before each mode |
//! | `--quick` | `CARTSEAL_BENCH_QUICK=1` | off |
//! | `--out PATH` | `CARTSEAL_BENCH_OUT` | docs/benchmarks.md |
//! | `--json PATH` | `CARTSEAL_BENCH_JSON` | docs/benchmarks-http.json |
//! | `--bin PATH` | `CARTSEAL_BENCH_BIN` | target/release/cartseal |
//! | `--no-pin` | | pinning on when there are 2+ CPUs |
//!
//! `REDIS_URL` makes the redis modes use that Redis instead of a private one
//! (its CPU is then not counted). Unknown arguments (such as the `--bench`
//! that cargo passes) are ignored.

#[path = "http/client.rs"]
mod client;
#[path = "http/load.rs"]
mod load;
#[path = "../tests/api/process/mod.rs"]
mod process;
#[path = "http/procs.rs"]
mod procs;
#[path = "http/proxy.rs"]
mod proxy;
#[path = "http/report.rs"]
mod report;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use load::{CpuPids, Target, Vu};
use report::{Machine, ModeReport, PhaseReport, RunReport, Settings};

const ALL_MODES: [&str; 6] = [
    "token-paseto",
    "token-jwt",
    "redis",
    "redis+rtt",
    "memory",
    "none",
];
const SIZE_TABLE_LINES: [usize; 3] = [1, 20, 100];
const SERVER_WORKERS: usize = 1;

struct Args {
    duration: f64,
    warmup: f64,
    open_warmup: f64,
    concurrency: usize,
    pool: usize,
    lines: usize,
    rate: Option<f64>,
    modes: Vec<String>,
    rtt_ms: f64,
    settle: f64,
    quick: bool,
    out: PathBuf,
    json: PathBuf,
    bin: PathBuf,
    pin: bool,
    command: String,
}

const USAGE: &str = "usage: cargo bench --bench http -- [--duration SECS] [--warmup SECS] [--concurrency N] [--pool N] [--lines N] [--rate R] [--modes token-paseto,token-jwt,redis,redis+rtt,memory,none] [--rtt-ms MS] [--settle SECS] [--quick] [--out PATH] [--json PATH] [--bin PATH] [--no-pin]";

fn usage_error(msg: &str) -> ! {
    eprintln!("http bench: {msg}\n{USAGE}");
    std::process::exit(2);
}

fn parse_args(crate_root: &Path) -> Args {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut flags: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut switches = std::collections::HashSet::new();
    let mut shown = Vec::new();
    let takes_value = [
        "--duration",
        "--warmup",
        "--concurrency",
        "--pool",
        "--lines",
        "--rate",
        "--modes",
        "--rtt-ms",
        "--settle",
        "--out",
        "--json",
        "--bin",
    ];
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        if takes_value.contains(&name.as_str()) {
            let v = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    argv.get(i)
                        .cloned()
                        .unwrap_or_else(|| usage_error(&format!("{name} needs a value")))
                }
            };
            shown.push(format!("{name} {v}"));
            flags.insert(name, v);
        } else if name == "--quick" || name == "--no-pin" {
            shown.push(name.clone());
            switches.insert(name);
        } else if name == "--help" || name == "-h" {
            println!("{USAGE}\n(see the top of benches/http.rs for the environment variables)");
            std::process::exit(0);
        }
        // Anything else (cargo's `--bench`, filters) is ignored.
        i += 1;
    }
    let get = |flag: &str, env: &str| -> Option<String> {
        flags
            .get(flag)
            .cloned()
            .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
    };
    fn num<T: std::str::FromStr>(v: Option<String>, name: &str) -> Option<T> {
        v.map(|s| {
            s.parse()
                .unwrap_or_else(|_| usage_error(&format!("bad value {s:?} for {name}")))
        })
    }
    let quick = switches.contains("--quick")
        || std::env::var("CARTSEAL_BENCH_QUICK").is_ok_and(|v| v == "1" || v == "true");
    let duration: f64 = num(get("--duration", "CARTSEAL_BENCH_DURATION"), "--duration")
        .unwrap_or(if quick { 2.0 } else { 10.0 });
    let warmup_flag: Option<f64> = num(get("--warmup", "CARTSEAL_BENCH_WARMUP"), "--warmup");
    let concurrency: usize = num(
        get("--concurrency", "CARTSEAL_BENCH_CONCURRENCY"),
        "--concurrency",
    )
    .unwrap_or(32);
    let pool: usize = num(get("--pool", "CARTSEAL_BENCH_POOL"), "--pool").unwrap_or(64);
    let lines: usize = num(get("--lines", "CARTSEAL_BENCH_LINES"), "--lines").unwrap_or(20);
    let rate: Option<f64> = num(get("--rate", "CARTSEAL_BENCH_RATE"), "--rate");
    let rtt_ms: f64 = num(get("--rtt-ms", "CARTSEAL_BENCH_RTT_MS"), "--rtt-ms").unwrap_or(0.5);
    let settle: f64 = num(get("--settle", "CARTSEAL_BENCH_SETTLE"), "--settle")
        .unwrap_or(if quick { 0.0 } else { 30.0 });
    let modes: Vec<String> = match get("--modes", "CARTSEAL_BENCH_MODES") {
        Some(list) => list
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect(),
        None => ALL_MODES.iter().map(|m| m.to_string()).collect(),
    };
    for m in &modes {
        if !ALL_MODES.contains(&m.as_str()) {
            usage_error(&format!(
                "unknown mode {m:?}; modes are {}",
                ALL_MODES.join(",")
            ));
        }
    }
    if modes.is_empty() {
        usage_error("--modes is empty");
    }
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !positive(duration)
        || concurrency == 0
        || lines == 0
        || rate.is_some_and(|r| !positive(r))
        || !rtt_ms.is_finite()
        || rtt_ms < 0.0
    {
        usage_error("--duration, --concurrency, --lines and --rate must be positive");
    }
    let resolve = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            crate_root.join(p)
        }
    };
    let mut command = String::from("cargo bench --bench http");
    if !shown.is_empty() {
        command.push_str(" -- ");
        command.push_str(&shown.join(" "));
    }
    Args {
        duration,
        warmup: warmup_flag.unwrap_or(if quick { 0.5 } else { 2.0 }),
        open_warmup: warmup_flag.unwrap_or(if quick { 0.5 } else { 1.0 }),
        concurrency,
        pool: pool.max(concurrency),
        lines,
        rate,
        modes,
        rtt_ms,
        settle,
        quick,
        out: resolve(
            get("--out", "CARTSEAL_BENCH_OUT").unwrap_or_else(|| "docs/benchmarks.md".into()),
        ),
        json: resolve(
            get("--json", "CARTSEAL_BENCH_JSON")
                .unwrap_or_else(|| "docs/benchmarks-http.json".into()),
        ),
        bin: resolve(
            get("--bin", "CARTSEAL_BENCH_BIN").unwrap_or_else(|| "target/release/cartseal".into()),
        ),
        pin: !switches.contains("--no-pin"),
        command,
    }
}

fn sh(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn machine_info() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    Machine {
        nproc: sh("nproc", &[]).unwrap_or_else(|| "?".into()),
        cpu_model,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into()),
        rustc: sh("rustc", &["--version"]),
    }
}

fn mode_env(mode: &str, redis_url: Option<&str>, lines: usize) -> Vec<(String, String)> {
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
            env.push(kv("CARTSEAL__REDIS__URL", redis_url.unwrap_or_default()));
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

struct Ctx {
    args: Args,
    crate_root: PathBuf,
    log_dir: PathBuf,
    server_cpu: Option<usize>,
    generator_cpu: Option<usize>,
    clk_tck: f64,
    rate: Option<f64>,
    rate_source: String,
}

fn loud(msg: &str) {
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

async fn run_mode(ctx: &mut Ctx, mode: &str) -> ModeReport {
    let mut rep = ModeReport::new(mode);
    println!("\n=== {mode} ===");
    if let Some(note) = settle(ctx.args.settle).await {
        println!("  ! {note}");
        rep.notes.push(note);
    }

    // Redis and the delay proxy.
    let needs_redis = mode.starts_with("redis");
    let mut redis = None;
    let mut proxy = None;
    let mut redis_url = None;
    if needs_redis {
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
                redis_url = Some(r.url().to_owned());
                redis = Some(r);
            }
            Err(e) => return fail_start(rep, &e),
        }
        let r = redis.as_ref().expect("redis set above");
        let Some(redis_addr) = r.addr() else {
            return fail_start(rep, &format!("cannot parse the Redis URL {:?}", r.url()));
        };
        rep.redis_ping_direct_us = proxy::redis_ping_median_us(redis_addr, 200);
        if mode == "redis+rtt" {
            let delay = Duration::from_secs_f64(ctx.args.rtt_ms / 1000.0);
            match proxy::DelayProxy::start(redis_addr, delay) {
                Ok(p) => {
                    let (direct, via) = p.calibrate(redis_addr, delay);
                    rep.redis_ping_direct_us = direct;
                    rep.redis_ping_via_proxy_us = via;
                    rep.proxy_hold_us = Some(p.hold().as_secs_f64() * 1e6);
                    println!(
                        "  delay proxy 127.0.0.1:{} -> {} for {} ms each way (hold calibrated to {:.0} µs per chunk); PING median {} µs direct, {} µs via proxy",
                        p.addr.port(),
                        redis_addr,
                        ctx.args.rtt_ms,
                        p.hold().as_secs_f64() * 1e6,
                        rep.redis_ping_direct_us
                            .map(|v| format!("{v:.0}"))
                            .unwrap_or("?".into()),
                        rep.redis_ping_via_proxy_us
                            .map(|v| format!("{v:.0}"))
                            .unwrap_or("?".into()),
                    );
                    redis_url = Some(format!("redis://127.0.0.1:{}", p.addr.port()));
                    proxy = Some(p);
                }
                Err(e) => return fail_start(rep, &format!("cannot start the delay proxy: {e}")),
            }
        }
    }

    // The server.
    let env = mode_env(mode, redis_url.as_deref(), ctx.args.lines);
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
        redis: redis.as_ref().and_then(|r| r.server()).map(|s| s.pid()),
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
    rep
}

/// A private `redis-server` on the server's CPU, or the Redis of `REDIS_URL`.
fn start_redis(ctx: &Ctx) -> Result<process::Redis, String> {
    let cpu = ctx.server_cpu;
    let log = ctx.log_dir.join("redis-server.log");
    process::Redis::from_env_or(|| {
        process::RedisServer::start_with(
            move || procs::pinned_command(Path::new("redis-server"), cpu),
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

async fn workload(
    ctx: &mut Ctx,
    mode: &str,
    rep: &mut ModeReport,
    target: Arc<Target>,
    pids: CpuPids,
) -> Result<(), String> {
    let a = &ctx.args;
    // 1. Carts for the closed loop.
    let t = std::time::Instant::now();
    let vus: Vec<Vu> = (0..a.concurrency)
        .map(|i| Vu::new(i, target.clone()))
        .collect();
    let (vus, errors) = load::build_all(vus, a.lines, a.concurrency).await;
    report_build(rep, &errors, vus.len())?;
    let visible: Vec<usize> = vus.iter().map(Vu::line_count).collect();
    let (lo, hi) = (
        visible.iter().copied().min().unwrap_or(0),
        visible.iter().copied().max().unwrap_or(0),
    );
    let stateless = vus.iter().filter(|v| v.stateless).count();
    println!(
        "  built {} carts of {} lines in {:.1} s; carts now hold {lo}..={hi} lines",
        vus.len(),
        a.lines,
        t.elapsed().as_secs_f64(),
    );
    if stateless > 0 {
        let note = format!(
            "the server kept none of the VUs' writes (no session layer), so {stateless} VUs drove the mix against the cart the server shows every request ({lo}..={hi} lines), tracking it locally"
        );
        println!("  {note}");
        rep.notes.push(note);
    } else if lo != a.lines || hi != a.lines {
        rep.notes.push(format!(
            "after the build, GET /cart showed {lo}..={hi} lines instead of {}",
            a.lines
        ));
    }

    // 2. Closed loop.
    println!(
        "  closed loop: {} VUs, {:.1} s warm-up + {:.1} s",
        a.concurrency, a.warmup, a.duration
    );
    let (vus, raw) = load::closed_loop(
        vus,
        Duration::from_secs_f64(a.warmup),
        Duration::from_secs_f64(a.duration),
        pids,
    )
    .await;
    let closed = PhaseReport::from_raw(
        "closed",
        a.concurrency,
        None,
        &raw,
        ctx.clk_tck,
        (ctx.server_cpu, ctx.generator_cpu),
    );
    print_phase(&closed);
    if closed.generator_cpu_cores.is_some_and(|c| c > 0.9) {
        let note = format!(
            "the load generator used {:.2} of its core during the closed loop: this mode's peak may be the generator's, a lower bound",
            closed.generator_cpu_cores.unwrap_or_default()
        );
        println!("  ! {note}");
        rep.notes.push(note);
    }
    let server_side_cores =
        closed.server_cpu_cores.unwrap_or(0.0) + closed.redis_cpu_cores.unwrap_or(0.0);
    if closed.server_cpu_cores.is_some()
        && !report::is_disturbed(&closed)
        && server_side_cores < 0.85
    {
        let note = format!(
            "in the closed loop the server's core was only {:.0}% busy: at {} VUs this mode is bound by latency (round trips), not CPU; its CPU peak is higher (raise --concurrency to find it)",
            server_side_cores * 100.0,
            a.concurrency
        );
        println!("  {note}");
        rep.notes.push(note);
    }
    if closed.requests == 0 {
        rep.closed = Some(closed);
        return Err("no request completed in the closed loop".into());
    }
    if ctx.rate.is_none() {
        let r = (closed.throughput_rps * 0.5).max(50.0).round();
        ctx.rate = Some(r);
        ctx.rate_source = if mode == "token-paseto" {
            "50% of token-paseto's closed-loop peak in this run".into()
        } else {
            format!("50% of `{mode}`'s closed-loop peak: token-paseto was not measured in this run")
        };
        println!(
            "  open-loop rate for every mode: {r} req/s ({})",
            ctx.rate_source
        );
    }
    rep.closed = Some(closed);

    // 3. Open loop: the closed-loop VUs plus more, to `pool`.
    let a = &ctx.args;
    let rate = ctx.rate.unwrap_or(1000.0);
    let extra: Vec<Vu> = (a.concurrency..a.pool)
        .map(|i| Vu::new(i, target.clone()))
        .collect();
    let (extra, errors) = load::build_all(extra, a.lines, a.concurrency).await;
    report_build(rep, &errors, extra.len())?;
    let mut pool = vus;
    pool.extend(extra);
    println!(
        "  open loop: {rate} req/s, pool of {} VUs, {:.1} s warm-up + {:.1} s",
        pool.len(),
        a.open_warmup,
        a.duration
    );
    let pool_len = pool.len();
    let (_pool, raw) = load::open_loop(
        pool,
        rate,
        Duration::from_secs_f64(a.open_warmup),
        Duration::from_secs_f64(a.duration),
        pids,
    )
    .await;
    let open = PhaseReport::from_raw(
        "open",
        pool_len,
        Some(rate),
        &raw,
        ctx.clk_tck,
        (ctx.server_cpu, ctx.generator_cpu),
    );
    print_phase(&open);
    if open.throughput_rps < rate * 0.95 || open.unfinished.unwrap_or(0) > 0 {
        let note = format!(
            "could not keep up with the offered {rate} req/s in the open loop (achieved {:.0} req/s, {} unfinished): its latency includes a growing queue",
            open.throughput_rps,
            open.unfinished.unwrap_or(0)
        );
        println!("  ! {note}");
        rep.notes.push(note);
    }
    rep.open = Some(open);

    for p in [&rep.closed, &rep.open].into_iter().flatten() {
        if let Some(noise) = noise_note(p) {
            println!("  ! {noise}");
            rep.notes.push(noise);
        }
    }
    let expected: u64 = [&rep.closed, &rep.open]
        .iter()
        .filter_map(|p| p.as_ref())
        .flat_map(|p| p.expected_non_2xx.values())
        .sum();
    if expected > 0 {
        rep.notes.push(format!(
            "the server keeps no cart in this mode, so {expected} PATCH/DELETE requests of a line got 404 line_not_found (the handler ran and found no line); they are counted apart from errors (`expected_non_2xx` in the JSON), and responses carry a cart of at most one line"
        ));
    }

    // 4. Credential sizes.
    rep.sizes = load::measure_sizes(target, &SIZE_TABLE_LINES, 1_000_000).await;
    for s in &rep.sizes {
        println!(
            "  size: {:>3} lines -> cookie value {} B, Set-Cookie line {} B{}",
            s.lines_requested,
            s.cookie_value_bytes
                .map(|v| v.to_string())
                .unwrap_or("-".into()),
            s.set_cookie_header_bytes
                .map(|v| v.to_string())
                .unwrap_or("-".into()),
            s.stopped
                .as_ref()
                .map(|w| format!(" (stopped after {} lines: {w})", s.lines_built))
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn report_build(rep: &mut ModeReport, errors: &[String], n: usize) -> Result<(), String> {
    if errors.is_empty() {
        return Ok(());
    }
    let first = errors.first().cloned().unwrap_or_default();
    if errors.len() >= n {
        return Err(format!("no VU could build its cart, e.g. {first}"));
    }
    let note = format!(
        "{} of {} VUs failed to build their cart, e.g. {first}",
        errors.len(),
        n
    );
    println!("  ! {note}");
    rep.notes.push(note);
    Ok(())
}

/// Other processes busy on the pinned cores disturb the result.
fn noise_note(p: &PhaseReport) -> Option<String> {
    if !report::is_disturbed(p) {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(f) = p
        .foreign_load_server_core
        .filter(|f| *f >= report::DISTURBED)
    {
        parts.push(format!(
            "the server's core {:.0}% busy (net of the server{})",
            f * 100.0,
            if p.redis_cpu_cores.is_some() {
                " and redis-server"
            } else {
                ""
            }
        ));
    }
    if let Some(f) = p
        .foreign_load_generator_core
        .filter(|f| *f >= report::DISTURBED_GENERATOR)
    {
        parts.push(format!(
            "the load generator's core {:.0}% busy (net of the generator)",
            f * 100.0
        ));
    }
    Some(format!(
        "during the {}-loop phase, other processes kept {} (from /proc/stat): this phase is disturbed; rerun on a quiet machine",
        p.kind,
        parts.join(" and ")
    ))
}

fn print_phase(p: &PhaseReport) {
    println!(
        "    {:>9.0} req/s  p50 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  errors {}  {:.0}/{:.0} B/req  server CPU {} µs/req{}  generator {:.2} cores",
        p.throughput_rps,
        p.latency.p50_ms,
        p.latency.p99_ms,
        p.latency.p999_ms,
        p.latency.max_ms,
        p.error_count,
        p.request_bytes_per_req,
        p.response_bytes_per_req,
        p.server_cpu_us_per_req
            .map(|v| format!("{v:.1}"))
            .unwrap_or("?".into()),
        p.redis_cpu_us_per_req
            .map(|v| format!(" + redis {v:.1}"))
            .unwrap_or_default(),
        p.generator_cpu_cores.unwrap_or_default(),
    );
    println!(
        "    CPU busy per core {:?}; server {} + redis {} cores; other processes on the server's core {}, on the generator's core {}",
        p.cpu_busy
            .iter()
            .map(|b| (b * 100.0).round() / 100.0)
            .collect::<Vec<_>>(),
        p.server_cpu_cores
            .map(|v| format!("{v:.2}"))
            .unwrap_or("?".into()),
        p.redis_cpu_cores
            .map(|v| format!("{v:.2}"))
            .unwrap_or("0".into()),
        p.foreign_load_server_core
            .map(|v| format!("{v:.2}"))
            .unwrap_or("?".into()),
        p.foreign_load_generator_core
            .map(|v| format!("{v:.2}"))
            .unwrap_or("?".into()),
    );
    if p.new_connections > 0 {
        println!(
            "    {} new TCP connections during the phase",
            p.new_connections
        );
    }
    if !p.errors.is_empty() {
        println!("    errors: {:?}", p.errors);
    }
    if !p.expected_non_2xx.is_empty() {
        println!(
            "    expected non-2xx (not errors): {:?}",
            p.expected_non_2xx
        );
    }
}

async fn run() -> i32 {
    let crate_root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args = parse_args(&crate_root);
    if !args.bin.is_file() {
        eprintln!(
            "http bench: the server binary {} does not exist.\nBuild it first:  cargo build --release\n(this benchmark does not build it, so that what is measured is what you built)",
            args.bin.display()
        );
        return 1;
    }
    let machine = machine_info();

    // CPU pinning: server (and redis-server) on CPU 0, this process on CPU 1.
    let mut pinning = Vec::new();
    let ncpu: usize = machine.nproc.parse().unwrap_or(1);
    let mut server_cpu = None;
    let mut generator_cpu = None;
    if !args.pin {
        pinning.push("No CPU pinning (`--no-pin`).".to_string());
    } else if ncpu < 2 {
        pinning.push(format!("No CPU pinning: only {ncpu} CPU."));
    } else if !procs::have_taskset() {
        pinning.push("No CPU pinning: `taskset` (util-linux) is not installed.".to_string());
    } else {
        server_cpu = Some(0);
        match procs::pin_self(1) {
            Ok(out) => {
                generator_cpu = Some(1);
                println!("taskset: {out}");
                pinning.push(format!(
                    "Server pinned to CPU 0 (`taskset -c 0` on its command line, {SERVER_WORKERS} actix worker); redis-server, when used, also on CPU 0, so it shares the server's core; the load generator (the benchmark process, with its delay proxy) pinned to CPU 1 (`taskset -a -p -c 1 <its pid>`)."
                ));
            }
            Err(e) => pinning.push(format!(
                "Server pinned to CPU 0 (`taskset -c 0`); pinning the load generator failed ({e}), so it runs unpinned."
            )),
        }
    }
    for p in &pinning {
        println!("{p}");
    }

    let log_dir = crate_root.join("target/http-bench");
    let mut modes = args.modes.clone();
    // token-paseto first: the open-loop rate derives from its peak.
    if let Some(i) = modes.iter().position(|m| m == "token-paseto") {
        let m = modes.remove(i);
        modes.insert(0, m);
    }
    let rate_source = if args.rate.is_some() {
        "set with --rate".to_string()
    } else {
        String::new()
    };
    let mut ctx = Ctx {
        rate: args.rate,
        rate_source,
        args,
        crate_root: crate_root.clone(),
        log_dir,
        server_cpu,
        generator_cpu,
        clk_tck: procs::clock_ticks_per_sec(),
    };
    println!(
        "modes: {}; {} VUs closed loop, pool {} open loop, {} lines per cart, {} s per phase{}",
        modes.join(", "),
        ctx.args.concurrency,
        ctx.args.pool,
        ctx.args.lines,
        ctx.args.duration,
        if ctx.args.quick { " (quick)" } else { "" }
    );

    let mut reports = Vec::new();
    for mode in &modes {
        reports.push(run_mode(&mut ctx, mode).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    report::compute_ratios(&mut reports);

    let bin_modified = std::fs::metadata(&ctx.args.bin)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        });
    let a = &ctx.args;
    let run = RunReport {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        command: a.command.clone(),
        machine,
        settings: Settings {
            duration_s: a.duration,
            warmup_s: a.warmup,
            open_warmup_s: a.open_warmup,
            concurrency: a.concurrency,
            pool: a.pool,
            lines: a.lines,
            rate: ctx.rate,
            rate_source: ctx.rate_source.clone(),
            rtt_ms: a.rtt_ms,
            quick: a.quick,
            server_workers: SERVER_WORKERS,
            server_cpu,
            generator_cpu,
            redis_cpu: server_cpu,
            server_binary: a
                .bin
                .strip_prefix(&crate_root)
                .unwrap_or(&a.bin)
                .display()
                .to_string(),
            server_binary_modified: bin_modified,
        },
        pinning,
        modes: reports,
    };

    // Outputs.
    let out_dir = a
        .out
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| crate_root.clone());
    let chart_path = out_dir.join("img/http-bench.svg");
    let chart_rel = match report::chart(&chart_path, &run) {
        Ok(()) => Some("img/http-bench.svg"),
        Err(e) => {
            eprintln!("http bench: could not draw {}: {e}", chart_path.display());
            None
        }
    };
    let rel = |p: &Path| {
        p.strip_prefix(&crate_root)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let section = report::markdown(&run, chart_rel, &rel(&a.json));
    println!("\n{section}");
    let mut code = 0;
    if let Err(e) = report::write_section(&a.out, &section) {
        eprintln!("http bench: cannot write {}: {e}", a.out.display());
        code = 1;
    }
    match serde_json::to_string_pretty(&run) {
        Ok(json) => {
            if let Some(dir) = a.json.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = std::fs::write(&a.json, json + "\n") {
                eprintln!("http bench: cannot write {}: {e}", a.json.display());
                code = 1;
            }
        }
        Err(e) => {
            eprintln!("http bench: cannot serialize results: {e}");
            code = 1;
        }
    }
    println!(
        "wrote {}, {}{}",
        rel(&a.out),
        rel(&a.json),
        chart_rel
            .map(|_| format!(", {}", rel(&chart_path)))
            .unwrap_or_default()
    );
    let failed: Vec<&str> = run
        .modes
        .iter()
        .filter(|m| m.status != "ok")
        .map(|m| m.mode.as_str())
        .collect();
    if !failed.is_empty() {
        loud(&format!(
            "modes that did not complete: {}",
            failed.join(", ")
        ));
    }
    code
}

fn main() {
    // Kill the server and redis-server if anything panics.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        process::ChildGuard::kill_all();
        default_hook(info);
    }));
    // The generator has one core: a current-thread runtime, no thread hops.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let code = rt.block_on(async {
        tokio::spawn(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            eprintln!("\nhttp bench: interrupted; stopping the servers");
            process::ChildGuard::kill_all();
            std::process::exit(130);
        });
        run().await
    });
    drop(rt);
    process::ChildGuard::kill_all();
    std::process::exit(code);
}
