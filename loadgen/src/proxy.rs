//! A TCP delay proxy: simulates a network round trip between the server and
//! Redis, because loopback flatters a remote store.
//!
//! Each direction of each connection has a reader thread and a writer
//! thread. The reader stamps every chunk with its arrival time and hands it
//! on at once; the writer holds each chunk until `arrival + delay`, then
//! writes it. Order is preserved and chunks are delayed independently, so
//! pipelined or multiplexed commands are not serialized: the proxy adds
//! latency, not a throughput cap.
//!
//! Plain threads with `std::thread::sleep` (hrtimer, ~50-100 us slack)
//! rather than tokio, whose timer wheel has a 1 ms granularity: a 0.5 ms
//! delay would otherwise become 1 ms.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub struct DelayProxy {
    pub addr: SocketAddr,
    /// The hold applied to each chunk, in nanoseconds (adjustable live).
    hold_ns: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    accept_thread: Option<thread::JoinHandle<()>>,
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards to `upstream`, delaying
    /// every chunk by `one_way` in each direction.
    pub fn start(upstream: SocketAddr, one_way: Duration) -> std::io::Result<DelayProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let hold_ns = Arc::new(AtomicU64::new(one_way.as_nanos() as u64));
        let (stop2, streams2, hold2) = (stop.clone(), streams.clone(), hold_ns.clone());
        let accept_thread = thread::Builder::new()
            .name("delay-proxy-accept".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    // Set up each connection on its own thread, so that a
                    // burst of new connections (a store client filling its
                    // pool) is not set up one after another by this loop:
                    // the upstream connect and four thread spawns each.
                    // That alone did not stop the memcached+rtt mode's
                    // cold-start timeouts (the threads still wait for the
                    // generator's core); the server opening its pool at
                    // start did.
                    let (streams, hold) = (streams2.clone(), hold2.clone());
                    let _ = thread::Builder::new()
                        .name("delay-proxy-conn".into())
                        .stack_size(STACK)
                        .spawn(move || connect(client, upstream, &streams, &hold));
                }
            })?;
        Ok(DelayProxy {
            addr,
            hold_ns,
            stop,
            streams,
            accept_thread: Some(accept_thread),
        })
    }
}

impl DelayProxy {
    /// Sleeping threads wake late (timer slack, scheduling), so the round
    /// trip the proxy adds exceeds 2 x the hold. Adjusts the hold until a
    /// sequential Redis PING through the proxy takes `direct + 2 x target`
    /// (within 3%), and returns the final (direct, via proxy) medians in us.
    pub fn calibrate(&self, redis: SocketAddr, one_way: Duration) -> (Option<f64>, Option<f64>) {
        let direct = redis_ping_median_us(redis, 200);
        let target_added = 2.0 * one_way.as_secs_f64() * 1e6;
        let mut via = redis_ping_median_us(self.addr, 200);
        if let Some(d) = direct {
            for _ in 0..4 {
                let Some(v) = via else { break };
                let added = v - d;
                if target_added <= 0.0 || (added - target_added).abs() <= target_added * 0.03 {
                    break;
                }
                let hold_us = self.hold_ns.load(Ordering::SeqCst) as f64 / 1000.0;
                let new_hold_us = (hold_us - (added - target_added) / 2.0).max(0.0);
                self.hold_ns
                    .store((new_hold_us * 1000.0) as u64, Ordering::SeqCst);
                via = redis_ping_median_us(self.addr, 200);
            }
        }
        (direct, via)
    }

    /// The hold per chunk and direction after calibration.
    pub fn hold(&self) -> Duration {
        Duration::from_nanos(self.hold_ns.load(Ordering::SeqCst))
    }
}

/// Stack of the proxy's threads: they hold one 64 KiB buffer on the heap
/// and little else.
const STACK: usize = 128 * 1024;

/// Connects an accepted client to `upstream` and starts both pipes.
fn connect(
    client: TcpStream,
    upstream: SocketAddr,
    streams: &Mutex<Vec<TcpStream>>,
    hold: &Arc<AtomicU64>,
) {
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    if let (Ok(c), Ok(s)) = (client.try_clone(), server.try_clone()) {
        let mut list = streams.lock().unwrap_or_else(|e| e.into_inner());
        list.push(c);
        list.push(s);
    }
    pipe(&client, &server, hold.clone());
    pipe(&server, &client, hold.clone());
}

/// Copies `from` -> `to`, holding each chunk `hold_ns` from its arrival.
fn pipe(from: &TcpStream, to: &TcpStream, hold_ns: Arc<AtomicU64>) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    let (tx, rx) = mpsc::channel::<Option<(Instant, Vec<u8>)>>();
    let _ = thread::Builder::new()
        .name("delay-proxy-read".into())
        .stack_size(STACK)
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(None);
                        break;
                    }
                    Ok(n) => {
                        if tx.send(Some((Instant::now(), buf[..n].to_vec()))).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    let _ = thread::Builder::new()
        .name("delay-proxy-write".into())
        .stack_size(STACK)
        .spawn(move || {
            for msg in rx {
                match msg {
                    Some((arrived, data)) => {
                        let due = arrived + Duration::from_nanos(hold_ns.load(Ordering::Relaxed));
                        let now = Instant::now();
                        if due > now {
                            thread::sleep(due - now);
                        }
                        if to.write_all(&data).is_err() {
                            break;
                        }
                    }
                    None => break,
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        });
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        for s in self
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(t) = self.accept_thread.take() {
            let _ = t.join();
        }
    }
}

/// Median round trip of `n` sequential Redis `PING`s to `addr`, in
/// microseconds; `None` if Redis does not answer.
pub fn redis_ping_median_us(addr: SocketAddr, n: usize) -> Option<f64> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_nodelay(true).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut buf = [0u8; 64];
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        s.write_all(b"PING\r\n").ok()?;
        let mut got = 0;
        while !buf[..got].ends_with(b"\r\n") {
            let k = s.read(&mut buf[got..]).ok()?;
            if k == 0 {
                return None;
            }
            got += k;
        }
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied()
}
