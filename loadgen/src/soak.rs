//! `--soak SECS`: a long mixed load on one replica per store mode, all at
//! once, watching each server's resident memory (VmRSS) and open file
//! descriptors every `--sample` seconds.
//!
//! Targets: RSS at the end at most 10% above RSS after the warm-up, the fd
//! count flat (it moves by at most `FD_SLACK` after the warm-up), and no
//! error. Each VU keeps one cart (the mix deletes and re-adds lines, so it
//! stays at `--lines`), so no store has more to hold at the end than after
//! the warm-up: growth is a leak, not data. Each VU drops its connection
//! every `RECONNECT_EVERY` requests, so connections open and close all
//! along.
//!
//! Nothing reads the servers' `/metrics` unless `--scrape SECS` says how
//! often (as a Prometheus server would): a server must also stay flat when
//! nobody scrapes it, or when its admin listener is off.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::markdown::{f_int, f_ms, store_process};
use crate::mode::{Ctx, fail_start, loud};
use crate::report::{Machine, ModeReport, PhaseReport};
use crate::servers::Stack;
use crate::vu::Vu;
use crate::workload::{reduce, window};
use crate::{load, output, procs};

const RSS_GROWTH_TARGET: f64 = 0.10;
const FD_SLACK: usize = 8;
const RECONNECT_EVERY: u64 = 500;

#[derive(Serialize, Clone, Copy)]
pub struct Sample {
    pub t_s: f64,
    pub rss_kib: Option<u64>,
    pub fds: Option<usize>,
    pub redis_rss_kib: Option<u64>,
}

#[derive(Serialize)]
pub struct SoakMode {
    pub mode: String,
    pub failure: Option<String>,
    pub load: Option<PhaseReport>,
    pub samples: Vec<Sample>,
    pub rss_after_warmup_kib: Option<u64>,
    pub rss_end_kib: Option<u64>,
    pub rss_max_kib: Option<u64>,
    pub rss_growth: Option<f64>,
    pub fds_min: Option<usize>,
    pub fds_max: Option<usize>,
    pub pass: bool,
}

#[derive(Serialize)]
pub struct SoakReport {
    pub date: String,
    pub command: String,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub sample_s: f64,
    pub vus_per_mode: usize,
    pub lines: usize,
    /// Seconds between reads of every `/metrics`; `None`: never read.
    pub scrape_s: Option<f64>,
    pub modes: Vec<SoakMode>,
}

