//! The slow-client run's figures, its verdicts against the targets, and its
//! section of docs/benchmarks.md.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::clients::{Ended, SlowStats, outcomes};
use crate::markdown::{f_int, f_ms};
use crate::report::{Machine, PhaseReport};

pub const MARKER: &str = "http-bench-slowloris";

/// p99 under attack may be at most this many times the baseline's.
pub const P99_TARGET: f64 = 2.0;

/// A connection is closed "on time" within this many seconds after its
/// timeout (the server's timers are coarse, and the machine is shared).
const SLACK_S: f64 = 2.0;

/// The server's timeouts in force, from config.toml and the environment.
#[derive(Clone, Copy, Serialize)]
pub struct Timeouts {
    pub client_request_ms: u64,
    pub keep_alive_s: u64,
    pub body_ms: u64,
}

impl Timeouts {
    /// As the server reads them (same file, same `CARTSEAL__…` overrides,
    /// which the server inherits); the shipped defaults if it cannot.
    pub fn from_config(path: &Path) -> Timeouts {
        let server = match cartseal::config::Settings::load(path) {
            Ok(s) => s.server,
            Err(e) => {
                eprintln!(
                    "  ! cannot read {}: {e}; assuming the defaults",
                    path.display()
                );
                Default::default()
            }
        };
        Timeouts {
            client_request_ms: server.client_request_timeout_ms,
            keep_alive_s: server.keep_alive_secs,
            body_ms: server.body_timeout_ms,
        }
    }
}

#[derive(Serialize)]
pub struct Probes {
    pub silent: Vec<Ended>,
    pub idle_keep_alive: Vec<Ended>,
    pub stalled_body: Vec<Ended>,
}

/// The slow-client run's figures, as its JSON file holds them and its
/// verdicts and Markdown section read them.
#[derive(Serialize)]
pub struct SlowReport {
    pub mode: String,
    pub rate: f64,
    pub slow_conns: usize,
    pub timeouts: Timeouts,
    pub baseline: PhaseReport,
    pub under_attack: PhaseReport,
    pub during_stalls: PhaseReport,
    pub slow: SlowStats,
    pub probes: Probes,
    /// The server exited during the run.
    pub exited: Option<String>,
}

/// One check against its target.
pub struct Verdict {
    pub what: String,
    pub measured: String,
    pub pass: bool,
}

impl Verdict {
    pub fn line(&self) -> String {
        format!(
            "{} {}: {}",
            if self.pass { "PASS" } else { "FAIL" },
            self.what,
            self.measured
        )
    }
}

impl SlowReport {
    pub fn p99_ratio(&self) -> Option<f64> {
        let base = self.baseline.latency.p99_ms;
        (base > 0.0).then(|| self.under_attack.latency.p99_ms / base)
    }

    pub fn verdicts(&self) -> Vec<Verdict> {
        let t = &self.timeouts;
        let head_s = t.client_request_ms as f64 / 1000.0;
        let body_s = t.body_ms as f64 / 1000.0;
        let mut v = Vec::new();
        let ratio = self.p99_ratio();
        v.push(Verdict {
            what: format!(
                "p99 under {} slow connections ≤ {P99_TARGET}× the baseline's",
                self.slow_conns
            ),
            measured: format!(
                "{} ms against {} ms: {}",
                f_ms(self.under_attack.latency.p99_ms),
                f_ms(self.baseline.latency.p99_ms),
                ratio.map_or("n/a".into(), |r| format!("{r:.2}×"))
            ),
            pass: ratio.is_some_and(|r| r <= P99_TARGET) && self.under_attack.error_count == 0,
        });
        v.push(on_time(
            &format!("slow connections closed within {head_s} s (+{SLACK_S} s) of opening"),
            &self.slow.ended,
            head_s,
        ));
        v.push(on_time(
            &format!("silent connections closed within {head_s} s (+{SLACK_S} s)"),
            &self.probes.silent,
            head_s,
        ));
        if t.keep_alive_s > 0 {
            v.push(on_time(
                &format!(
                    "idle keep-alive connections closed within {} s (+{SLACK_S} s) of their last response",
                    t.keep_alive_s
                ),
                &self.probes.idle_keep_alive,
                t.keep_alive_s as f64,
            ));
        }
        let stalls = &self.probes.stalled_body;
        let all_408 = !stalls.is_empty() && stalls.iter().all(|e| e.status == Some(408));
        let mut stall = on_time(
            &format!("a body that stops mid-way is answered 408 after {body_s} s (+{SLACK_S} s)"),
            stalls,
            body_s,
        );
        stall.pass &= all_408;
        v.push(stall);
        let d = &self.during_stalls;
        let kept = d.throughput_rps >= 0.95 * self.rate && d.error_count == 0;
        v.push(Verdict {
            what: "normal requests keep their rate, without errors, while bodies stall".into(),
            measured: format!(
                "{} of {} req/s, {} errors, p99 {} ms",
                f_int(d.throughput_rps),
                f_int(self.rate),
                d.error_count,
                f_ms(d.latency.p99_ms)
            ),
            pass: kept,
        });
        if let Some(why) = &self.exited {
            v.push(Verdict {
                what: "the server stays up".into(),
                measured: why.clone(),
                pass: false,
            });
        }
        v
    }
}

