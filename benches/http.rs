//! HTTP load benchmark: one command starts every mode itself.
//!
//! ```sh
//! cargo build --release
//! cargo bench --bench http                     # all modes, 10 s per phase
//! cargo bench --bench http -- --quick --modes token-paseto,none
//! ```
//!
//! For each mode (`token-paseto`, `token-jwt`, `redis`, `redis+rtt`,
//! `memcached`, `memcached+rtt`, `memory`, `none`) it starts
//! `target/release/cartseal` (and, for the redis and memcached modes, a
//! private `redis-server` or `memcached` and, for the `+rtt` modes, a TCP
//! delay proxy), pins the server to CPU 0 and itself to CPU 1, builds one
//! cart per virtual user, then measures peak throughput (closed loop) and
//! latency at a fixed offered rate (open loop, latency from the scheduled
//! send time). It writes the section between `<!-- http-bench:start -->`
//! and `<!-- http-bench:end -->` of docs/benchmarks.md, the raw results as
//! JSON, and the chart docs/img/http-bench.svg.
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
//! | `--modes a,b` | `CARTSEAL_BENCH_MODES` | all eight |
//! | `--rtt-ms MS` | `CARTSEAL_BENCH_RTT_MS` | 0.5 ms each way (`redis+rtt`, `memcached+rtt`) |
//! | `--settle SECS` | `CARTSEAL_BENCH_SETTLE` | wait up to 30 s (0 with `--quick`) for the machine to go quiet before each mode |
//! | `--quick` | `CARTSEAL_BENCH_QUICK=1` | off |
//! | `--out PATH` | `CARTSEAL_BENCH_OUT` | docs/benchmarks.md |
//! | `--json PATH` | `CARTSEAL_BENCH_JSON` | docs/benchmarks-http.json |
//! | `--bin PATH` | `CARTSEAL_BENCH_BIN` | target/release/cartseal |
//! | `--no-pin` | | pinning on when there are 2+ CPUs |
//!
//! `REDIS_URL` makes the redis modes use that Redis instead of a private one,
//! and `MEMCACHED_URL` the memcached modes that Memcached (its CPU is then
//! not counted). Unknown arguments (such as the `--bench` that cargo passes)
//! are ignored.

#[path = "http/args.rs"]
mod args;
#[path = "http/chart.rs"]
mod chart;
#[path = "http/client.rs"]
mod client;
#[path = "http/load.rs"]
mod load;
#[path = "http/markdown.rs"]
mod markdown;
#[path = "http/mode.rs"]
mod mode;
#[path = "../tests/api/process/mod.rs"]
mod process;
#[path = "http/procs.rs"]
mod procs;
#[path = "http/proxy.rs"]
mod proxy;
#[path = "http/report.rs"]
mod report;
#[path = "http/stats.rs"]
mod stats;
#[path = "http/vu.rs"]
mod vu;
#[path = "http/workload.rs"]
mod workload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use mode::{Ctx, loud, run_mode};
use report::{Machine, RunReport, Settings};

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

async fn run() -> i32 {
    let crate_root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args = args::parse_args(&crate_root);
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
                    "Server pinned to CPU 0 (`taskset -c 0` on its command line, {SERVER_WORKERS} actix worker); redis-server or memcached, when used, also on CPU 0, so it shares the server's core; the load generator (the benchmark process, with its delay proxy) pinned to CPU 1 (`taskset -a -p -c 1 <its pid>`)."
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
    let chart_rel = match chart::chart(&chart_path, &run) {
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
    let section = markdown::markdown(&run, chart_rel, &rel(&a.json));
    println!("\n{section}");
    let mut code = 0;
    if let Err(e) = markdown::write_section(&a.out, &section) {
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
