//! Virtual users, the request mix, and the two load phases (closed loop for
//! peak throughput, open loop for latency at a fixed offered rate).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::client::{Conn, CookieUpdate, FetchError, Response, build_request, encode_segment};

/// Every request gives up after this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Never add above this quantity (the server's default `max_quantity`).
const MAX_QUANTITY: u32 = 999;

const COLORS: [&str; 8] = [
    "red", "green", "blue", "black", "white", "navy", "olive", "teal",
];
const SIZES: [&str; 6] = ["XS", "S", "M", "L", "XL", "XXL"];

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
    fn index(self) -> usize {
        self as usize
    }
}

pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
}

struct LineState {
    sku: String,
    /// The line's properties as a JSON object.
    props: String,
    /// The server's line key, from the CartView.
    line: Option<String>,
    qty: u32,
    present: bool,
}

impl LineState {
    fn add_body(&self, quantity: u32) -> String {
        format!(
            r#"{{"sku":"{}","quantity":{quantity},"properties":{}}}"#,
            self.sku, self.props
        )
    }
}

#[derive(Clone, Copy)]
enum Op {
    Get,
    Resync,
    Add(usize),
    Patch(usize, u32),
    Remove(usize),
    ReAdd(usize),
}

/// What one request came to.
pub struct Outcome {
    pub kind: OpKind,
    /// Ok(status) or Err(error class).
    pub result: Result<u16, &'static str>,
    /// `<status> <problem code>` for a non-2xx.
    pub error_key: Option<String>,
    /// A non-2xx that the mode makes inevitable (`none` keeps no cart, so
    /// a PATCH or DELETE of a line gets 404): reported apart from errors.
    pub expected: bool,
    pub bytes_out: usize,
    pub bytes_in: usize,
}

impl Outcome {
    /// A 2xx, or a non-2xx the mode makes inevitable.
    pub fn is_ok(&self) -> bool {
        matches!(self.result, Ok(s) if (200..300).contains(&s)) || self.expected
    }
}

/// One virtual user: its own connection, its own cart, its own cookie.
pub struct Vu {
    pub id: usize,
    target: Arc<Target>,
    conn: Option<Conn>,
    cookie: Option<String>,
    /// Length of the last cart `Set-Cookie` value and header line received.
    pub cookie_value_len: Option<usize>,
    pub set_cookie_header_len: Option<usize>,
    lines: Vec<LineState>,
    pending_readd: Option<usize>,
    resync: bool,
    /// The server keeps no cart between requests (the `none` mode): the VU
    /// keeps its own model of the cart and never re-reads it.
    pub stateless: bool,
    rng: u64,
    /// TCP connections opened (1 for a VU that kept its keep-alive).
    pub connects: u64,
}

impl Vu {
    pub fn new(id: usize, target: Arc<Target>) -> Vu {
        Vu {
            id,
            target,
            conn: None,
            cookie: None,
            cookie_value_len: None,
            set_cookie_header_len: None,
            lines: Vec::new(),
            pending_readd: None,
            resync: false,
            stateless: false,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (id as u64).wrapping_mul(0xD134_2543_DE82_EF95),
            connects: 0,
        }
    }

