//! `--sizes`: what each mode costs as the cart grows, in one table made
//! from the closed loop at every size.

use std::fmt::Write as _;

use crate::markdown::{f_int, f_ms};
use crate::report::{ModeReport, RunReport};

/// The "Cost against cart size" table, when the run had more than one
/// size; empty otherwise.
pub fn sweep_table(r: &RunReport) -> String {
    if r.sweep.is_empty() {
        return String::new();
    }
    let all: Vec<&ModeReport> = r.modes.iter().chain(&r.sweep).collect();
    let mut sizes: Vec<usize> = all.iter().map(|m| m.lines).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let mut modes: Vec<&str> = Vec::new();
    for m in &all {
        if !modes.contains(&m.mode.as_str()) {
            modes.push(&m.mode);
        }
    }
    let find = |mode: &str, lines: usize| {
        all.iter()
            .find(|m| m.mode == mode && m.lines == lines)
            .copied()
    };
    let mut md = String::new();
    let _ = writeln!(md, "### Cost against cart size (closed loop)\n");
    let _ = writeln!(
        md,
        "Each mode again with carts of {} lines ({} VUs, {} s measured at each size). Credential: the median cart cookie value after the build. CPU includes redis-server for the redis modes, and memcached for the memcached modes. A mode that cannot hold carts of a size says so.\n",
        sizes
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        r.settings.concurrency,
        r.settings.duration_s
    );
    let _ = writeln!(
        md,
        "| mode | lines | req/s | vs token-paseto | p99 ms | server CPU µs/req | credential B | request B/req | errors |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for mode in &modes {
        for &lines in &sizes {
            let Some(m) = find(mode, lines) else {
                continue;
            };
            let c = m.closed.as_ref().filter(|_| m.status == "ok");
            let Some(c) = c else {
                let why = m
                    .failure
                    .as_deref()
                    .and_then(|f| f.lines().next())
                    .unwrap_or("no reason recorded");
                let cell = if m.status == "cart too large" {
                    format!("cannot hold {lines} lines: {}", short_refusal(why))
                } else {
                    format!("**{}**: {why}", m.status.to_uppercase())
                };
                let _ = writeln!(md, "| {mode} | {lines} | {cell} | | | | | | |");
                continue;
            };
            let base = find("token-paseto", lines)
                .and_then(|b| b.closed.as_ref().filter(|_| b.status == "ok"))
                .map(|b| b.throughput_rps)
                .filter(|b| *b > 0.0);
            let _ = writeln!(
                md,
                "| {mode} | {lines} | {} | {} | {} | {} | {} | {} | {} |",
                f_int(c.throughput_rps),
                base.map(|b| format!("{:.2}×", c.throughput_rps / b))
                    .unwrap_or("n/a".into()),
                f_ms(c.latency.p99_ms),
                c.server_side_cpu_us_per_req
                    .map(|v| format!("{v:.1}"))
                    .unwrap_or("n/a".into()),
                m.credential_bytes
                    .map(|b| f_int(b as f64))
                    .unwrap_or("n/a".into()),
                f_int(c.request_bytes_per_req),
                c.error_count
            );
        }
    }
    let _ = writeln!(md);
    md
}

/// `POST /cart/items (line 29) -> 413 cart_too_large` from a build error.
fn short_refusal(why: &str) -> String {
    match why.rfind("POST /cart/items") {
        Some(i) => why[i..].to_string(),
        None => why.to_string(),
    }
}
