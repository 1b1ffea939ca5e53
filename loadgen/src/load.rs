//! The load phases: carts built for every virtual user, the closed loop
//! for peak throughput, the open loop for latency at a fixed offered rate,
//! and the token sizes by cart size.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::stats::{CpuPids, PhaseRaw, Stats};
use crate::vu::{Target, Vu};

/// Every request gives up after this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Get,
    Add,
    Patch,
    Remove,
    ReAdd,
}

pub const OP_KINDS: [OpKind; 5] = [
    OpKind::Get,
    OpKind::Add,
    OpKind::Patch,
    OpKind::Remove,
    OpKind::ReAdd,
];

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "GET /cart",
            OpKind::Add => "POST /cart/items (existing sku)",
            OpKind::Patch => "PATCH /cart/items/{line}",
            OpKind::Remove => "DELETE /cart/items/{line}",
            OpKind::ReAdd => "POST /cart/items (re-add)",
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

/// `413 cart_too_large` from a problem+json body, or just the status.
pub fn describe_error(status: u16, body: &[u8]) -> String {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(str::to_string));
    match code {
        Some(c) => format!("{status} {c}"),
        None => status.to_string(),
    }
}

/// Builds carts for many VUs concurrently (at most `parallel` at once).
pub async fn build_all(mut vus: Vec<Vu>, lines: usize, parallel: usize) -> (Vec<Vu>, Vec<String>) {
    let mut done = Vec::with_capacity(vus.len());
    let mut errors = Vec::new();
    while !vus.is_empty() {
        let batch: Vec<Vu> = vus.drain(..parallel.min(vus.len())).collect();
        let handles: Vec<_> = batch
            .into_iter()
            .map(|mut vu| {
                tokio::spawn(async move {
                    let r = vu.build(lines).await;
                    let r = match r {
                        Ok(()) => vu.sync_after_build().await,
                        Err(e) => Err(e),
                    };
                    (vu, r)
                })
            })
            .collect();
        for h in handles {
            match h.await {
                Ok((vu, Ok(()))) => done.push(vu),
                Ok((vu, Err(e))) => {
                    errors.push(format!("VU {}: {e}", vu.id));
                    done.push(vu);
                }
                Err(e) => errors.push(format!("build task failed: {e}")),
            }
        }
    }
    (done, errors)
}

/// When a phase measures, and whose CPU.
#[derive(Clone)]
pub struct Window {
    /// Before the measured window: requests run, and are not counted.
    pub warmup: Duration,
    pub duration: Duration,
    pub pids: CpuPids,
}

impl Window {
    /// Closed loop: every VU sends its next request as soon as the previous one
    /// is answered. Only requests *started* inside the measured window count.
    pub async fn closed_loop(self, vus: Vec<Vu>) -> (Vec<Vu>, PhaseRaw) {
        let stats = shared_stats();
        let connects_before: u64 = vus.iter().map(Vu::connects).sum();
        let measure_start = Instant::now() + self.warmup;
        let end = measure_start + self.duration;
        let handles: Vec<_> = vus
            .into_iter()
            .map(|mut vu| {
                let stats = stats.clone();
                tokio::spawn(async move {
                    while Instant::now() < end {
                        let t0 = Instant::now();
                        let out = vu.step().await;
                        let failed = out.result.is_err();
                        if t0 >= measure_start && t0 < end {
                            let lat = t0.elapsed();
                            stats
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .record(lat, &out);
                        }
                        if failed {
                            // A dead server refuses connections at once: do
                            // not spin.
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                    vu
                })
            })
            .collect();
        let (vus, sampled) = self
            .sample(
                measure_start,
                end,
                handles,
                end + REQUEST_TIMEOUT * 2,
                connects_before,
            )
            .await;
        let phase = sampled.phase(take_stats(stats), self.duration, 0, 0);
        (vus, phase)
    }

    /// Open loop: requests are scheduled at fixed intervals by a dedicated
    /// thread (sub-millisecond sleeps, unlike tokio's 1 ms timer wheel) and
    /// taken by whichever VU of the pool is free. Latency runs from each
    /// request's *scheduled* time, so a stalled server cannot hide its queue
    /// (no coordinated omission, as in wrk2).
    pub async fn open_loop(self, vus: Vec<Vu>, rate: f64) -> (Vec<Vu>, PhaseRaw) {
        let stats = shared_stats();
        let connects_before: u64 = vus.iter().map(Vu::connects).sum();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, bool)>();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let start = Instant::now() + Duration::from_millis(20);
        let measure_start = start + self.warmup;
        let end = measure_start + self.duration;
        let drain_deadline = end + REQUEST_TIMEOUT;
        let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));

