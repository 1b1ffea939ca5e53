//! The command line, and the `CARTSEAL_BENCH_*` variables it overrides.

use std::path::{Path, PathBuf};

/// Every mode the benchmark knows, in the order a plain run takes them.
/// `token-paseto-nocache` needs a build whose config has the `[cache]`
/// section; without it, that mode fails to start and the run goes on.
pub const DEFAULT_MODES: [&str; 12] = [
    "token-paseto",
    "token-paseto-nocache",
    "token-jwt",
    "redis",
    "redis+rtt",
    "redis-cluster",
    "memcached",
    "memcached+rtt",
    "memory",
    "none",
    "actix-session-cookie",
    "actix-session-redis",
];

/// The modes of a run behind nginx (`--replicas`).
pub const SCALE_MODES: [&str; 4] = [
    "token-paseto",
    "token-paseto-nocache",
    "redis",
    "actix-session-cookie",
];

/// The modes of a soak (`--soak`): one per store.
pub const SOAK_MODES: [&str; 4] = ["token-paseto", "redis", "memcached", "memory"];

/// What one command runs.
#[derive(Clone, Copy, PartialEq)]
pub enum Command {
    /// Every mode on one replica: peak, latency, sizes (and the size sweep).
    Compare,
    /// Every mode on this many replicas behind nginx: throughput, cache hits.
    Scale(usize),
    /// Slow and idle clients against one mode.
    Slowloris,
    /// Long mixed load: memory, file descriptors and errors over time.
    Soak(f64),
}

pub struct Args {
    pub duration: f64,
    pub warmup: f64,
    pub open_warmup: f64,
    pub concurrency: usize,
    pub pool: usize,
    pub lines: usize,
    /// Cart sizes of the sweep (`--sizes`); `lines` is always one of them.
    pub sizes: Vec<usize>,
    pub command_kind: Command,
    /// Slow connections of the slowloris phase.
    pub slow_conns: usize,
    /// Seconds between the soak's samples.
    pub sample: f64,
    /// Seconds between the soak's reads of every `/metrics`, as a
    /// Prometheus server would scrape them (`None`: never).
    pub scrape: Option<f64>,
    pub rate: Option<f64>,
    pub modes: Vec<String>,
    /// How nginx spreads clients over the replicas (`--routing`, with
    /// `--replicas`): `rr` (round robin), `key` (hash of cartseal's
    /// routing key, examples/nginx/cartseal.conf), or both, in turn.
    pub routings: Vec<String>,
    pub rtt_ms: f64,
    pub settle: f64,
    pub quick: bool,
    pub out: PathBuf,
    pub json: PathBuf,
    pub bin: PathBuf,
    pub pin: bool,
    pub command: String,
}

const USAGE: &str = "usage: cargo run --release -p cartseal-loadgen -- [--duration SECS] [--warmup SECS] [--concurrency N] [--pool N] [--lines N] [--sizes N,N,..] [--rate R] [--modes a,b,..] [--rtt-ms MS] [--settle SECS] [--quick] [--out PATH] [--json PATH] [--bin PATH] [--no-pin]\n       [--replicas N [--routing rr,key] | --slowloris [--slow-conns N] | --soak SECS [--sample SECS] [--scrape SECS]]\nmodes: token-paseto, token-jwt, redis, redis+rtt, redis-cluster, memcached, memcached+rtt, memory, none, actix-session-cookie, actix-session-redis, token-paseto-nocache";

fn usage_error(msg: &str) -> ! {
    eprintln!("http bench: {msg}\n{USAGE}");
    std::process::exit(2);
}

