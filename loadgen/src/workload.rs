//! A mode's workload: carts for the closed loop, the closed loop for peak
//! throughput, the open loop at the offered rate, the token sizes; and what
//! is printed about each phase.

use std::sync::Arc;
use std::time::Duration;

use crate::mode::Ctx;
use crate::report::{ModeReport, PhaseReport};
use crate::stats::{CpuPids, PhaseRaw};
use crate::vu::{Target, Vu};
use crate::{load, report};

/// The cart sizes of the token size table.
const SIZE_TABLE_LINES: [usize; 3] = [1, 20, 100];

/// Why a mode's workload stopped.
pub enum WorkloadError {
    /// The mode refuses carts of this many lines (`413 cart_too_large`):
    /// a property of the mode, reported as such.
    CartTooLarge(String),
    Failed(String),
}

impl From<String> for WorkloadError {
    fn from(e: String) -> Self {
        WorkloadError::Failed(e)
    }
}

/// Builds the VUs' carts, runs the closed loop and, when `full`, the open
/// loop at the offered rate and the credential sizes.
pub async fn workload(
    ctx: &mut Ctx,
    mode: &str,
    rep: &mut ModeReport,
    target: Arc<Target>,
    pids: CpuPids,
    full: bool,
) -> Result<(), WorkloadError> {
    let a = &ctx.args;
    let lines = ctx.lines;
    // 1. Carts for the closed loop.
    let t = std::time::Instant::now();
    let vus: Vec<Vu> = (0..a.concurrency)
        .map(|i| Vu::new(i, target.clone()))
        .collect();
    let (vus, errors) = load::build_all(vus, lines, a.concurrency).await;
    report_build(&errors, vus.len())?;
    rep.credential_bytes = median_credential(&vus);
    let visible: Vec<usize> = vus.iter().map(Vu::line_count).collect();
    let (lo, hi) = (
        visible.iter().copied().min().unwrap_or(0),
        visible.iter().copied().max().unwrap_or(0),
    );
    let stateless = vus.iter().filter(|v| v.stateless).count();
    println!(
        "  built {} carts of {} lines in {:.1} s; carts now hold {lo}..={hi} lines",
        vus.len(),
        lines,
        t.elapsed().as_secs_f64(),
    );
    if stateless > 0 {
        let note = format!(
            "the server kept none of the VUs' writes (no session layer), so {stateless} VUs drove the mix against the cart the server shows every request ({lo}..={hi} lines), tracking it locally"
        );
        println!("  {note}");
        rep.notes.push(note);
    } else if lo != lines || hi != lines {
        rep.notes.push(format!(
            "after the build, GET /cart showed {lo}..={hi} lines instead of {lines}"
        ));
    }

    // 2. Closed loop.
    println!(
        "  closed loop: {} VUs, {:.1} s warm-up + {:.1} s",
        a.concurrency, a.warmup, a.duration
    );
    let (vus, raw) = window(a.warmup, a.duration, pids.clone())
        .closed_loop(vus)
        .await;
    let closed = reduce(ctx, "closed", a.concurrency, None, &raw);
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
        return Err(WorkloadError::Failed(
            "no request completed in the closed loop".into(),
        ));
    }
    if !full {
        rep.closed = Some(closed);
        print_notes(rep);
        return Ok(());
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
    let (extra, errors) = load::build_all(extra, lines, a.concurrency).await;
    report_build(&errors, extra.len())?;
    let mut pool = vus;
    pool.extend(extra);
    println!(
        "  open loop: {rate} req/s, pool of {} VUs, {:.1} s warm-up + {:.1} s",
        pool.len(),
        a.open_warmup,
        a.duration
    );
    let pool_len = pool.len();
    let (_pool, raw) = window(a.open_warmup, a.duration, pids)
        .open_loop(pool, rate)
        .await;
    let open = reduce(ctx, "open", pool_len, Some(rate), &raw);
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
    print_notes(rep);
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

/// Notes the phases that other processes disturbed.
fn print_notes(rep: &mut ModeReport) {
    let notes: Vec<String> = [&rep.closed, &rep.open]
        .into_iter()
        .flatten()
        .filter_map(noise_note)
        .collect();
    for noise in notes {
        println!("  ! {noise}");
        rep.notes.push(noise);
    }
}

/// The median length of the VUs' cart cookie values.
fn median_credential(vus: &[Vu]) -> Option<usize> {
    let mut lens: Vec<usize> = vus.iter().filter_map(|v| v.cookie_lens().0).collect();
    lens.sort_unstable();
    lens.get(lens.len() / 2).copied()
}

/// A phase's window, from seconds.
pub fn window(warmup: f64, duration: f64, pids: CpuPids) -> load::Window {
    load::Window {
        warmup: Duration::from_secs_f64(warmup),
        duration: Duration::from_secs_f64(duration),
        pids,
    }
}

/// A phase's raw figures reduced to its report, and printed.
pub fn reduce(
    ctx: &Ctx,
    kind: &'static str,
    vus: usize,
    offered_rate: Option<f64>,
    raw: &PhaseRaw,
) -> PhaseReport {
    let pinned = (ctx.server_cpu, ctx.generator_cpu);
    let phase = PhaseReport::from_raw(kind, vus, offered_rate, raw, ctx.clk_tck, pinned);
    print_phase(&phase);
    phase
}

fn report_build(errors: &[String], n: usize) -> Result<(), WorkloadError> {
    if errors.is_empty() {
        return Ok(());
    }
    let first = errors.first().cloned().unwrap_or_default();
    if errors.len() >= n && errors.iter().all(|e| e.contains("cart_too_large")) {
        return Err(WorkloadError::CartTooLarge(format!(
            "every VU's cart was refused, e.g. {first}"
        )));
    }
    // Any other failure, even of one VU, means the carts no longer have the
    // size this run is about: measuring on would report the wrong workload.
    Err(WorkloadError::Failed(format!(
        "{} of {} VUs could not build their cart, e.g. {first}",
        errors.len(),
        n
    )))
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
                " and its store"
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
        known(p.server_cpu_us_per_req, 1),
        p.redis_cpu_us_per_req
            .map(|v| format!(" + store {v:.1}"))
            .unwrap_or_default(),
        p.generator_cpu_cores.unwrap_or_default(),
    );
    println!(
        "    CPU busy per core {:?}; server {} + store {} cores; other processes on the server's core {}, on the generator's core {}",
        p.cpu_busy
            .iter()
            .map(|b| (b * 100.0).round() / 100.0)
            .collect::<Vec<_>>(),
        known(p.server_cpu_cores, 2),
        p.redis_cpu_cores
            .map(|v| format!("{v:.2}"))
            .unwrap_or("0".into()),
        known(p.foreign_load_server_core, 2),
        known(p.foreign_load_generator_core, 2),
    );
    if let Some(c) = &p.cache {
        println!(
            "    token cache: {} hits, {} misses, {} evictions (hit rate {})",
            c.hits,
            c.misses,
            c.evictions,
            c.hit_rate
                .map(|r| format!("{:.1}%", r * 100.0))
                .unwrap_or("n/a".into())
        );
    }
    if let Some(n) = p.nginx_cpu_us_per_req {
        println!(
            "    nginx {n:.1} µs/req ({} cores)",
            known(p.nginx_cpu_cores, 2)
        );
    }
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

/// A figure with `decimals` decimals, or `?` when it could not be measured.
pub fn known(value: Option<f64>, decimals: usize) -> String {
    value
        .map(|v| format!("{v:.decimals$}"))
        .unwrap_or_else(|| "?".into())
}