        let dispatcher = std::thread::Builder::new()
            .name("open-loop-dispatch".into())
            .spawn(move || {
                let mut scheduled = 0u64;
                let mut i: u64 = 0;
                let mut next = start;
                loop {
                    let now = Instant::now();
                    while next <= now && next < end {
                        let measured = next >= measure_start;
                        if measured {
                            scheduled += 1;
                        }
                        if tx.send((next, measured)).is_err() {
                            return scheduled;
                        }
                        i += 1;
                        next = start + interval.mul_f64(i as f64);
                    }
                    if next >= end {
                        return scheduled;
                    }
                    std::thread::sleep(next - Instant::now().min(next));
                }
            })
            .expect("spawn dispatcher thread");

        let handles: Vec<_> = vus
            .into_iter()
            .map(|mut vu| {
                let stats = stats.clone();
                let rx = rx.clone();
                tokio::spawn(async move {
                    loop {
                        if Instant::now() > drain_deadline {
                            break;
                        }
                        let item = {
                            let mut guard = rx.lock().await;
                            tokio::time::timeout_at(drain_deadline.into(), guard.recv()).await
                        };
                        let Ok(Some((scheduled_at, measured))) = item else {
                            break;
                        };
                        let out = vu.step().await;
                        let done = Instant::now();
                        let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
                        if measured {
                            s.record(done - scheduled_at, &out);
                        }
                        if done >= measure_start && done < end && out.is_ok() {
                            s.ok_in_window += 1;
                        }
                    }
                    vu
                })
            })
            .collect();

        let (vus, sampled) = self
            .sample(
                measure_start,
                end,
                handles,
                drain_deadline + REQUEST_TIMEOUT,
                connects_before,
            )
            .await;
        let scheduled = tokio::task::spawn_blocking(move || dispatcher.join().unwrap_or(0))
            .await
            .unwrap_or(0);
        let stats = take_stats(stats);
        let recorded = stats.per_op_count.iter().sum::<u64>();
        let unfinished = scheduled.saturating_sub(recorded);
        let phase = sampled.phase(stats, self.duration, scheduled, unfinished);
        (vus, phase)
    }
}

/// What a phase samples around its measured window.
struct Sampled {
    cpu_before: crate::stats::CpuSample,
    cpu_after: crate::stats::CpuSample,
    cache_before: Option<crate::metrics::CacheCounters>,
    cache_after: Option<crate::metrics::CacheCounters>,
    /// TCP connections the VUs opened during the phase.
    connects: u64,
}

impl Sampled {
    /// The phase's raw figures: these samples, with its `stats`, `wall`
    /// time, and (open loop) the requests `scheduled` and left `unfinished`.
    fn phase(self, stats: Stats, wall: Duration, scheduled: u64, unfinished: u64) -> PhaseRaw {
        PhaseRaw {
            stats,
            wall,
            cpu_before: self.cpu_before,
            cpu_after: self.cpu_after,
            scheduled,
            unfinished,
            connects: self.connects,
            cache_before: self.cache_before,
            cache_after: self.cache_after,
        }
    }
}

