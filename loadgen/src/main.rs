//! HTTP load benchmark: one command starts every mode itself.
//!
//! ```sh
//! cargo build --release --workspace   # cartseal, cartseal-peer and this
//! cargo run --release -p cartseal-loadgen                # all modes, 10 s per phase
//! cargo run --release -p cartseal-loadgen -- --quick --modes token-paseto,none
//! cargo run --release -p cartseal-loadgen -- --sizes 1,20,100 # and the cost per cart size
//! cargo run --release -p cartseal-loadgen -- --replicas 3     # behind nginx, cache hit rate
//! cargo run --release -p cartseal-loadgen -- --slowloris      # slow and idle clients
//! cargo run --release -p cartseal-loadgen -- --soak 600       # memory, fds, errors over time
//! ```
//!
//! For each mode (`token-paseto`, `token-jwt`, `redis`, `redis+rtt`,
//! `redis-cluster` (on a local six-node Redis Cluster), `memcached`, `memcached+rtt`, `memory`, `none`, and `actix-session-cookie`
//! and `actix-session-redis`, the same cart service on actix-session, the
//! `cartseal-peer` binary of peer/, next to `--bin`) it starts the
//! server (and, for the redis and memcached modes, a private `redis-server`
//! or `memcached` and, for the `+rtt` modes, a TCP delay proxy), pins the
//! server to CPU 0 and itself to CPU 1, builds one cart per virtual user,
//! then measures peak throughput (closed loop) and latency at a fixed offered
//! rate (open loop, latency from the scheduled send time). It writes the
//! section between `<!-- http-bench:start -->` and `<!-- http-bench:end -->`
//! of docs/benchmarks.md, the raw results as JSON, and the chart
//! docs/img/http-bench.svg. `token-paseto-nocache` is token-paseto with the
//! verified-token cache off, to show what the cache does.
//!
//! `--replicas`, `--slowloris` and `--soak` are runs of their own, each
//! writing its own section (`<!-- http-bench-scale:start -->`,
//! `-slowloris`, `-soak`) and its JSON beside the main one
//! (`benches/results/http-scale.json`, ...).
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
//! | `--sizes N,N` | `CARTSEAL_BENCH_SIZES` | none: also run the closed loop at these cart sizes |
//! | `--rate R` | `CARTSEAL_BENCH_RATE` | 50% of token-paseto's closed-loop peak in this run |
//! | `--modes a,b` | `CARTSEAL_BENCH_MODES` | all eleven (per run: see args.rs) |
//! | `--rtt-ms MS` | `CARTSEAL_BENCH_RTT_MS` | 0.5 ms each way (`redis+rtt`, `memcached+rtt`) |
//! | `--settle SECS` | `CARTSEAL_BENCH_SETTLE` | wait up to 30 s (0 with `--quick`) for the machine to go quiet before each mode |
//! | `--replicas N` | `CARTSEAL_BENCH_REPLICAS` | 1; more: the scale run behind nginx |
//! | `--slowloris` | | off: the slow-client run |
//! | `--slow-conns N` | `CARTSEAL_BENCH_SLOW_CONNS` | 500 slowloris connections |
//! | `--soak SECS` | `CARTSEAL_BENCH_SOAK` | off: the soak run, this long |
//! | `--sample SECS` | `CARTSEAL_BENCH_SAMPLE` | 5 s between the soak's samples |
//! | `--scrape SECS` | `CARTSEAL_BENCH_SCRAPE` | off: the soak reads every `/metrics` this often, as Prometheus would |
//! | `--quick` | `CARTSEAL_BENCH_QUICK=1` | off |
//! | `--out PATH` | `CARTSEAL_BENCH_OUT` | docs/benchmarks.md |
//! | `--json PATH` | `CARTSEAL_BENCH_JSON` | benches/results/http.json |
//! | `--bin PATH` | `CARTSEAL_BENCH_BIN` | target/release/cartseal (and `cartseal-peer` beside it) |
//! | `--no-pin` | | pinning on when there are 2+ CPUs |
//!
//! `REDIS_URL` makes the redis modes use that Redis instead of a private one,
//! and `MEMCACHED_URL` the memcached modes that Memcached (its CPU is then
//! not counted). Unknown arguments (such as the `--bench` that `cargo bench`
//! passed when this was a bench target) are ignored.

mod args;
mod chart;
mod client;
mod cluster;
mod load;
mod markdown;
mod metrics;
mod mode;
mod output;
use cartseal_kit::process;
mod procs;
mod proxy;
mod report;
mod scale;
mod servers;
mod slowloris;
mod soak;
mod stats;
mod sweep;
mod vu;
mod workload;

use std::path::Path;
use std::time::Duration;

use args::Command;
use mode::{Ctx, loud, run_mode};
use report::{Machine, ModeReport, RunReport, Settings};

// As the service's src/main.rs (and the peer's): the load generator
// allocates as the server does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// actix workers of the server under test.
const SERVER_WORKERS: usize = 1;

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

/// CPU pinning: server (and redis-server) on CPU 0, this process (and
/// nginx) on CPU 1. Returns what was done, in words, and the two CPUs.
fn pin(pin: bool, ncpu: usize) -> (Vec<String>, Option<usize>, Option<usize>) {
    let mut pinning = Vec::new();
    if !pin {
        pinning.push("No CPU pinning (`--no-pin`).".to_string());
        return (pinning, None, None);
    }
    if ncpu < 2 {
        pinning.push(format!("No CPU pinning: only {ncpu} CPU."));
        return (pinning, None, None);
    }
    if !procs::have_taskset() {
        pinning.push("No CPU pinning: `taskset` (util-linux) is not installed.".to_string());
        return (pinning, None, None);
    }
    match procs::pin_self(1) {
        Ok(out) => {
            println!("taskset: {out}");
            pinning.push(format!(
                "Server pinned to CPU 0 (`taskset -c 0` on its command line, {SERVER_WORKERS} actix worker; every replica and the actix-session peer too); redis-server or memcached, when used, also on CPU 0, so it shares the server's core; the load generator (the benchmark process, with its delay proxy) pinned to CPU 1 (`taskset -a -p -c 1 <its pid>`); nginx, when there are replicas, on CPU 0 with them."
            ));
            (pinning, Some(0), Some(1))
        }
        Err(e) => {
            pinning.push(format!(
                "Server pinned to CPU 0 (`taskset -c 0`); pinning the load generator failed ({e}), so it runs unpinned."
            ));
            (pinning, Some(0), None)
        }
    }
}

