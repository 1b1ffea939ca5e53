//! Results: reduction of the raw phases, the Markdown section, the JSON
//! file and the SVG chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::load::{OP_KINDS, PhaseRaw, SizeRow};

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
        let server_own = cores(server_s).unwrap_or(0.0) + cores(redis_s).unwrap_or(0.0);
        let foreign_load_server_core = foreign(pinned.0, server_own);
        let foreign_load_generator_core = foreign(pinned.1, cores(gen_s).unwrap_or(0.0));
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

#[derive(Serialize, Clone)]
pub struct ModeReport {
    pub mode: String,
    /// "ok", "failed to start", or "failed" (started, but the workload
    /// could not run).
    pub status: String,
    pub failure: Option<String>,
    pub notes: Vec<String>,
    pub env: Vec<(String, String)>,
    pub closed: Option<PhaseReport>,
    pub open: Option<PhaseReport>,
    pub sizes: Vec<SizeRow>,
    pub vs_token_paseto: Option<Ratios>,
    pub redis_ping_direct_us: Option<f64>,
    pub redis_ping_via_proxy_us: Option<f64>,
    /// `redis+rtt`: the hold per chunk and direction after calibration.
    pub proxy_hold_us: Option<f64>,
}

impl ModeReport {
    pub fn new(mode: &str) -> ModeReport {
        ModeReport {
            mode: mode.to_string(),
            status: "ok".into(),
            failure: None,
            notes: Vec::new(),
            env: Vec::new(),
            closed: None,
            open: None,
            sizes: Vec::new(),
            vs_token_paseto: None,
            redis_ping_direct_us: None,
            redis_ping_via_proxy_us: None,
            proxy_hold_us: None,
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

fn f_ms(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.3}")
    } else if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn f_int(v: f64) -> String {
    let s = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn f_opt(v: Option<f64>, f: fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "n/a".into())
}

fn f_ratio(v: Option<f64>) -> String {
    v.map(|r| format!("{r:.2}×"))
        .unwrap_or_else(|| "n/a".into())
}

fn f_errors(p: &PhaseReport) -> String {
    if p.error_count == 0 {
        return "0".into();
    }
    let mut parts: Vec<String> = p.errors.iter().map(|(k, v)| format!("{v} × {k}")).collect();
    if let Some(u) = p.unfinished.filter(|u| *u > 0) {
        parts.push(format!("{u} × unfinished"));
    }
    format!("**{}** ({})", p.error_count, parts.join(", "))
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

fn disturbed(p: &PhaseReport) -> &'static str {
    if is_disturbed(p) { " ⚠" } else { "" }
}

fn failed_row(m: &ModeReport, cols: usize) -> String {
    let mut row = format!("| {} | **{}** |", m.mode, m.status.to_uppercase());
    for _ in 1..cols {
        row.push_str(" – |");
    }
    row
}

/// The Markdown section (without the markers).
pub fn markdown(r: &RunReport, chart_rel: Option<&str>, json_rel: &str) -> String {
    let mut md = String::new();
    let s = &r.settings;
    let _ = writeln!(md, "## HTTP load benchmark\n");
    let _ = writeln!(
        md,
        "Measured {} with `benches/http.rs`, which starts every mode itself:\n\n```sh\ncargo build --release\n{}\n```\n",
        r.date, r.command
    );
    let _ = writeln!(
        md,
        "**Machine:** {} CPUs (`nproc`), {}, Linux {}{}. A shared, noisy VM: compare modes within one run, not across runs.\n",
        r.machine.nproc,
        r.machine.cpu_model,
        r.machine.kernel,
        r.machine
            .rustc
            .as_deref()
            .map(|v| format!(", {v}"))
            .unwrap_or_default()
    );
    let _ = writeln!(md, "**Setup:**\n");
    let _ = writeln!(
        md,
        "- Server: `target/release/cartseal serve --config config.toml --port 0` with `CARTSEAL__SERVER__WORKERS={}`, `CARTSEAL__COOKIE__SECURE=false`, `CARTSEAL__CATALOG__FILE=\"\"` (any sku, no prices), and the mode's `CARTSEAL__STORE__KIND` (see the JSON for each mode's exact environment).",
        s.server_workers
    );
    for p in &r.pinning {
        let _ = writeln!(md, "- {p}");
    }
    let _ = writeln!(
        md,
        "- Workload: each virtual user (VU) has its own session (cookie transport, `Cookie: cart=…` sent back as received, no `Origin`) and first builds a cart of {} lines with 2 properties each. The measured mix: 70% `GET /cart`, 20% `POST /cart/items` of an existing sku (quantity +1, capped below 999), 8% `PATCH /cart/items/{{line}}` to a quantity of 1–10, 2% `DELETE /cart/items/{{line}}` whose re-add (`POST`) is that VU's next request, so the cart stays at {} lines.",
        s.lines, s.lines
    );
    let _ = writeln!(
        md,
        "- Closed loop: {} VUs, each sending its next request when the previous one is answered; {} s warm-up, then {} s measured. Open loop: requests scheduled at a fixed rate of **{} req/s** ({}), taken by a pool of {} VUs; latency is measured from each request's scheduled send time, so queueing counts (no coordinated omission, as in wrk2); {} s warm-up, {} s measured.",
        s.concurrency,
        s.warmup_s,
        s.duration_s,
        s.rate.map(f_int).unwrap_or_else(|| "n/a".into()),
        s.rate_source,
        s.pool,
        s.open_warmup_s,
        s.duration_s
    );
    let _ = writeln!(
        md,
        "- req/s counts successful (2xx) responses only; latency percentiles include every request. Bytes per request are counted on the wire by the load generator's own HTTP/1.1 client: request line, headers (with the cookie) and body; status line, headers (with any `Set-Cookie`) and body. Server CPU is utime+stime from `/proc/<pid>/stat` over the measured window, divided by the requests; **for `redis` and `redis+rtt` it includes the private redis-server's CPU** (shown separately in the JSON).",
    );
    if r.modes.iter().any(|m| m.mode == "redis+rtt") {
        let _ = writeln!(
            md,
            "- `redis+rtt`: the server reaches Redis through a TCP delay proxy in the load generator that delays every chunk {} ms in each direction (order kept, pipelining not serialized; the hold is calibrated so that an idle round trip gains 2 × that). Measured PING round trip: {}.",
            s.rtt_ms,
            r.modes
                .iter()
                .find(|m| m.mode == "redis+rtt")
                .map(|m| format!(
                    "{} µs direct, {} µs through the proxy (hold {} µs per chunk and direction)",
                    f_opt(m.redis_ping_direct_us, |v| format!("{v:.0}")),
                    f_opt(m.redis_ping_via_proxy_us, |v| format!("{v:.0}")),
                    f_opt(m.proxy_hold_us, |v| format!("{v:.0}"))
                ))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(md);

    // Table 1: closed loop.
    let _ = writeln!(
        md,
        "### Peak throughput (closed loop, {} VUs)\n",
        s.concurrency
    );
    let _ = writeln!(
        md,
        "| mode | req/s | vs token-paseto | p50 ms | p99 ms | p99.9 ms | server CPU µs/req | request B/req | response B/req | errors |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for m in &r.modes {
        match (&m.closed, m.status.as_str()) {
            (Some(c), "ok") => {
                let _ = writeln!(
                    md,
                    "| {} | {}{} | {} | {} | {} | {} | {}{} | {} | {} | {} |",
                    m.mode,
                    f_int(c.throughput_rps),
                    disturbed(c),
                    f_ratio(m.vs_token_paseto.as_ref().and_then(|r| r.closed_rps)),
                    f_ms(c.latency.p50_ms),
                    f_ms(c.latency.p99_ms),
                    f_ms(c.latency.p999_ms),
                    f_opt(c.server_side_cpu_us_per_req, |v| format!("{v:.1}")),
                    if c.redis_cpu_us_per_req.is_some() {
                        " (incl. redis)"
                    } else {
                        ""
                    },
                    f_int(c.request_bytes_per_req),
                    f_int(c.response_bytes_per_req),
                    f_errors(c)
                );
            }
            _ => {
                let _ = writeln!(md, "{}", failed_row(m, 9));
            }
        }
    }
    let _ = writeln!(md);

    // Table 2: open loop.
    let _ = writeln!(
        md,
        "### Latency at a fixed offered rate of {} req/s (open loop, pool of {} VUs)\n",
        s.rate.map(f_int).unwrap_or_else(|| "n/a".into()),
        s.pool
    );
    let _ = writeln!(
        md,
        "| mode | achieved req/s | p50 ms | p99 ms | p99.9 ms | max ms | p99 vs token-paseto | server CPU µs/req | server cores busy | errors |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for m in &r.modes {
        match (&m.open, m.status.as_str()) {
            (Some(o), "ok") => {
                let cores = match (o.server_cpu_cores, o.redis_cpu_cores) {
                    (Some(a), Some(b)) => format!("{a:.2} + redis {b:.2}"),
                    (Some(a), None) => format!("{a:.2}"),
                    _ => "n/a".into(),
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {}{} | {} | {} | {} | {}{} | {} | {} |",
                    m.mode,
                    f_int(o.throughput_rps),
                    f_ms(o.latency.p50_ms),
                    f_ms(o.latency.p99_ms),
                    disturbed(o),
                    f_ms(o.latency.p999_ms),
                    f_ms(o.latency.max_ms),
                    f_ratio(m.vs_token_paseto.as_ref().and_then(|r| r.open_p99)),
                    f_opt(o.server_side_cpu_us_per_req, |v| format!("{v:.1}")),
                    if o.redis_cpu_us_per_req.is_some() {
                        " (incl. redis)"
                    } else {
                        ""
                    },
                    cores,
                    f_errors(o)
                );
            }
            _ => {
                let _ = writeln!(md, "{}", failed_row(m, 9));
            }
        }
    }
    let _ = writeln!(md);

    if r.modes.iter().any(|m| {
        [&m.closed, &m.open]
            .into_iter()
            .flatten()
            .any(|p| !disturbed(p).is_empty())
    }) {
        let _ = writeln!(
            md,
            "⚠ marks a phase during which other processes used at least {:.0}% of the server's core or {:.0}% of the load generator's (from /proc/stat): treat it with suspicion and rerun on a quiet machine.\n",
            DISTURBED * 100.0,
            DISTURBED_GENERATOR * 100.0
        );
    }
    // Table 3: per request kind.
    let _ = writeln!(
        md,
        "### Closed-loop latency per request kind (p50 / p99 ms)\n"
    );
    let mut header = String::from("| mode |");
    let mut sep = String::from("|---|");
    for k in OP_KINDS {
        let _ = write!(header, " {} |", k.name().replace('|', "\\|"));
        sep.push_str("---:|");
    }
    let _ = writeln!(md, "{header}\n{sep}");
    for m in &r.modes {
        match (&m.closed, m.status.as_str()) {
            (Some(c), "ok") => {
                let mut row = format!("| {} |", m.mode);
                for op in &c.per_op {
                    if op.count == 0 {
                        row.push_str(" – |");
                    } else {
                        let _ = write!(
                            row,
                            " {} / {} ({}) |",
                            f_ms(op.p50_ms),
                            f_ms(op.p99_ms),
                            f_int(op.count as f64)
                        );
                    }
                }
                let _ = writeln!(md, "{row}");
            }
            _ => {
                let _ = writeln!(md, "{}", failed_row(m, OP_KINDS.len()));
            }
        }
    }
    let _ = writeln!(md, "\nThe count of each kind is in parentheses.\n");

    // Table 4: credential sizes.
    let sizes: Vec<usize> = r
        .modes
        .iter()
        .find(|m| !m.sizes.is_empty())
        .map(|m| m.sizes.iter().map(|s| s.lines_requested).collect())
        .unwrap_or_default();
    if !sizes.is_empty() {
        let _ = writeln!(md, "### Credential size per cart size\n");
        let _ = writeln!(
            md,
            "Bytes of the cart cookie's value after building a fresh cart of that many lines (2 properties each); in parentheses, the whole `Set-Cookie` header line the browser receives. Browsers drop a cookie whose name+value exceed 4,096 bytes.\n"
        );
        let mut header = String::from("| mode |");
        let mut sep = String::from("|---|");
        for n in &sizes {
            let _ = write!(header, " {n} line{} |", if *n == 1 { "" } else { "s" });
            sep.push_str("---:|");
        }
        let _ = writeln!(md, "{header}\n{sep}");
        for m in &r.modes {
            if m.status == "failed to start" || m.sizes.is_empty() {
                let _ = writeln!(md, "{}", failed_row(m, sizes.len()));
                continue;
            }
            let mut row = format!("| {} |", m.mode);
            for s in &m.sizes {
                let cell = match (&s.stopped, s.cookie_value_bytes) {
                    (Some(why), _) => format!(
                        "refused after {} lines: {}",
                        s.lines_built,
                        why.rsplit("-> ").next().unwrap_or(why)
                    ),
                    (None, Some(v)) => format!(
                        "{}{}",
                        f_int(v as f64),
                        s.set_cookie_header_bytes
                            .map(|h| format!(" ({})", f_int(h as f64)))
                            .unwrap_or_default()
                    ),
                    (None, None) => "no cookie".into(),
                };
                let _ = write!(row, " {cell} |");
            }
            let _ = writeln!(md, "{row}");
        }
        let _ = writeln!(md);
    }

    if let Some(chart) = chart_rel {
        let _ = writeln!(
            md,
            "![HTTP benchmark: closed-loop throughput and open-loop p99 per mode]({chart})\n"
        );
    }

    // Notes.
    let mut notes = Vec::new();
    for m in &r.modes {
        if m.status != "ok" {
            notes.push(format!(
                "**`{}` {}**: {}",
                m.mode,
                m.status.to_uppercase(),
                m.failure
                    .as_deref()
                    .unwrap_or("no reason recorded")
                    .lines()
                    .next()
                    .unwrap_or_default()
            ));
        }
        for n in &m.notes {
            notes.push(format!("`{}`: {n}", m.mode));
        }
    }
    notes.push(format!("Raw results, per-mode environment and per-status counts: `{json_rel}`. Server logs: `target/http-bench/`."));
    let _ = writeln!(md, "**Notes:**\n");
    for n in notes {
        let _ = writeln!(md, "- {n}");
    }
    md
}

/// Replaces the text between the markers, or appends a marked section,
/// or creates the file.
pub fn write_section(path: &Path, section: &str) -> std::io::Result<()> {
    const START: &str = "<!-- http-bench:start -->";
    const END: &str = "<!-- http-bench:end -->";
    let block = format!("{START}\n{section}\n{END}");
    let text = match std::fs::read_to_string(path) {
        Ok(old) => match (old.find(START), old.find(END)) {
            (Some(a), Some(b)) if b > a => {
                format!("{}{}{}", &old[..a], block, &old[b + END.len()..])
            }
            _ => format!("{}\n\n{}\n", old.trim_end(), block),
        },
        Err(_) => format!("# Benchmarks\n\n{block}\n"),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}

/// Two bar charts side by side: closed-loop req/s and open-loop p99.
pub fn chart(path: &Path, r: &RunReport) -> Result<(), String> {
    use plotters::prelude::*;

    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let names: Vec<String> = r.modes.iter().map(|m| m.mode.clone()).collect();
    let ok = |m: &ModeReport| m.status == "ok";
    let marks = |closed: bool| -> Vec<bool> {
        r.modes
            .iter()
            .map(|m| {
                let p = if closed { &m.closed } else { &m.open };
                p.as_ref().is_some_and(is_disturbed)
            })
            .collect()
    };
    let rps: Vec<Option<f64>> = r
        .modes
        .iter()
        .map(|m| {
            m.closed
                .as_ref()
                .filter(|_| ok(m))
                .map(|c| c.throughput_rps)
        })
        .collect();
    let p99: Vec<Option<f64>> = r
        .modes
        .iter()
        .map(|m| m.open.as_ref().filter(|_| ok(m)).map(|o| o.latency.p99_ms))
        .collect();
    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (left, right) = root.split_horizontally(550);
    let rate = r.settings.rate.map(f_int).unwrap_or_else(|| "n/a".into());
    let panels = [
        Panel {
            values: &rps,
            disturbed: marks(true),
            caption: format!(
                "Peak throughput, closed loop ({} VUs)",
                r.settings.concurrency
            ),
            unit: "req/s",
            color: RGBColor(46, 110, 180),
            integer: true,
        },
        Panel {
            values: &p99,
            disturbed: marks(false),
            caption: format!("p99 latency at {rate} req/s, open loop"),
            unit: "ms",
            color: RGBColor(200, 90, 40),
            integer: false,
        },
    ];
    let statuses: Vec<String> = r.modes.iter().map(|m| m.status.clone()).collect();
    for (area, panel) in [&left, &right].into_iter().zip(panels) {
        draw_panel(area, &panel, &names, &statuses)?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

struct Panel<'a> {
    values: &'a [Option<f64>],
    /// Phases disturbed by other processes get a ⚠ after their value.
    disturbed: Vec<bool>,
    caption: String,
    unit: &'static str,
    color: plotters::style::RGBColor,
    integer: bool,
}

fn draw_panel(
    area: &plotters::drawing::DrawingArea<
        plotters::backend::SVGBackend<'_>,
        plotters::coord::Shift,
    >,
    p: &Panel<'_>,
    names: &[String],
    statuses: &[String],
) -> Result<(), String> {
    use plotters::prelude::*;
    use plotters::style::text_anchor::{HPos, Pos, VPos};

    let n = names.len().max(1);
    let fmt = |v: f64| if p.integer { f_int(v) } else { f_ms(v) };
    // One outlier (an overloaded mode's p99 in seconds) would flatten every
    // other bar: the axis stops at 4x the median, and taller bars are cut
    // there with their true value and an arrow on top.
    let mut present: Vec<f64> = p.values.iter().flatten().cloned().collect();
    present.sort_by(f64::total_cmp);
    let max = present.last().copied().unwrap_or(0.0);
    let median = present.get(present.len() / 2).copied().unwrap_or(0.0);
    let top = if median > 0.0 {
        max.min(median * 4.0)
    } else {
        max
    };
    let ymax = if top > 0.0 { top * 1.18 } else { 1.0 };
    let shown = |v: f64| v.min(top);
    let mut chart = ChartBuilder::on(area)
        .caption(&p.caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        // A segmented 0..k has k + 1 segments.
        .build_cartesian_2d((0..n.saturating_sub(1).max(1)).into_segmented(), 0f64..ymax)
        .map_err(|e| e.to_string())?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let ylabel = |v: &f64| fmt(*v);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(2)
        .x_labels(n)
        .x_label_formatter(&label)
        .y_label_formatter(&ylabel)
        .y_desc(p.unit)
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(p.values.iter().enumerate().filter_map(|(i, v)| {
            v.map(|v| {
                let mut bar = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), 0.0),
                        (SegmentValue::Exact(i + 1), shown(v)),
                    ],
                    p.color.filled(),
                );
                bar.set_margin(0, 0, 14, 14);
                bar
            })
        }))
        .map_err(|e| e.to_string())?;
    let style = ("sans-serif", 13)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    chart
        .draw_series(p.values.iter().enumerate().map(|(i, v)| {
            let (text, y) = match v {
                Some(v) => (
                    format!(
                        "{}{}{}",
                        if *v > top { "↑ " } else { "" },
                        fmt(*v),
                        if p.disturbed.get(i).copied().unwrap_or(false) {
                            " ⚠"
                        } else {
                            ""
                        }
                    ),
                    shown(*v),
                ),
                None => (
                    statuses
                        .get(i)
                        .filter(|s| *s != "ok")
                        .cloned()
                        .unwrap_or_else(|| "n/a".into()),
                    0.0,
                ),
            };
            Text::new(
                text,
                (SegmentValue::CenterOf(i), y + ymax * 0.02),
                style.clone(),
            )
        }))
        .map_err(|e| e.to_string())?;
    Ok(())
}