impl Window {
    /// Samples CPU and the servers' metrics at the start and the end of the
    /// measured window, then waits for the VUs (up to `deadline`) and counts
    /// the connections they opened beyond `connects_before`.
    async fn sample(
        &self,
        measure_start: Instant,
        end: Instant,
        handles: Vec<tokio::task::JoinHandle<Vu>>,
        deadline: Instant,
        connects_before: u64,
    ) -> (Vec<Vu>, Sampled) {
        tokio::time::sleep_until(measure_start.into()).await;
        let cpu_before = self.pids.sample();
        let cache_before = crate::metrics::scrape(&self.pids.admins).await;
        tokio::time::sleep_until(end.into()).await;
        let cpu_after = self.pids.sample();
        let cache_after = crate::metrics::scrape(&self.pids.admins).await;
        let vus = join_vus(handles, deadline).await;
        let connects = vus
            .iter()
            .map(Vu::connects)
            .sum::<u64>()
            .saturating_sub(connects_before);
        let sampled = Sampled {
            cpu_before,
            cpu_after,
            cache_before,
            cache_after,
            connects,
        };
        (vus, sampled)
    }
}

fn shared_stats() -> Arc<Mutex<Stats>> {
    Arc::new(Mutex::new(Stats::new()))
}

fn take_stats(s: Arc<Mutex<Stats>>) -> Stats {
    match Arc::try_unwrap(s) {
        Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
        Err(arc) => {
            // A straggler still holds it: copy what we have.
            let g = arc.lock().unwrap_or_else(|e| e.into_inner());
            Stats {
                all: g.all.clone(),
                per_op: g.per_op.clone(),
                per_op_count: g.per_op_count,
                statuses: g.statuses.clone(),
                errors: g.errors.clone(),
                expected: g.expected.clone(),
                bytes_out: g.bytes_out,
                bytes_in: g.bytes_in,
                responses: g.responses,
                ok: g.ok,
                ok_in_window: g.ok_in_window,
            }
        }
    }
}

async fn join_vus(handles: Vec<tokio::task::JoinHandle<Vu>>, deadline: Instant) -> Vec<Vu> {
    let mut vus = Vec::with_capacity(handles.len());
    for h in handles {
        let abort = h.abort_handle();
        match tokio::time::timeout_at(deadline.into(), h).await {
            Ok(Ok(vu)) => vus.push(vu),
            Ok(Err(e)) => eprintln!("  ! a VU task failed: {e}"),
            Err(_) => {
                abort.abort();
                eprintln!("  ! a VU task did not finish in time and was aborted");
            }
        }
    }
    vus
}

#[derive(Serialize, Clone)]
pub struct SizeRow {
    pub lines_requested: usize,
    pub lines_built: usize,
    /// Length of the cart cookie's value (the credential) after the build.
    pub cookie_value_bytes: Option<usize>,
    /// `Set-Cookie: ...` header line, as the browser receives it.
    pub set_cookie_header_bytes: Option<usize>,
    /// `Cookie: ...` header line the client sends back on every request.
    pub cookie_request_header_bytes: Option<usize>,
    /// Why the build stopped early, if it did.
    pub stopped: Option<String>,
}

/// Builds one fresh cart per size and reads the credential it gets.
pub async fn measure_sizes(target: Arc<Target>, sizes: &[usize], id_base: usize) -> Vec<SizeRow> {
    let mut rows = Vec::new();
    for (k, &n) in sizes.iter().enumerate() {
        let mut vu = Vu::new(id_base + k, target.clone());
        let (built, stopped) = match vu.build_upto(n).await {
            Ok(b) => (b, None),
            Err(e) => (vu.line_count(), Some(e)),
        };
        let (cookie_value_bytes, set_cookie_header_bytes) = vu.cookie_lens();
        rows.push(SizeRow {
            lines_requested: n,
            lines_built: built,
            cookie_value_bytes,
            set_cookie_header_bytes,
            cookie_request_header_bytes: vu.cookie_header_len(),
            stopped,
        });
    }
    rows
}
