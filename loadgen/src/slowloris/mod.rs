//! `--slowloris`: what slow and idle clients cost the normal ones.
//!
//! On one mode's server (token-paseto by default), with the timeouts of
//! config.toml (and any `CARTSEAL__SERVER__…` override in the environment):
//!
//! 1. **baseline**: the open loop at a fixed rate (`--rate`, else 50% of a
//!    closed-loop peak measured first);
//! 2. **attack**: `--slow-conns` (500) connections each send one header byte
//!    a second, reopened as soon as the server closes them, while the same
//!    open loop runs; its p99 must stay within 2× the baseline's. Meanwhile,
//!    probes time how long the server keeps a silent connection
//!    (`server.client_request_timeout_ms`) and an idle keep-alive one
//!    (`server.keep_alive_secs`);
//! 3. **stalled bodies**: writes whose body stops mid-way must each cost
//!    one `server.body_timeout_ms` (a 408) while the open loop keeps its
//!    rate without errors.
//!
//! Timing is never asserted in the test suite (a shared machine); here it
//! is measured and judged against the targets, and printed as PASS or FAIL.

mod clients;
mod report;

use std::time::Duration;

use crate::mode::{Ctx, fail_start, settle};
use crate::report::{Machine, ModeReport};
use crate::servers::Stack;
use crate::vu::Vu;
use crate::workload::{reduce, window};
use crate::{load, output};

pub use report::MARKER;
use report::{Probes, SlowReport, Timeouts};

/// Probes of each kind of idle connection, and stalled writes.
const PROBES: usize = 8;
const STALLED: usize = 16;

pub async fn run(ctx: &mut Ctx, mode: &str, machine: &Machine, pinning: &[String]) -> i32 {
    let timeouts = Timeouts::from_config(&ctx.crate_root.join("config.toml"));
    println!(
        "\n=== slow clients against {mode}: request head {} ms, keep-alive {} s, body {} ms ===",
        timeouts.client_request_ms, timeouts.keep_alive_s, timeouts.body_ms
    );
    if let Some(note) = settle(ctx.args.settle).await {
        println!("  ! {note}");
    }
    let mut stack = match Stack::start(ctx, mode, 1, &format!("slowloris-{mode}")).await {
        Ok(s) => s,
        Err(e) => {
            fail_start(ModeReport::new(mode, ctx.lines, 1), &e);
            return 1;
        }
    };
    let target = stack.target();
    let pids = stack.pids();
    let a = &ctx.args;

    // Carts for the pool.
    let vus: Vec<Vu> = (0..a.pool).map(|i| Vu::new(i, target.clone())).collect();
    let (mut pool, errors) = load::build_all(vus, ctx.lines, a.concurrency).await;
    if errors.len() >= pool.len() {
        crate::mode::loud(&format!("no VU could build its cart: {errors:?}"));
        return 1;
    }

    // The rate: given, or half the closed-loop peak of this server.
    let rate = match ctx.rate {
        Some(r) => r,
        None => {
            let closed: Vec<Vu> = pool.drain(..a.concurrency.min(pool.len())).collect();
            println!("  closed loop for the peak: {} VUs", closed.len());
            let (back, raw) = window(a.warmup, a.duration, pids.clone())
                .closed_loop(closed)
                .await;
            pool.extend(back);
            let peak = reduce(ctx, "closed", a.concurrency, None, &raw).throughput_rps;
            (peak * 0.5).max(50.0).round()
        }
    };
    let a = &ctx.args;
    let open = |secs: f64| window(a.open_warmup, secs, pids.clone());

    println!("  baseline: open loop at {rate} req/s, {} s", a.duration);
    let (pool, raw) = open(a.duration).open_loop(pool, rate).await;
    let baseline = reduce(ctx, "open", a.pool, Some(rate), &raw);

    // The attack, and the idle probes beside it.
    let a = &ctx.args;
    let addr = target.addr;
    let host = target.host.clone();
    println!("  attack: {} slow connections", a.slow_conns);
    let attack = clients::Attack::start(addr, &host, a.slow_conns);
    let probe_deadline = Duration::from_secs_f64(timeouts.keep_alive_s as f64 + 10.0);
    let silent: Vec<_> = (0..PROBES)
        .map(|_| tokio::spawn(clients::silent(addr, probe_deadline)))
        .collect();
    let idle: Vec<_> = (0..PROBES)
        .map(|_| {
            let host = host.clone();
            tokio::spawn(
                async move { clients::idle_after_request(addr, &host, probe_deadline).await },
            )
        })
        .collect();
    // Let every connection open before measuring.
    let ramp_end = std::time::Instant::now() + Duration::from_secs(3);
    while attack.open_now() < a.slow_conns && std::time::Instant::now() < ramp_end {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    attack.sample(false);
    // Long enough for every slow connection to be closed once.
    let attack_secs = a
        .duration
        .max(timeouts.client_request_ms as f64 / 1000.0 + 2.0);
    println!(
        "  {} slow connections open; open loop at {rate} req/s, {attack_secs} s",
        attack.open_now()
    );
    let sample_until = std::time::Instant::now() + Duration::from_secs_f64(attack_secs);
    let sampler = async {
        while std::time::Instant::now() < sample_until {
            tokio::time::sleep(Duration::from_millis(250)).await;
            attack.sample(true);
        }
    };
    let ((pool, raw), ()) = tokio::join!(open(attack_secs).open_loop(pool, rate), sampler);
    let under_attack = reduce(ctx, "open", a.pool, Some(rate), &raw);
    let slow = attack.stop().await;

    // Stalled bodies.
    let a = &ctx.args;
    let stall_secs = a.duration.max(timeouts.body_ms as f64 / 1000.0 + 2.0);
    println!(
        "  stalled bodies: {STALLED} writes stop mid-body; open loop at {rate} req/s, {stall_secs} s"
    );
    let stalls: Vec<_> = (0..STALLED)
        .map(|_| {
            let host = host.clone();
            let deadline = Duration::from_secs_f64(timeouts.body_ms as f64 / 1000.0 + 10.0);
            tokio::spawn(async move { clients::stalled_body(addr, &host, deadline).await })
        })
        .collect();
    let (_pool, raw) = open(stall_secs).open_loop(pool, rate).await;
    let during_stalls = reduce(ctx, "open", a.pool, Some(rate), &raw);

    println!(
        "  waiting for the idle probes (up to {} s)",
        probe_deadline.as_secs()
    );
    let probes = Probes {
        silent: join(silent).await,
        idle_keep_alive: join(idle).await,
        stalled_body: join(stalls).await,
    };
    let exited = stack.exited();
    drop(stack);

    let a = &ctx.args;
    let rep = SlowReport {
        mode: mode.to_string(),
        rate,
        slow_conns: a.slow_conns,
        timeouts,
        baseline,
        under_attack,
        during_stalls,
        slow,
        probes,
        exited,
    };
    let verdicts = rep.verdicts();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    let section = report::markdown(&rep, &verdicts, &date, &a.command, machine, pinning);
    let json = output::json_path(&a.json, "slowloris");
    let code = output::publish(&a.out, MARKER, &section, &json, &rep, &ctx.crate_root);
    println!();
    for v in &verdicts {
        println!("{}", v.line());
    }
    if code != 0 {
        code
    } else if verdicts.iter().all(|v| v.pass) {
        0
    } else {
        3
    }
}

async fn join(tasks: Vec<tokio::task::JoinHandle<clients::Ended>>) -> Vec<clients::Ended> {
    let mut out = Vec::new();
    for t in tasks {
        if let Ok(e) = t.await {
            out.push(e);
        }
    }
    out
}