pub async fn run(
    ctx: &mut Ctx,
    modes: &[String],
    secs: f64,
    machine: &Machine,
    pinning: &[String],
) -> i32 {
    let a = &ctx.args;
    let warm = (secs * 0.2).min(60.0);
    let sample_s = a.sample.min(secs / 6.0).max(0.2);
    let mut stacks = Vec::new();
    let mut results = Vec::new();
    for mode in modes {
        println!("\n=== soak: {mode} ===");
        match Stack::start(ctx, mode, 1, &format!("soak-{mode}")).await {
            Ok(s) => stacks.push((mode.clone(), s)),
            Err(e) => {
                fail_start(ModeReport::new(mode, ctx.lines, 1), &e);
                results.push(failed(mode, &e));
            }
        }
    }
    // Every mode's carts, then every mode's load at once.
    let mut loads = Vec::new();
    for (k, (mode, stack)) in stacks.iter().enumerate() {
        let vus: Vec<Vu> = (0..a.concurrency)
            .map(|i| {
                let mut vu = Vu::new(k * 100_000 + i, stack.target());
                vu.reconnect_every = Some(RECONNECT_EVERY);
                vu
            })
            .collect();
        let (vus, errors) = load::build_all(vus, ctx.lines, a.concurrency).await;
        if !errors.is_empty() {
            loud(&format!(
                "soak {mode}: {} carts failed: {}",
                errors.len(),
                errors[0]
            ));
        }
        let w = window(0.0, secs, stack.pids());
        loads.push(tokio::spawn(w.closed_loop(vus)));
    }
    println!(
        "\nsoak: {} modes at once for {secs} s, {} VUs each; RSS and fds every {sample_s} s (warm-up {warm} s)",
        stacks.len(),
        a.concurrency
    );
    let scraper = a.scrape.map(|every| {
        let admins: Vec<_> = stacks.iter().flat_map(|(_, s)| s.pids().admins).collect();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs_f64(every)).await;
                for addr in &admins {
                    let _ = crate::metrics::fetch_metrics(*addr).await;
                }
            }
        })
    });
    let t0 = Instant::now();
    let mut series: Vec<Vec<Sample>> = vec![Vec::new(); stacks.len()];
    let mut next = t0;
    // Samples at 0, every `sample_s`, and one just before the load ends.
    let mut last = false;
    while !last {
        last = t0.elapsed().as_secs_f64() >= secs - 0.5;
        for (i, (_, stack)) in stacks.iter().enumerate() {
            let pids = stack.pids();
            let pid = pids.servers[0];
            series[i].push(Sample {
                t_s: t0.elapsed().as_secs_f64(),
                rss_kib: procs::rss_kib(pid),
                fds: procs::fd_count(pid),
                redis_rss_kib: pids.redis.first().copied().and_then(procs::rss_kib),
            });
        }
        if let Some(s) = series.first().and_then(|s| s.last()) {
            println!(
                "  t={:>6.1} s  {}",
                s.t_s,
                stacks
                    .iter()
                    .zip(&series)
                    .map(|((m, _), s)| {
                        let last = s.last().copied();
                        format!(
                            "{m}: RSS {} KiB, {} fds",
                            last.and_then(|l| l.rss_kib)
                                .map_or("?".into(), |v| v.to_string()),
                            last.and_then(|l| l.fds)
                                .map_or("?".into(), |v| v.to_string())
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        next += Duration::from_secs_f64(sample_s);
        let end = t0 + Duration::from_secs_f64(secs - 0.5);
        tokio::time::sleep_until(next.min(end).into()).await;
    }
    if let Some(s) = scraper {
        s.abort();
    }
    for (i, ((mode, mut stack), handle)) in stacks.into_iter().zip(loads).enumerate() {
        let mut m = summarize(mode, std::mem::take(&mut series[i]), warm);
        match handle.await {
            Ok((_vus, raw)) => {
                m.load = Some(reduce(ctx, "closed", ctx.args.concurrency, None, &raw))
            }
            Err(e) => m.failure = Some(format!("the load task failed: {e}")),
        }
        if let Some(why) = stack.exited() {
            m.failure = Some(why);
        }
        m.pass = m.failure.is_none()
            && m.load
                .as_ref()
                .is_some_and(|l| l.error_count == 0 && l.requests > 0)
            && m.rss_growth.is_some_and(|g| g <= RSS_GROWTH_TARGET)
            && matches!((m.fds_min, m.fds_max), (Some(lo), Some(hi)) if hi - lo <= FD_SLACK);
        results.push(m);
    }
    let a = &ctx.args;
    let rep = SoakReport {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        command: a.command.clone(),
        duration_s: secs,
        warmup_s: warm,
        sample_s,
        vus_per_mode: a.concurrency,
        lines: ctx.lines,
        scrape_s: a.scrape,
        modes: results,
    };
    let section = markdown(&rep, machine, pinning);
    // Its own section and JSON: `http-bench-soak`, or with `--scrape`
    // `http-bench-soak-scraped`, so that both runs can stand side by side.
    let kind = if a.scrape.is_some() {
        "soak-scraped"
    } else {
        "soak"
    };
    let json = output::json_path(&a.json, kind);
    let marker = format!("http-bench-{kind}");
    let code = output::publish(&a.out, &marker, &section, &json, &rep, &ctx.crate_root);
    println!();
    for m in &rep.modes {
        println!(
            "{} soak {}: {}",
            if m.pass { "PASS" } else { "FAIL" },
            m.mode,
            verdict(m)
        );
    }
    if code != 0 {
        code
    } else if rep.modes.iter().all(|m| m.pass) {
        0
    } else {
        3
    }
}

fn failed(mode: &str, why: &str) -> SoakMode {
    let mut m = summarize(mode.to_string(), Vec::new(), 0.0);
    m.failure = Some(why.lines().next().unwrap_or(why).to_string());
    m
}

/// RSS after the warm-up and at the end, and the fd range after the warm-up.
fn summarize(mode: String, samples: Vec<Sample>, warm: f64) -> SoakMode {
    let after: Vec<&Sample> = samples.iter().filter(|s| s.t_s >= warm).collect();
    let rss_after_warmup_kib = after.first().and_then(|s| s.rss_kib);
    let rss_end_kib = after.last().and_then(|s| s.rss_kib);
    let fds: Vec<usize> = after.iter().filter_map(|s| s.fds).collect();
    SoakMode {
        mode,
        failure: None,
        load: None,
        rss_max_kib: samples.iter().filter_map(|s| s.rss_kib).max(),
        rss_growth: match (rss_after_warmup_kib, rss_end_kib) {
            (Some(a), Some(b)) if a > 0 => Some((b as f64 - a as f64) / a as f64),
            _ => None,
        },
        rss_after_warmup_kib,
        rss_end_kib,
        fds_min: fds.iter().copied().min(),
        fds_max: fds.iter().copied().max(),
        samples,
        pass: false,
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn verdict(m: &SoakMode) -> String {
    if let Some(f) = &m.failure {
        return f.clone();
    }
    format!(
        "RSS {} → {} MiB ({}, target ≤ +{:.0}%), fds {}..{} (target: within {FD_SLACK}), {} errors",
        mib(m.rss_after_warmup_kib),
        mib(m.rss_end_kib),
        m.rss_growth
            .map_or("n/a".into(), |g| format!("{:+.1}%", g * 100.0)),
        RSS_GROWTH_TARGET * 100.0,
        m.fds_min.map_or("?".into(), |v| v.to_string()),
        m.fds_max.map_or("?".into(), |v| v.to_string()),
        m.load
            .as_ref()
            .map_or("?".into(), |l| l.error_count.to_string())
    )
}

/// The section (without its markers).
fn markdown(r: &SoakReport, machine: &Machine, pinning: &[String]) -> String {
    let mut md = String::new();
    let title = if r.scrape_s.is_some() {
        "Soak, with /metrics scraped"
    } else {
        "Soak"
    };
    output::header(&mut md, title, &r.date, &r.command, machine, pinning);
    let _ = writeln!(
        md,
        "**Setup:** every mode at once, one server each (one actix worker, all on the server's CPU, sharing it), for {} s; {} VUs per mode in a closed loop of the main run's mix on carts of {} lines, each VU reconnecting every {RECONNECT_EVERY} requests. Every {} s: the server's VmRSS (`/proc/PID/status`) and open fds (`/proc/PID/fd`). RSS after the warm-up is the first sample at or after {} s. {} Targets: RSS at the end ≤ {:.0}% above it, fds within {FD_SLACK} of each other after the warm-up, no error.\n",
        r.duration_s,
        r.vus_per_mode,
        r.lines,
        r.sample_s,
        r.warmup_s,
        match r.scrape_s {
            Some(s) => format!("Every server's `/metrics` was read every {s} s, as a Prometheus server would."),
            None => "Nothing read the servers' `/metrics` (as when nobody scrapes them, or the admin listener is off).".to_string(),
        },
        RSS_GROWTH_TARGET * 100.0
    );
    let _ = writeln!(
        md,
        "| mode | requests | req/s | p99 ms | errors | RSS after warm-up MiB | RSS at end MiB | growth | RSS max MiB | fds min..max | result |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for m in &r.modes {
        if let Some(f) = &m.failure {
            let _ = writeln!(
                md,
                "| {} | **FAILED**: {f} | | | | | | | | | **FAIL** |",
                m.mode
            );
            continue;
        }
        let l = m.load.as_ref();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}..{} | {} |",
            m.mode,
            l.map_or("n/a".into(), |l| f_int(l.requests as f64)),
            l.map_or("n/a".into(), |l| f_int(l.throughput_rps)),
            l.map_or("n/a".into(), |l| f_ms(l.latency.p99_ms)),
            l.map_or("n/a".into(), |l| l.error_count.to_string()),
            mib(m.rss_after_warmup_kib),
            mib(m.rss_end_kib),
            m.rss_growth
                .map_or("n/a".into(), |g| format!("{:+.1}%", g * 100.0)),
            mib(m.rss_max_kib),
            m.fds_min.map_or("?".into(), |v| v.to_string()),
            m.fds_max.map_or("?".into(), |v| v.to_string()),
            if m.pass { "pass" } else { "**FAIL**" }
        );
    }
    let redis: Vec<String> = r
        .modes
        .iter()
        .filter_map(|m| {
            // The central store's, Redis or Memcached.
            let first = m.samples.iter().find_map(|s| s.redis_rss_kib)?;
            let last = m.samples.iter().rev().find_map(|s| s.redis_rss_kib)?;
            Some(format!(
                "`{}`: {} RSS {} → {} MiB",
                m.mode,
                if store_process(&m.mode) == "redis" {
                    "redis-server"
                } else {
                    "memcached"
                },
                mib(Some(first)),
                mib(Some(last))
            ))
        })
        .collect();
    if !redis.is_empty() {
        let _ = writeln!(md, "\n{}.", redis.join("; "));
    }
    let _ = writeln!(
        md,
        "\nEvery sample: `benches/results/http-soak{}.json`. Server logs: `target/http-bench/soak-*-server.log`.\n",
        if r.scrape_s.is_some() { "-scraped" } else { "" }
    );
    md
}
