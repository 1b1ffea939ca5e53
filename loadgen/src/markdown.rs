//! The Markdown section of docs/benchmarks.md.

use std::fmt::Write as _;

use crate::load::OP_KINDS;
use crate::report::{
    DISTURBED, DISTURBED_GENERATOR, ModeReport, PhaseReport, RunReport, is_disturbed,
};

pub fn f_ms(v: f64) -> String {
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

pub fn f_int(v: f64) -> String {
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

fn disturbed(p: &PhaseReport) -> &'static str {
    if is_disturbed(p) { " ⚠" } else { "" }
}

/// The central store whose CPU a mode's `redis_cpu_*` figures hold: the
/// memcached modes put memcached's there.
pub fn store_process(mode: &str) -> &'static str {
    if mode.starts_with("memcached") {
        "memcached"
    } else {
        "redis"
    }
}

fn failed_row(m: &ModeReport, cols: usize) -> String {
    let mut row = format!("| {} | **{}** |", m.mode, m.status.to_uppercase());
    for _ in 1..cols {
        row.push_str(" – |");
    }
    row
}

/// The server's CPU per request of a phase, and which store's CPU it
/// includes when it includes one.
fn server_cpu(m: &ModeReport, p: &PhaseReport) -> String {
    let incl = if p.redis_cpu_us_per_req.is_some() {
        format!(" (incl. {})", store_process(&m.mode))
    } else {
        String::new()
    };
    format!(
        "{}{incl}",
        f_opt(p.server_side_cpu_us_per_req, |v| format!("{v:.1}"))
    )
}

/// A table of one phase (closed or open loop) of every mode: `heading`, a
/// header row of the mode and `columns` (numbers right-aligned, the last,
/// the errors, left), then a row for each mode, of the `cells` of its phase
/// when it ran, else of its status.
fn phase_table<'a>(
    md: &mut String,
    heading: &str,
    columns: &[&str],
    modes: &'a [ModeReport],
    phase: impl Fn(&'a ModeReport) -> Option<&'a PhaseReport>,
    cells: impl Fn(&ModeReport, &PhaseReport) -> Vec<String>,
) {
    let _ = writeln!(md, "{heading}\n");
    let _ = writeln!(md, "| mode | {} |", columns.join(" | "));
    let _ = writeln!(md, "|---|{}---|", "---:|".repeat(columns.len() - 1));
    for m in modes {
        match (phase(m), m.status.as_str()) {
            (Some(p), "ok") => {
                let _ = writeln!(md, "| {} | {} |", m.mode, cells(m, p).join(" | "));
            }
            _ => {
                let _ = writeln!(md, "{}", failed_row(m, columns.len()));
            }
        }
    }
    let _ = writeln!(md);
}

/// The Markdown section (without the markers).
pub fn markdown(r: &RunReport, chart_rel: Option<&str>, json_rel: &str) -> String {
    let mut md = String::new();
    let s = &r.settings;
    let _ = writeln!(md, "## HTTP load benchmark\n");
    let _ = writeln!(
        md,
        "Measured {} with `loadgen/`, which starts every mode itself:\n\n```sh\ncargo build --release --workspace\n{}\n```\n",
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
        "- req/s counts successful (2xx) responses only; latency percentiles include every request. Bytes per request are counted on the wire by the load generator's own HTTP/1.1 client: request line, headers (with the cookie) and body; status line, headers (with any `Set-Cookie`) and body. Server CPU is utime+stime from `/proc/<pid>/stat` over the measured window, divided by the requests; **for `redis`, `redis+rtt` and `actix-session-redis` it includes the private redis-server's CPU, and for `memcached` and `memcached+rtt` the private memcached's** (shown separately in the JSON, under `redis_cpu_*` for both).",
    );
    if r.modes.iter().any(|m| m.mode.starts_with("actix-session")) {
        let _ = writeln!(
            md,
            "- `actix-session-cookie`, `actix-session-redis`: the same routes and checks on actix-session 0.11 (`peer/`, the `cartseal-peer` binary), one actix worker, pinned like the server.",
        );
    }
    for (mode, store) in [("redis+rtt", "Redis"), ("memcached+rtt", "Memcached")] {
        let Some(m) = r.modes.iter().find(|m| m.mode == mode) else {
            continue;
        };
        // Memcached answers the probe's `PING` line with one `ERROR` line:
        // the same one-line round trip.
        let _ = writeln!(
            md,
            "- `{mode}`: the server reaches {store} through a TCP delay proxy in the load generator that delays every chunk {} ms in each direction (order kept, pipelining not serialized; the hold is calibrated so that an idle round trip gains 2 × that). Measured PING round trip: {} µs direct, {} µs through the proxy (hold {} µs per chunk and direction).",
            s.rtt_ms,
            f_opt(m.store_rtt.redis_ping_direct_us, |v| format!("{v:.0}")),
            f_opt(m.store_rtt.redis_ping_via_proxy_us, |v| format!("{v:.0}")),
            f_opt(m.store_rtt.proxy_hold_us, |v| format!("{v:.0}"))
        );
    }
    let _ = writeln!(md);

    // Table 1: closed loop.
    phase_table(
        &mut md,
        &format!("### Peak throughput (closed loop, {} VUs)", s.concurrency),
        &[
            "req/s",
            "vs token-paseto",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "server CPU µs/req",
            "request B/req",
            "response B/req",
            "errors",
        ],
        &r.modes,
        |m| m.closed.as_ref(),
        |m, c| {
            vec![
                format!("{}{}", f_int(c.throughput_rps), disturbed(c)),
                f_ratio(m.vs_token_paseto.as_ref().and_then(|r| r.closed_rps)),
                f_ms(c.latency.p50_ms),
                f_ms(c.latency.p99_ms),
                f_ms(c.latency.p999_ms),
                server_cpu(m, c),
                f_int(c.request_bytes_per_req),
                f_int(c.response_bytes_per_req),
                f_errors(c),
            ]
        },
    );

    // Table 2: open loop.
    phase_table(
        &mut md,
        &format!(
            "### Latency at a fixed offered rate of {} req/s (open loop, pool of {} VUs)",
            s.rate.map(f_int).unwrap_or_else(|| "n/a".into()),
            s.pool
        ),
        &[
            "achieved req/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "p99 vs token-paseto",
            "server CPU µs/req",
            "server cores busy",
            "errors",
        ],
        &r.modes,
        |m| m.open.as_ref(),
        |m, o| {
            let cores = match (o.server_cpu_cores, o.redis_cpu_cores) {
                (Some(a), Some(b)) => format!("{a:.2} + {} {b:.2}", store_process(&m.mode)),
                (Some(a), None) => format!("{a:.2}"),
                _ => "n/a".into(),
            };
            vec![
                f_int(o.throughput_rps),
                f_ms(o.latency.p50_ms),
                format!("{}{}", f_ms(o.latency.p99_ms), disturbed(o)),
                f_ms(o.latency.p999_ms),
                f_ms(o.latency.max_ms),
                f_ratio(m.vs_token_paseto.as_ref().and_then(|r| r.open_p99)),
                server_cpu(m, o),
                cores,
                f_errors(o),
            ]
        },
    );

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
