//! Results: the raw phases reduced to the report that the JSON file holds
//! and that the Markdown section (markdown.rs) and the chart (chart.rs) are
//! made from.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::load::{OP_KINDS, SizeRow};
use crate::metrics::CacheReport;
use crate::stats::PhaseRaw;

#[derive(Serialize, Clone)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

#[derive(Serialize, Clone)]
pub struct OpReport {
    pub op: &'static str,
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Serialize, Clone)]
pub struct PhaseReport {
    /// "closed" or "open".
    pub kind: &'static str,
    /// Closed loop: VUs; open loop: the pool of VUs taking scheduled requests.
    pub vus: usize,
    pub offered_rate: Option<f64>,
    pub duration_s: f64,
    /// Requests recorded (closed: started in the window; open: scheduled in
    /// the window and completed), errors included.
    pub requests: u64,
    /// Successful responses (2xx) per second; errors do not count. Closed
    /// loop: of requests started in the window; open loop: responses
    /// completed in the window (below the offered rate if the server fell
    /// behind).
    pub throughput_rps: f64,
    pub latency: Percentiles,
    pub per_op: Vec<OpReport>,
    pub statuses: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub error_count: u64,
    /// Non-2xx responses the mode makes inevitable (`none`: 404 for a line
    /// the server does not keep); not counted as errors.
    pub expected_non_2xx: BTreeMap<String, u64>,
    pub request_bytes_per_req: f64,
    pub response_bytes_per_req: f64,
    /// CPU time (user + system) of the server process per request.
    pub server_cpu_us_per_req: Option<f64>,
    /// The same for redis-server (redis modes with a private redis only).
    pub redis_cpu_us_per_req: Option<f64>,
    /// Server plus redis-server: all server-side CPU per request.
    pub server_side_cpu_us_per_req: Option<f64>,
    /// Cores in use on average during the window.
    pub server_cpu_cores: Option<f64>,
    pub redis_cpu_cores: Option<f64>,
    pub generator_cpu_cores: Option<f64>,
    /// nginx in front of the replicas (`--replicas`), on the generator's core.
    pub nginx_cpu_us_per_req: Option<f64>,
    pub nginx_cpu_cores: Option<f64>,
    /// The replicas' verified-token cache over the window, when they export
    /// its counters.
    pub cache: Option<CacheReport>,
    /// How busy each CPU was over the window (0..1), from /proc/stat.
    pub cpu_busy: Vec<f64>,
    /// Busy time on the server's pinned core not accounted for by the
    /// server (and redis-server): other processes on a shared machine.
    pub foreign_load_server_core: Option<f64>,
    /// The same on the load generator's core.
    pub foreign_load_generator_core: Option<f64>,
    /// Open loop: requests scheduled in the window, and those not completed
    /// by the drain deadline (counted as failures of the mode to keep up).
    pub scheduled: Option<u64>,
    pub unfinished: Option<u64>,
    /// New TCP connections during the phase (0: keep-alive held throughout).
    pub new_connections: u64,
}