    fn rand(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.rand() % n as u64) as usize
    }

    pub fn cookie_header_len(&self) -> Option<usize> {
        self.cookie.as_ref().map(|c| "Cookie: ".len() + c.len() + 2)
    }

    /// Sends one request with a timeout over the whole exchange, retrying
    /// once on a fresh connection if a reused one was closed by the server
    /// while idle (nothing of the response was read).
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        json: Option<&str>,
    ) -> (Result<Response, &'static str>, usize) {
        let req = build_request(
            method,
            path,
            &self.target.host,
            self.cookie.as_deref(),
            json,
        );
        let res = tokio::time::timeout(REQUEST_TIMEOUT, self.send_inner(&req)).await;
        let res = match res {
            Ok(r) => r,
            Err(_) => {
                self.conn = None;
                Err("timeout")
            }
        };
        if let Ok(r) = &res {
            match &r.cookie {
                Some(CookieUpdate::Set {
                    pair,
                    value_len,
                    header_len,
                }) => {
                    self.cookie = Some(pair.clone());
                    self.cookie_value_len = Some(*value_len);
                    self.set_cookie_header_len = Some(*header_len);
                }
                Some(CookieUpdate::Clear) => self.cookie = None,
                None => {}
            }
        }
        (res, req.len())
    }

    async fn send_inner(&mut self, req: &[u8]) -> Result<Response, &'static str> {
        for _attempt in 0..2 {
            let fresh = self.conn.is_none();
            if fresh {
                self.connects += 1;
                match Conn::connect(self.target.addr).await {
                    Ok(c) => self.conn = Some(c),
                    Err(_) => return Err("connect error"),
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                return Err("connect error");
            };
            match conn.roundtrip(req).await {
                Ok(r) => {
                    if r.close {
                        self.conn = None;
                    }
                    return Ok(r);
                }
                Err(e) => {
                    self.conn = None;
                    match e {
                        FetchError::ClosedBeforeResponse if !fresh => continue,
                        FetchError::ClosedBeforeResponse | FetchError::Io(_) => {
                            return Err("io error");
                        }
                        FetchError::Protocol(_) => return Err("protocol error"),
                    }
                }
            }
        }
        Err("io error")
    }

    /// Builds the cart to `n` lines (two properties each). Every add must
    /// succeed; then the line keys are read from the CartView.
    pub async fn build(&mut self, n: usize) -> Result<(), String> {
        self.build_upto(n).await.map(|_| ())
    }

    /// Adds lines until `n` or the first refusal; returns how many succeeded
    /// and, on a refusal, why.
    pub async fn build_upto(&mut self, n: usize) -> Result<usize, String> {
        for i in self.lines.len()..n {
            let line = LineState {
                sku: format!("SKU-{}-{}", self.id, i),
                props: format!(
                    r#"{{"color":"{}","size":"{}"}}"#,
                    COLORS[(self.id + i) % COLORS.len()],
                    SIZES[(self.id * 7 + i) % SIZES.len()]
                ),
                line: None,
                qty: 1,
                present: true,
            };
            let body = line.add_body(1);
            let (res, _) = self.send("POST", "/cart/items", Some(&body)).await;
            match res {
                Ok(r) if (200..300).contains(&r.status) => {
                    // Line keys: from this response if the server echoes
                    // the cart (it does), so that even a store-less mode
                    // knows them.
                    let mut line = line;
                    if let Some(items) = parse_items(&r.body) {
                        line.line = items
                            .into_iter()
                            .find(|it| it.sku == line.sku)
                            .map(|it| it.line);
                    }
                    self.lines.push(line);
                }
                Ok(r) => {
                    return Err(format!(
                        "POST /cart/items (line {}) -> {}",
                        i + 1,
                        describe_error(r.status, &r.body)
                    ));
                }
                Err(e) => return Err(format!("POST /cart/items (line {}) -> {e}", i + 1)),
            }
        }
        Ok(self.lines.len())
    }

    async fn read_cart(&mut self) -> Result<Vec<u8>, String> {
        let (res, _) = self.send("GET", "/cart", None).await;
        match res {
            Ok(r) if r.status == 200 => Ok(r.body),
            Ok(r) => Err(format!(
                "GET /cart -> {}",
                describe_error(r.status, &r.body)
            )),
            Err(e) => Err(format!("GET /cart -> {e}")),
        }
    }

    fn apply_view(&mut self, body: &[u8]) -> usize {
        let Some(items) = parse_items(body) else {
            return 0;
        };
        for l in &mut self.lines {
            l.present = false;
        }
        for it in &items {
            if let Some(l) = self.lines.iter_mut().find(|l| l.sku == it.sku) {
                l.line = Some(it.line.clone());
                l.qty = it.quantity;
                l.present = true;
            }
        }
        self.pending_readd = self.lines.iter().position(|l| !l.present);
        items.len()
    }

    /// After the build: reads the cart back. If the server kept none of
    /// this VU's lines (the `none` mode: no session layer), the VU adopts
    /// the cart the server shows to everyone (its fixed template) as its
    /// own, tracks it locally and never re-reads it; with an empty cart it
    /// keeps its own model and expects 404 for line operations.
    pub async fn sync_after_build(&mut self) -> Result<(), String> {
        let body = self.read_cart().await?;
        let items = parse_items(&body).unwrap_or_default();
        let mine = items
            .iter()
            .any(|it| self.lines.iter().any(|l| l.sku == it.sku));
        if mine || self.lines.is_empty() {
            self.apply_view(&body);
            return Ok(());
        }
        self.stateless = true;
        self.pending_readd = None;
        self.resync = false;
        if items.is_empty() {
            for l in &mut self.lines {
                l.present = true;
            }
        } else {
            self.lines = items
                .into_iter()
                .map(|it| LineState {
                    sku: it.sku,
                    props: it.props,
                    line: Some(it.line),
                    qty: it.quantity,
                    present: true,
                })
                .collect();
        }
        Ok(())
    }

    pub fn line_count(&self) -> usize {
        self.lines.iter().filter(|l| l.present).count()
    }

    fn choose(&mut self) -> Op {
        if self.resync {
            return Op::Resync;
        }
        if let Some(i) = self.pending_readd {
            return Op::ReAdd(i);
        }
        let present: usize = self.line_count();
        if present == 0 {
            return Op::Get;
        }
        let r = self.below(100);
        let pick = {
            let k = self.below(present);
            self.lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.present)
                .nth(k)
                .map(|(i, _)| i)
                .unwrap_or(0)
        };
        let keyed = self.lines[pick].line.is_some();
        if r < 70 {
            Op::Get
        } else if r < 90 {
            if self.lines[pick].qty < MAX_QUANTITY {
                Op::Add(pick)
            } else {
                Op::Patch(pick, 1)
            }
        } else if !keyed {
            // No line key known (should not happen): read the cart instead.
            Op::Resync
        } else if r < 98 {
            let k = 1 + self.below(10) as u32;
            Op::Patch(pick, k)
        } else {
            Op::Remove(pick)
        }
    }

    /// One request of the measured mix.
    pub async fn step(&mut self) -> Outcome {
        let op = self.choose();
        let (kind, method, path, body) = match op {
            Op::Get | Op::Resync => (OpKind::Get, "GET", "/cart".to_string(), None),
            Op::Add(i) => (
                OpKind::Add,
                "POST",
                "/cart/items".into(),
                Some(self.lines[i].add_body(1)),
            ),
            Op::ReAdd(i) => (
                OpKind::ReAdd,
                "POST",
                "/cart/items".into(),
                Some(self.lines[i].add_body(1)),
            ),
            Op::Patch(i, k) => (
                OpKind::Patch,
                "PATCH",
                self.line_path(i),
                Some(format!(r#"{{"quantity":{k}}}"#)),
            ),
            Op::Remove(i) => (OpKind::Remove, "DELETE", self.line_path(i), None),
        };
        let (res, bytes_out) = self.send(method, &path, body.as_deref()).await;
        let mut out = Outcome {
            kind,
            result: Err("io error"),
            error_key: None,
            expected: false,
            bytes_out,
            bytes_in: 0,
        };
        match res {
            Err(e) => {
                out.result = Err(e);
                self.resync = !self.stateless;
            }
            Ok(r) => {
                out.result = Ok(r.status);
                out.bytes_in = r.bytes_in;
                let expected = self.stateless && r.status == 404;
                if expected {
                    out.expected = true;
                    out.error_key = Some(describe_error(r.status, &r.body));
                }
                if (200..300).contains(&r.status) || expected {
                    match op {
                        Op::Get => {}
                        Op::Resync if self.stateless => self.resync = false,
                        Op::Resync => {
                            self.resync = false;
                            self.apply_view(&r.body);
                        }
                        Op::Add(i) => self.lines[i].qty += 1,
                        Op::Patch(i, k) => self.lines[i].qty = k,
                        Op::Remove(i) => {
                            self.lines[i].present = false;
                            self.pending_readd = Some(i);
                        }
                        Op::ReAdd(i) => {
                            let l = &mut self.lines[i];
                            l.present = true;
                            l.qty = 1;
                            self.pending_readd = self.lines.iter().position(|l| !l.present);
                        }
                    }
                } else {
                    out.error_key = Some(describe_error(r.status, &r.body));
                    // The cart may differ from what we think: re-read it
                    // (pointless when the server keeps no cart).
                    self.resync = !self.stateless;
                }
            }
        }
        out
    }

    fn line_path(&self, i: usize) -> String {
        format!(
            "/cart/items/{}",
            encode_segment(self.lines[i].line.as_deref().unwrap_or("unknown"))
        )
    }
}

/// One item of a CartView, as far as the benchmark needs it.
struct Item {
    sku: String,
    line: String,
    quantity: u32,
    /// The properties as a JSON object.
    props: String,
}

fn parse_items(body: &[u8]) -> Option<Vec<Item>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let items = v.get("items")?.as_array()?;
    Some(
        items
            .iter()
            .filter_map(|it| {
                Some(Item {
                    sku: it.get("sku")?.as_str()?.to_string(),
                    line: match it.get("line")? {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                    quantity: it.get("quantity").and_then(|q| q.as_u64()).unwrap_or(1) as u32,
                    props: match it.get("properties") {
                        Some(p @ serde_json::Value::Object(_)) => p.to_string(),
                        _ => "{}".into(),
                    },
                })
            })
            .collect(),
    )
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
    pub server: Option<u64>,
    pub redis: Option<u64>,
    pub generator: Option<u64>,
    /// (busy, total) ticks of each CPU from /proc/stat.
    pub per_cpu: Vec<(u64, u64)>,
    pub at: Option<Instant>,
}

#[derive(Clone, Copy)]
pub struct CpuPids {
    pub server: u32,
    pub redis: Option<u32>,
}

impl CpuPids {
    pub fn sample(&self) -> CpuSample {
        CpuSample {
            server: crate::procs::cpu_ticks(Some(self.server)),
            redis: self.redis.and_then(|p| crate::procs::cpu_ticks(Some(p))),
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

/// Closed loop: every VU sends its next request as soon as the previous one
/// is answered. Only requests *started* inside the measured window count.
pub async fn closed_loop(
    vus: Vec<Vu>,
    warmup: Duration,
    duration: Duration,
    pids: CpuPids,
) -> (Vec<Vu>, PhaseRaw) {
    let stats = shared_stats();
    let connects_before: u64 = vus.iter().map(|v| v.connects).sum();
    let measure_start = Instant::now() + warmup;
    let end = measure_start + duration;
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
    tokio::time::sleep_until(measure_start.into()).await;
    let cpu_before = pids.sample();
    tokio::time::sleep_until(end.into()).await;
    let cpu_after = pids.sample();
    let vus = join_vus(handles, end + REQUEST_TIMEOUT * 2).await;
    let connects = vus
        .iter()
        .map(|v| v.connects)
        .sum::<u64>()
        .saturating_sub(connects_before);
    (
        vus,
        PhaseRaw {
            stats: take_stats(stats),
            wall: duration,
            cpu_before,
            cpu_after,
            scheduled: 0,
            unfinished: 0,
            connects,
        },
    )
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

/// Open loop: requests are scheduled at fixed intervals by a dedicated
/// thread (sub-millisecond sleeps, unlike tokio's 1 ms timer wheel) and
/// taken by whichever VU of the pool is free. Latency runs from each
/// request's *scheduled* time, so a stalled server cannot hide its queue
/// (no coordinated omission, as in wrk2).
pub async fn open_loop(
    vus: Vec<Vu>,
    rate: f64,
    warmup: Duration,
    duration: Duration,
    pids: CpuPids,
) -> (Vec<Vu>, PhaseRaw) {
    let stats = shared_stats();
    let connects_before: u64 = vus.iter().map(|v| v.connects).sum();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, bool)>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let start = Instant::now() + Duration::from_millis(20);
    let measure_start = start + warmup;
    let end = measure_start + duration;
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

    tokio::time::sleep_until(measure_start.into()).await;
    let cpu_before = pids.sample();
    tokio::time::sleep_until(end.into()).await;
    let cpu_after = pids.sample();
    let vus = join_vus(handles, drain_deadline + REQUEST_TIMEOUT).await;
    let connects = vus
        .iter()
        .map(|v| v.connects)
        .sum::<u64>()
        .saturating_sub(connects_before);
    let scheduled = tokio::task::spawn_blocking(move || dispatcher.join().unwrap_or(0))
        .await
        .unwrap_or(0);
    let stats = take_stats(stats);
    let recorded = stats.per_op_count.iter().sum::<u64>();
    (
        vus,
        PhaseRaw {
            unfinished: scheduled.saturating_sub(recorded),
            connects,
            stats,
            wall: duration,
            cpu_before,
            cpu_after,
            scheduled,
        },
    )
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
        rows.push(SizeRow {
            lines_requested: n,
            lines_built: built,
            cookie_value_bytes: vu.cookie.as_ref().and(vu.cookie_value_len),
            set_cookie_header_bytes: vu.cookie.as_ref().and(vu.set_cookie_header_len),
            cookie_request_header_bytes: vu.cookie_header_len(),
            stopped,
        });
    }
    rows
}