/// Every connection ended, at `timeout` or up to `SLACK_S` later (never
/// well before it: 10% early at most).
fn on_time(what: &str, ended: &[Ended], timeout: f64) -> Verdict {
    let mut times: Vec<f64> = ended
        .iter()
        .filter(|e| !e.open)
        .map(|e| e.after_s)
        .collect();
    times.sort_by(f64::total_cmp);
    let still_open = ended.iter().filter(|e| e.open).count();
    let (lo, hi) = (
        times.first().copied().unwrap_or(f64::NAN),
        times.last().copied().unwrap_or(f64::NAN),
    );
    let median = times.get(times.len() / 2).copied().unwrap_or(f64::NAN);
    let pass =
        !times.is_empty() && still_open == 0 && lo >= timeout * 0.9 && hi <= timeout + SLACK_S;
    let outcomes: Vec<String> = outcomes(ended)
        .into_iter()
        .map(|(k, n)| format!("{n} × {k}"))
        .collect();
    Verdict {
        what: what.to_string(),
        measured: format!(
            "{} ended after {lo:.2} s min, {median:.2} s median, {hi:.2} s max ({})",
            times.len(),
            outcomes.join(", ")
        ),
        pass,
    }
}

/// The section (without its markers).
pub fn markdown(
    r: &SlowReport,
    verdicts: &[Verdict],
    date: &str,
    command: &str,
    machine: &Machine,
    pinning: &[String],
) -> String {
    let mut md = String::new();
    crate::output::header(&mut md, "Slow clients", date, command, machine, pinning);
    let t = &r.timeouts;
    let _ = writeln!(
        md,
        "**Setup:** `{}` with config.toml's timeouts: request head `server.client_request_timeout_ms` = {}, `server.keep_alive_secs` = {}, `server.body_timeout_ms` = {}. The normal client is the open loop of the main run at **{} req/s** (pool of {} VUs, latency from the scheduled send time). Attack: {} connections each send one byte of a never-ending request head per second, and reconnect when closed. Probes: {} silent connections, {} connections idle after one request, {} writes whose body stops after 10 of its 64 bytes.\n",
        r.mode,
        t.client_request_ms,
        t.keep_alive_s,
        t.body_ms,
        f_int(r.rate),
        r.baseline.vus,
        r.slow_conns,
        r.probes.silent.len(),
        r.probes.idle_keep_alive.len(),
        r.probes.stalled_body.len()
    );
    let _ = writeln!(
        md,
        "| phase | achieved req/s | p50 ms | p99 ms | p99.9 ms | max ms | server CPU µs/req | errors |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, p) in [
        ("baseline", &r.baseline),
        ("under attack", &r.under_attack),
        ("bodies stalled", &r.during_stalls),
    ] {
        let _ = writeln!(
            md,
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            f_int(p.throughput_rps),
            f_ms(p.latency.p50_ms),
            f_ms(p.latency.p99_ms),
            f_ms(p.latency.p999_ms),
            f_ms(p.latency.max_ms),
            p.server_cpu_us_per_req
                .map_or("n/a".into(), |v| format!("{v:.1}")),
            p.error_count
        );
    }
    let s = &r.slow;
    let _ = writeln!(
        md,
        "\nThe attack opened {} connections in all ({} at most at once, {} at least once all had connected; {} connect errors) and sent {} bytes.\n",
        f_int(s.opened as f64),
        s.max_open,
        s.min_open_after_ramp
            .map_or("n/a".into(), |n| n.to_string()),
        s.connect_errors,
        f_int(s.bytes_sent as f64)
    );
    let _ = writeln!(md, "| check | measured | result |\n|---|---|---|");
    for v in verdicts {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            v.what,
            v.measured,
            if v.pass { "pass" } else { "**FAIL**" }
        );
    }
    let _ = writeln!(
        md,
        "\nRaw figures, every probe's timing: `benches/results/http-slowloris.json`. Server log: `target/http-bench/slowloris-{}-server.log`.\n",
        r.mode
    );
    md
}
