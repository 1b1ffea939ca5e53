//! One mode's run: its processes started (servers.rs), the workload run
//! against them, and a failure reported rather than ending the run.

use std::path::PathBuf;
use std::time::Duration;

use crate::args::Args;
use crate::procs;
use crate::report::ModeReport;
use crate::servers::Stack;
use crate::workload::{WorkloadError, workload};

pub struct Ctx {
    pub args: Args,
    pub crate_root: PathBuf,
    pub log_dir: PathBuf,
    pub server_cpu: Option<usize>,
    pub generator_cpu: Option<usize>,
    pub clk_tck: f64,
    pub rate: Option<f64>,
    pub rate_source: String,
    /// Lines per VU cart in the current pass (one of `args.sizes`).
    pub lines: usize,
    /// How nginx routes in the current pass (`--replicas`).
    pub routing: crate::process::Routing,
}

pub fn loud(msg: &str) {
    let bar = "!".repeat(78);
    eprintln!("\n{bar}\n!! {}\n{bar}\n", msg.replace('\n', "\n!! "));
}

/// On a shared machine, waits (up to `max` seconds) until neither core is
/// more than 20% busy over half a second, so that a mode does not start in
/// the middle of someone else's compile. Returns a note if it gave up.
pub async fn settle(max: f64) -> Option<String> {
    if max <= 0.0 {
        return None;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs_f64(max);
    let mut said = false;
    loop {
        let a = procs::per_cpu_ticks();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let b = procs::per_cpu_ticks();
        let busy: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(a, b)| {
                let total = b.1.saturating_sub(a.1).max(1);
                b.0.saturating_sub(a.0) as f64 / total as f64
            })
            .collect();
        let max_busy = busy.iter().cloned().fold(0.0, f64::max);
        if max_busy <= 0.20 {
            return None;
        }
        if std::time::Instant::now() > deadline {
            return Some(format!(
                "the machine was still busy (CPU {:.0}% on its busiest core) after waiting {max} s for it to quiet down",
                max_busy * 100.0
            ));
        }
        if !said {
            println!(
                "  waiting up to {max} s for other processes to quiet down (busiest core {:.0}%)",
                max_busy * 100.0
            );
            said = true;
        }
    }
}

/// Runs one mode on `replicas` servers at `ctx.lines` lines: the whole
/// workload when `full`, else the closed loop only (the size sweep, the
/// replicas run).
pub async fn run_mode(ctx: &mut Ctx, mode: &str, replicas: usize, full: bool) -> ModeReport {
    let mut rep = ModeReport::new(mode, ctx.lines, replicas);
    println!(
        "\n=== {mode}, {} lines{} ===",
        ctx.lines,
        if replicas > 1 {
            format!(", {replicas} replicas behind nginx")
        } else {
            String::new()
        }
    );
    if let Some(note) = settle(ctx.args.settle).await {
        println!("  ! {note}");
        rep.notes.push(note);
    }
    let mut stack = match Stack::start(ctx, mode, replicas, mode).await {
        Ok(s) => s,
        Err(e) => return fail_start(rep, &e),
    };
    rep.env = stack.env.clone();
    rep.notes.append(&mut stack.notes);
    rep.store_rtt = stack.store_rtt;

    let result = workload(ctx, mode, &mut rep, stack.target(), stack.pids(), full).await;
    match result {
        Ok(()) => {}
        Err(WorkloadError::CartTooLarge(e)) => {
            println!("  {mode} cannot hold carts of {} lines: {e}", ctx.lines);
            rep.status = "cart too large".into();
            rep.failure = Some(e);
        }
        Err(WorkloadError::Failed(e)) => {
            loud(&format!("mode {mode}: {e}"));
            rep.status = "failed".into();
            rep.failure = Some(e);
        }
    }
    if let Some(why) = stack.exited() {
        loud(&format!("mode {mode}: {why}"));
        if rep.status == "ok" {
            rep.status = "failed".into();
            rep.failure = Some(why);
        } else {
            rep.notes.push(why);
        }
    }
    drop(stack);
    rep
}

pub fn fail_start(mut rep: ModeReport, why: &str) -> ModeReport {
    // The first line of a failure is what the tables show: put the cause
    // there when it is known.
    let why = if why.contains("unknown field `cache`") && rep.mode.ends_with("-nocache") {
        format!(
            "this build has no `[cache]` section (the verified-token cache), so `CARTSEAL__CACHE__MAX_ENTRIES` is refused\n{why}"
        )
    } else {
        why.to_string()
    };
    loud(&format!(
        "mode {} FAILED TO START; skipping it.\n{why}",
        rep.mode
    ));
    rep.status = "failed to start".into();
    rep.failure = Some(why);
    rep
}
