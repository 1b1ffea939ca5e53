//! The bad clients, on raw sockets: slowloris connections that send one
//! header byte a second, connections that never send anything or go idle
//! after one request, and writes whose body stops mid-way.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How one bad connection ended.
#[derive(Clone, Serialize)]
pub struct Ended {
    /// From the moment that matters (connect, the end of the response, the
    /// last body byte) to the server's response or close, in seconds.
    pub after_s: f64,
    /// The status of the server's response, or `None` when it closed
    /// without one (or never, within the deadline: see `open`).
    pub status: Option<u16>,
    /// Still open when the probe gave up.
    pub open: bool,
}

/// What the slowloris connections saw.
#[derive(Default, Serialize)]
pub struct SlowStats {
    pub opened: u64,
    pub connect_errors: u64,
    pub bytes_sent: u64,
    /// Every connection the server ended during the attack.
    pub ended: Vec<Ended>,
    /// The most connections open at once, and the fewest once all had
    /// connected.
    pub max_open: usize,
    pub min_open_after_ramp: Option<usize>,
}

/// The slowloris attack: `n` connections, each sending one byte of a
/// request head that never ends every second; a connection the server
/// closes is opened again at once, so that `n` stay open.
pub struct Attack {
    stop: watch::Sender<bool>,
    open: Arc<AtomicUsize>,
    stats: Arc<Mutex<SlowStats>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Attack {
    /// Starts the connections, spread over the first second.
    pub fn start(addr: SocketAddr, host: &str, n: usize) -> Attack {
        let (stop, rx) = watch::channel(false);
        let open = Arc::new(AtomicUsize::new(0));
        let stats = Arc::new(Mutex::new(SlowStats::default()));
        let tasks = (0..n)
            .map(|i| {
                let stagger = Duration::from_secs_f64(i as f64 / n.max(1) as f64);
                let head = format!("GET /cart HTTP/1.1\r\nHost: {host}\r\nX-Slow: ").into_bytes();
                tokio::spawn(slow_conn(
                    addr,
                    head,
                    stagger,
                    rx.clone(),
                    open.clone(),
                    stats.clone(),
                ))
            })
            .collect();
        Attack {
            stop,
            open,
            stats,
            tasks,
        }
    }

    /// Connections open now.
    pub fn open_now(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Records the open count (for the min and max of the report).
    pub fn sample(&self, after_ramp: bool) {
        let n = self.open_now();
        let mut s = lock(&self.stats);
        s.max_open = s.max_open.max(n);
        if after_ramp {
            s.min_open_after_ramp = Some(s.min_open_after_ramp.map_or(n, |m| m.min(n)));
        }
    }

    /// Stops every connection and returns what they saw.
    pub async fn stop(self) -> SlowStats {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        std::mem::take(&mut *lock(&self.stats))
    }
}

async fn slow_conn(
    addr: SocketAddr,
    head: Vec<u8>,
    stagger: Duration,
    mut stop: watch::Receiver<bool>,
    open: Arc<AtomicUsize>,
    stats: Arc<Mutex<SlowStats>>,
) {
    tokio::time::sleep(stagger).await;
    while !*stop.borrow() {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            lock(&stats).connect_errors += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        open.fetch_add(1, Ordering::Relaxed);
        lock(&stats).opened += 1;
        let t0 = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut sent = 0usize;
        let mut buf = [0u8; 512];
        let ended = loop {
            tokio::select! {
                _ = stop.changed() => break None,
                r = stream.read(&mut buf) => break Some(match r {
                    Ok(n) if n > 0 => Ended { after_s: t0.elapsed().as_secs_f64(), status: status_of(&buf[..n]), open: false },
                    _ => Ended { after_s: t0.elapsed().as_secs_f64(), status: None, open: false },
                }),
                _ = tick.tick() => {
                    // The head, then one more byte of a header value that
                    // never ends.
                    let byte = head.get(sent).copied().unwrap_or(b'a');
                    if stream.write_all(&[byte]).await.is_err() {
                        break Some(Ended { after_s: t0.elapsed().as_secs_f64(), status: None, open: false });
                    }
                    sent += 1;
                }
            }
        };
        open.fetch_sub(1, Ordering::Relaxed);
        let mut s = lock(&stats);
        s.bytes_sent += sent as u64;
        if let Some(e) = ended {
            s.ended.push(e);
        }
    }
}

/// A connection that sends nothing at all: when does the server close it?
pub async fn silent(addr: SocketAddr, deadline: Duration) -> Ended {
    let t0 = Instant::now();
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return closed(t0, None);
    };
    wait_close(&mut stream, t0, deadline).await
}

/// A connection that makes one complete request, then goes idle: when does
/// the server close it (its keep-alive)?
pub async fn idle_after_request(addr: SocketAddr, host: &str, deadline: Duration) -> Ended {
    let t0 = Instant::now();
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return closed(t0, None);
    };
    let req = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
    if stream.write_all(req.as_bytes()).await.is_err() {
        return closed(t0, None);
    }
    // The response, whole (small, one read usually).
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return closed(t0, status_of(&got)),
        }
    }
    wait_close(&mut stream, Instant::now(), deadline).await
}

/// A write whose body stops after a few bytes: how long until the server
/// answers, and with what?
pub async fn stalled_body(addr: SocketAddr, host: &str, deadline: Duration) -> Ended {
    let t0 = Instant::now();
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return closed(t0, None);
    };
    let req = format!(
        "POST /cart/items HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{{\"sku\":\"A"
    );
    if stream.write_all(req.as_bytes()).await.is_err() {
        return closed(t0, None);
    }
    wait_close(&mut stream, Instant::now(), deadline).await
}

/// Waits for the server's first bytes or its close, up to `deadline`.
async fn wait_close(stream: &mut TcpStream, t0: Instant, deadline: Duration) -> Ended {
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(deadline, stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => closed(t0, status_of(&buf[..n])),
        Ok(_) => closed(t0, None),
        Err(_) => Ended {
            after_s: t0.elapsed().as_secs_f64(),
            status: None,
            open: true,
        },
    }
}

fn closed(t0: Instant, status: Option<u16>) -> Ended {
    Ended {
        after_s: t0.elapsed().as_secs_f64(),
        status,
        open: false,
    }
}

/// The status of `HTTP/1.1 408 ...`.
fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(bytes.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

/// Counts of each outcome: `408`, `closed`, `still open`.
pub fn outcomes(ended: &[Ended]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in ended {
        let k = match (e.open, e.status) {
            (true, _) => "still open".to_string(),
            (false, Some(s)) => s.to_string(),
            (false, None) => "closed without a response".to_string(),
        };
        *m.entry(k).or_default() += 1;
    }
    m
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