async fn run() -> i32 {
    // The repository's root: paths in the arguments and the docs it writes
    // are relative to it, wherever this package sits.
    let crate_root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("loadgen/ is inside the repository")
        .to_path_buf();
    let args = args::parse_args(&crate_root);
    for bin in [args.bin.clone(), servers::peer_binary(&args.bin)] {
        if !bin.is_file() {
            eprintln!(
                "http bench: the binary {} does not exist.\nBuild it first:  cargo build --release --workspace\n(this benchmark does not build it, so that what is measured is what you built)",
                bin.display()
            );
            return 1;
        }
    }
    let machine = machine_info();
    let (pinning, server_cpu, generator_cpu) = pin(args.pin, machine.nproc.parse().unwrap_or(1));
    for p in &pinning {
        println!("{p}");
    }
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
        lines: args.lines,
        args,
        log_dir: crate_root.join("target/http-bench"),
        crate_root: crate_root.clone(),
        server_cpu,
        generator_cpu,
        clk_tck: procs::clock_ticks_per_sec(),
        routing: process::Routing::RoundRobin,
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
    match ctx.args.command_kind {
        Command::Slowloris => {
            if modes.len() > 1 {
                println!("slow clients: against {} only (the first mode)", modes[0]);
            }
            return slowloris::run(&mut ctx, &modes[0], &machine, &pinning).await;
        }
        Command::Soak(secs) => return soak::run(&mut ctx, &modes, secs, &machine, &pinning).await,
        Command::Compare | Command::Scale(_) => {}
    }

    let mut reports = Vec::new();
    let mut sweep = Vec::new();
    if let Command::Scale(n) = ctx.args.command_kind {
        reports = scale::run(&mut ctx, &modes, n).await;
    } else {
        // The main size first: the open-loop rate derives from its peak.
        let mut sizes = ctx.args.sizes.clone();
        sizes.sort_by_key(|n| *n != ctx.args.lines);
        for lines in sizes {
            ctx.lines = lines;
            let full = lines == ctx.args.lines;
            for mode in &modes {
                let rep = run_mode(&mut ctx, mode, 1, full).await;
                if full {
                    reports.push(rep)
                } else {
                    sweep.push(rep)
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    report::compute_ratios(&mut reports);
    let failed: Vec<String> = reports
        .iter()
        .chain(&sweep)
        .filter(|m| m.status != "ok" && m.status != "cart too large")
        .map(|m| format!("{} ({} lines)", m.mode, m.lines))
        .collect();
    let run = run_report(&ctx, machine, pinning, reports, sweep);
    let code = write_outputs(&ctx, &run);
    if !failed.is_empty() {
        loud(&format!(
            "modes that did not complete: {}",
            failed.join(", ")
        ));
    }
    code
}

fn run_report(
    ctx: &Ctx,
    machine: Machine,
    pinning: Vec<String>,
    modes: Vec<ModeReport>,
    sweep: Vec<ModeReport>,
) -> RunReport {
    let a = &ctx.args;
    let bin_modified = std::fs::metadata(&a.bin)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| {
            chrono::DateTime::<chrono::Utc>::from(t)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        });
    RunReport {
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
            server_cpu: ctx.server_cpu,
            generator_cpu: ctx.generator_cpu,
            redis_cpu: ctx.server_cpu,
            server_binary: a
                .bin
                .strip_prefix(&ctx.crate_root)
                .unwrap_or(&a.bin)
                .display()
                .to_string(),
            server_binary_modified: bin_modified,
        },
        pinning,
        modes,
        sweep,
    }
}

/// The comparison's section, JSON and chart; or the scale run's section and
/// JSON.
fn write_outputs(ctx: &Ctx, run: &RunReport) -> i32 {
    let a = &ctx.args;
    let root = &ctx.crate_root;
    if let Command::Scale(n) = a.command_kind {
        let section = scale::markdown(run, n);
        let json = output::json_path(&a.json, "scale");
        return output::publish(&a.out, scale::MARKER, &section, &json, run, root);
    }
    let out_dir = a
        .out
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.clone());
    let chart_path = out_dir.join("img/http-bench.svg");
    let chart_rel = match chart::chart(&chart_path, run) {
        Ok(()) => Some("img/http-bench.svg"),
        Err(e) => {
            eprintln!("http bench: could not draw {}: {e}", chart_path.display());
            None
        }
    };
    let json_rel = a
        .json
        .strip_prefix(root)
        .unwrap_or(&a.json)
        .display()
        .to_string();
    let mut section = markdown::markdown(run, chart_rel, &json_rel);
    let sweep = sweep::sweep_table(run);
    if !sweep.is_empty() {
        // Before the notes, after the tables of the main size.
        match section.find("**Notes:**") {
            Some(i) => section.insert_str(i, &sweep),
            None => section.push_str(&sweep),
        }
    }
    output::publish(&a.out, output::MAIN_MARKER, &section, &a.json, run, root)
}

fn main() {
    // Kill the servers, nginx and redis-server if anything panics.
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
