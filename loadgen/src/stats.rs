//! What a phase counts: latencies per operation, statuses, errors, bytes,
//! and the CPU ticks of the processes taking part.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::load::OP_KINDS;
use crate::vu::Outcome;

/// Latency histogram in microseconds, 1 us .. 120 s, 3 significant digits.
fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("histogram bounds")
}

pub struct Stats {
    pub all: Histogram<u64>,
    pub per_op: Vec<Histogram<u64>>,
    pub per_op_count: [u64; 5],
    pub statuses: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub expected: BTreeMap<String, u64>,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub responses: u64,
    /// 2xx responses, plus the non-2xx the mode makes inevitable.
    pub ok: u64,
    /// Open loop: successful responses that *completed* inside the measured
    /// window, whenever they were scheduled: the throughput delivered.
    pub ok_in_window: u64,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            all: new_hist(),
            per_op: (0..OP_KINDS.len()).map(|_| new_hist()).collect(),
            per_op_count: [0; 5],
            statuses: BTreeMap::new(),
            errors: BTreeMap::new(),
            expected: BTreeMap::new(),
            bytes_out: 0,
            bytes_in: 0,
            responses: 0,
            ok: 0,
            ok_in_window: 0,
        }
    }

    pub fn record(&mut self, latency: Duration, out: &Outcome) {
        let us = (latency.as_nanos() / 1000).clamp(1, 120_000_000) as u64;
        self.all.saturating_record(us);
        self.per_op[out.kind.index()].saturating_record(us);
        self.per_op_count[out.kind.index()] += 1;
        self.bytes_out += out.bytes_out as u64;
        match out.result {
            Ok(status) => {
                self.responses += 1;
                self.bytes_in += out.bytes_in as u64;
                *self.statuses.entry(status.to_string()).or_default() += 1;
                if out.is_ok() {
                    self.ok += 1;
                }
                if !(200..300).contains(&status) {
                    let key = out.error_key.clone().unwrap_or_else(|| status.to_string());
                    let map = if out.expected {
                        &mut self.expected
                    } else {
                        &mut self.errors
                    };
                    *map.entry(key).or_default() += 1;
                }
            }
            Err(e) => *self.errors.entry(e.to_string()).or_default() += 1,
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// CPU ticks of the processes we account for, at one instant.
#[derive(Clone, Default)]
pub struct CpuSample {
    /// Every replica's, added up.
    pub server: Option<u64>,
    pub redis: Option<u64>,
    pub nginx: Option<u64>,
    pub generator: Option<u64>,
    /// (busy, total) ticks of each CPU from /proc/stat.
    pub per_cpu: Vec<(u64, u64)>,
    pub at: Option<Instant>,
}

/// The processes of a mode that a phase watches.
#[derive(Clone)]
pub struct CpuPids {
    /// The replicas (one unless `--replicas`).
    pub servers: Vec<u32>,
    /// The central store's: one redis-server or memcached, or a Redis
    /// Cluster's six redis-servers (added up).
    pub redis: Vec<u32>,
    pub nginx: Option<u32>,
    /// The replicas' admin listeners, whose token-cache counters a phase
    /// reads before and after its window.
    pub admins: Vec<std::net::SocketAddr>,
}

impl CpuPids {
    pub fn sample(&self) -> CpuSample {
        let servers: Option<Vec<u64>> = self
            .servers
            .iter()
            .map(|p| crate::procs::cpu_ticks(Some(*p)))
            .collect();
        CpuSample {
            server: servers.map(|t| t.iter().sum()),
            redis: if self.redis.is_empty() {
                None
            } else {
                self.redis
                    .iter()
                    .map(|p| crate::procs::cpu_ticks(Some(*p)))
                    .sum()
            },
            nginx: self.nginx.and_then(|p| crate::procs::cpu_ticks(Some(p))),
            generator: crate::procs::cpu_ticks(None),
            per_cpu: crate::procs::per_cpu_ticks(),
            at: Some(Instant::now()),
        }
    }
}

/// What a phase measured, before reduction to the report.
pub struct PhaseRaw {
    pub stats: Stats,
    pub wall: Duration,
    pub cpu_before: CpuSample,
    pub cpu_after: CpuSample,
    /// Open loop only: requests scheduled in the measured window, and how
    /// many of them were never sent or never finished by the drain deadline.
    pub scheduled: u64,
    pub unfinished: u64,
    /// TCP connections the VUs opened during the phase (warm-up included):
    /// 0 when every keep-alive connection survived.
    pub connects: u64,
    /// The replicas' token-cache counters at the window's start and end.
    pub cache_before: Option<crate::metrics::CacheCounters>,
    pub cache_after: Option<crate::metrics::CacheCounters>,
}