impl PhaseReport {
    pub fn from_raw(
        kind: &'static str,
        vus: usize,
        offered_rate: Option<f64>,
        raw: &PhaseRaw,
        clk_tck: f64,
        pinned: (Option<usize>, Option<usize>),
    ) -> PhaseReport {
        let s = &raw.stats;
        let n = s.per_op_count.iter().sum::<u64>();
        let secs = raw.wall.as_secs_f64();
        let h = &s.all;
        let ms = |us: u64| us as f64 / 1000.0;
        let latency = Percentiles {
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        };
        let per_op = OP_KINDS
            .iter()
            .enumerate()
            .map(|(i, k)| OpReport {
                op: k.name(),
                count: s.per_op_count[i],
                p50_ms: ms(s.per_op[i].value_at_quantile(0.50)),
                p99_ms: ms(s.per_op[i].value_at_quantile(0.99)),
            })
            .collect();
        let cpu_wall = match (raw.cpu_before.at, raw.cpu_after.at) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => secs,
        };
        let delta = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) if b >= a => Some((b - a) as f64 / clk_tck),
            _ => None,
        };
        let server_s = delta(raw.cpu_before.server, raw.cpu_after.server);
        let redis_s = delta(raw.cpu_before.redis, raw.cpu_after.redis);
        let gen_s = delta(raw.cpu_before.generator, raw.cpu_after.generator);
        let nginx_s = delta(raw.cpu_before.nginx, raw.cpu_after.nginx);
        let per_req = |cpu: Option<f64>| cpu.filter(|_| n > 0).map(|c| c * 1e6 / n as f64);
        let cores = |cpu: Option<f64>| cpu.filter(|_| cpu_wall > 0.0).map(|c| c / cpu_wall);
        let server_side = match (server_s, redis_s) {
            (Some(a), Some(b)) => Some(a + b),
            (a, _) => a,
        };
        let cpu_busy: Vec<f64> = raw
            .cpu_before
            .per_cpu
            .iter()
            .zip(&raw.cpu_after.per_cpu)
            .map(|(a, b)| {
                let total = b.1.saturating_sub(a.1);
                if total == 0 {
                    0.0
                } else {
                    b.0.saturating_sub(a.0) as f64 / total as f64
                }
            })
            .collect();
        let foreign = |core: Option<usize>, own: f64| {
            core.and_then(|c| cpu_busy.get(c))
                .map(|busy| (busy - own).max(0.0))
        };
        // nginx shares the servers' core (servers.rs): its
        // work is the run's own, not a disturbance.
        let server_own = cores(server_s).unwrap_or(0.0)
            + cores(redis_s).unwrap_or(0.0)
            + cores(nginx_s).unwrap_or(0.0);
        let foreign_load_server_core = foreign(pinned.0, server_own);
        let foreign_load_generator_core = foreign(pinned.1, cores(gen_s).unwrap_or(0.0));
        let cache = match (&raw.cache_before, &raw.cache_after) {
            // Counters appear at their first increment: none before is zero.
            (before, Some(after)) => Some(CacheReport::between(&before.unwrap_or_default(), after)),
            _ => None,
        };
        PhaseReport {
            kind,
            vus,
            offered_rate,
            duration_s: secs,
            requests: n,
            throughput_rps: if secs <= 0.0 {
                0.0
            } else if kind == "open" {
                s.ok_in_window as f64 / secs
            } else {
                s.ok as f64 / secs
            },
            latency,
            per_op,
            statuses: s.statuses.clone(),
            errors: s.errors.clone(),
            error_count: s.error_count() + raw.unfinished,
            expected_non_2xx: s.expected.clone(),
            request_bytes_per_req: if n > 0 {
                s.bytes_out as f64 / n as f64
            } else {
                0.0
            },
            response_bytes_per_req: if s.responses > 0 {
                s.bytes_in as f64 / s.responses as f64
            } else {
                0.0
            },
            server_cpu_us_per_req: per_req(server_s),
            redis_cpu_us_per_req: per_req(redis_s),
            server_side_cpu_us_per_req: per_req(server_side),
            server_cpu_cores: cores(server_s),
            redis_cpu_cores: cores(redis_s),
            generator_cpu_cores: cores(gen_s),
            nginx_cpu_us_per_req: per_req(nginx_s),
            nginx_cpu_cores: cores(nginx_s),
            cache,
            cpu_busy,
            foreign_load_server_core,
            foreign_load_generator_core,
            scheduled: (kind == "open").then_some(raw.scheduled),
            unfinished: (kind == "open").then_some(raw.unfinished),
            new_connections: raw.connects,
        }
    }
}

#[derive(Serialize, Clone, Default)]
pub struct Ratios {
    pub closed_rps: Option<f64>,
    pub closed_p99: Option<f64>,
    pub open_p99: Option<f64>,
    pub server_side_cpu_per_req: Option<f64>,
    pub request_bytes: Option<f64>,
}

#[derive(Serialize, Clone, Default)]
pub struct ModeReport {
    pub mode: String,
    /// "ok", "failed to start", "failed" (started, but the workload could
    /// not run), or "cart too large" (the mode cannot hold carts of `lines`).
    pub status: String,
    /// Lines per VU cart.
    pub lines: usize,
    /// Servers behind nginx (1: no nginx).
    pub replicas: usize,
    /// How nginx routed them: `rr` or `key` (empty: no nginx).
    #[serde(default)]
    pub routing: String,
    /// Median length of the VUs' cart cookie value after the build.
    pub credential_bytes: Option<usize>,
    pub failure: Option<String>,
    pub notes: Vec<String>,
    pub env: Vec<(String, String)>,
    pub closed: Option<PhaseReport>,
    pub open: Option<PhaseReport>,
    pub sizes: Vec<SizeRow>,
    pub vs_token_paseto: Option<Ratios>,
    /// The round trip to the central store, as the mode's stack measured it
    /// (its fields stand in the JSON beside the others).
    #[serde(flatten)]
    pub store_rtt: StoreRtt,
}