pub fn parse_args(crate_root: &Path) -> Args {
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
        "--sizes",
        "--replicas",
        "--routing",
        "--slow-conns",
        "--soak",
        "--sample",
        "--scrape",
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
        } else if name == "--quick" || name == "--no-pin" || name == "--slowloris" {
            shown.push(name.clone());
            switches.insert(name);
        } else if name == "--help" || name == "-h" {
            println!("{USAGE}\n(see the top of loadgen/src/main.rs for the environment variables)");
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
    let replicas: usize =
        num(get("--replicas", "CARTSEAL_BENCH_REPLICAS"), "--replicas").unwrap_or(1);
    let soak: Option<f64> = num(get("--soak", "CARTSEAL_BENCH_SOAK"), "--soak");
    let slowloris = switches.contains("--slowloris");
    let command_kind = match (replicas > 1, slowloris, soak) {
        (false, false, None) => Command::Compare,
        (true, false, None) => Command::Scale(replicas),
        (false, true, None) => Command::Slowloris,
        (false, false, Some(secs)) if secs.is_finite() && secs > 0.0 => Command::Soak(secs),
        (false, false, Some(_)) => usage_error("--soak must be positive"),
        _ => usage_error("--replicas, --slowloris and --soak are separate runs: give one"),
    };
    let default_modes: &[&str] = match command_kind {
        Command::Compare => &DEFAULT_MODES,
        Command::Scale(_) => &SCALE_MODES,
        Command::Slowloris => &["token-paseto"],
        Command::Soak(_) => &SOAK_MODES,
    };
    let list = |v: String| -> Vec<String> {
        v.split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect()
    };
    let modes: Vec<String> = match get("--modes", "CARTSEAL_BENCH_MODES") {
        Some(v) => list(v),
        None => default_modes.iter().map(|m| m.to_string()).collect(),
    };
    let routings =
        list(get("--routing", "CARTSEAL_BENCH_ROUTING").unwrap_or_else(|| "rr,key".into()));
    if let Some(bad) = routings
        .iter()
        .find(|r| !matches!(r.as_str(), "rr" | "key"))
    {
        usage_error(&format!("bad routing {bad:?} in --routing (rr, key)"));
    }
    let mut sizes: Vec<usize> = match get("--sizes", "CARTSEAL_BENCH_SIZES") {
        Some(v) => list(v)
            .iter()
            .map(|n| {
                n.parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| usage_error(&format!("bad cart size {n:?} in --sizes")))
            })
            .collect(),
        None => Vec::new(),
    };
    let slow_conns: usize = num(
        get("--slow-conns", "CARTSEAL_BENCH_SLOW_CONNS"),
        "--slow-conns",
    )
    .unwrap_or(500);
    let sample: f64 = num(get("--sample", "CARTSEAL_BENCH_SAMPLE"), "--sample").unwrap_or(5.0);
    let scrape: Option<f64> = num(get("--scrape", "CARTSEAL_BENCH_SCRAPE"), "--scrape");
    if scrape.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        usage_error("--scrape must be positive");
    }
    for m in &modes {
        if !DEFAULT_MODES.contains(&m.as_str()) {
            usage_error(&format!(
                "unknown mode {m:?}; modes are {}",
                DEFAULT_MODES.join(",")
            ));
        }
    }
    if modes.is_empty() {
        usage_error("--modes is empty");
    }
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if !sizes.contains(&lines) {
        sizes.insert(0, lines);
    }
    let mut seen = std::collections::HashSet::new();
    sizes.retain(|n| seen.insert(*n));
    if !positive(duration)
        || !positive(sample)
        || concurrency == 0
        || lines == 0
        || rate.is_some_and(|r| !positive(r))
        || !rtt_ms.is_finite()
        || rtt_ms < 0.0
    {
        usage_error("--duration, --sample, --concurrency, --lines and --rate must be positive");
    }
    let resolve = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            crate_root.join(p)
        }
    };
    let mut command = String::from("cargo run --release -p cartseal-loadgen");
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
        sizes,
        command_kind,
        slow_conns,
        sample,
        scrape,
        rate,
        modes,
        routings,
        rtt_ms,
        settle,
        quick,
        out: resolve(
            get("--out", "CARTSEAL_BENCH_OUT").unwrap_or_else(|| "docs/benchmarks.md".into()),
        ),
        json: resolve(
            get("--json", "CARTSEAL_BENCH_JSON")
                .unwrap_or_else(|| "benches/results/http.json".into()),
        ),
        bin: resolve(
            get("--bin", "CARTSEAL_BENCH_BIN").unwrap_or_else(|| "target/release/cartseal".into()),
        ),
        pin: !switches.contains("--no-pin"),
        command,
    }
}