/// The round trip to a mode's central store (Redis, Memcached), measured
/// by the stack that starts it and reported with the mode.
#[derive(Serialize, Clone, Copy, Default)]
pub struct StoreRtt {
    pub redis_ping_direct_us: Option<f64>,
    pub redis_ping_via_proxy_us: Option<f64>,
    /// `redis+rtt`: the hold per chunk and direction after calibration.
    pub proxy_hold_us: Option<f64>,
}

impl ModeReport {
    /// A mode's report before its run: `ok` until something fails.
    pub fn new(mode: &str, lines: usize, replicas: usize) -> ModeReport {
        ModeReport {
            mode: mode.to_string(),
            status: "ok".into(),
            lines,
            replicas,
            ..ModeReport::default()
        }
    }
}

#[derive(Serialize, Clone)]
pub struct Machine {
    pub nproc: String,
    pub cpu_model: String,
    pub kernel: String,
    pub rustc: Option<String>,
}

#[derive(Serialize, Clone)]
pub struct Settings {
    pub duration_s: f64,
    pub warmup_s: f64,
    pub open_warmup_s: f64,
    pub concurrency: usize,
    pub pool: usize,
    pub lines: usize,
    pub rate: Option<f64>,
    pub rate_source: String,
    pub rtt_ms: f64,
    pub quick: bool,
    pub server_workers: usize,
    pub server_cpu: Option<usize>,
    pub generator_cpu: Option<usize>,
    pub redis_cpu: Option<usize>,
    pub server_binary: String,
    pub server_binary_modified: Option<String>,
}

#[derive(Serialize, Clone)]
pub struct RunReport {
    pub date: String,
    pub command: String,
    pub machine: Machine,
    pub settings: Settings,
    pub pinning: Vec<String>,
    pub modes: Vec<ModeReport>,
    /// `--sizes`: the closed loop of every mode at the other cart sizes.
    pub sweep: Vec<ModeReport>,
}

pub fn compute_ratios(modes: &mut [ModeReport]) {
    let Some(base) = modes
        .iter()
        .find(|m| m.mode == "token-paseto" && m.status == "ok")
        .cloned()
    else {
        return;
    };
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    for m in modes.iter_mut() {
        if m.status != "ok" {
            continue;
        }
        let c = m.closed.as_ref();
        let bc = base.closed.as_ref();
        m.vs_token_paseto = Some(Ratios {
            closed_rps: ratio(c.map(|p| p.throughput_rps), bc.map(|p| p.throughput_rps)),
            closed_p99: ratio(c.map(|p| p.latency.p99_ms), bc.map(|p| p.latency.p99_ms)),
            open_p99: ratio(
                m.open.as_ref().map(|p| p.latency.p99_ms),
                base.open.as_ref().map(|p| p.latency.p99_ms),
            ),
            server_side_cpu_per_req: ratio(
                c.and_then(|p| p.server_side_cpu_us_per_req),
                bc.and_then(|p| p.server_side_cpu_us_per_req),
            ),
            request_bytes: ratio(
                c.map(|p| p.request_bytes_per_req),
                bc.map(|p| p.request_bytes_per_req),
            ),
        });
    }
}

/// Other processes used at least this share of the server's core.
pub const DISTURBED: f64 = 0.05;

/// The same on the load generator's core (it has slack, but a preempted
/// generator delays the responses it reads, which inflates the tail).
pub const DISTURBED_GENERATOR: f64 = 0.10;

pub fn is_disturbed(p: &PhaseReport) -> bool {
    p.foreign_load_server_core.is_some_and(|f| f >= DISTURBED)
        || p.foreign_load_generator_core
            .is_some_and(|f| f >= DISTURBED_GENERATOR)
}
