//! Child processes (the server under test, a private redis-server), CPU
//! pinning and CPU accounting from /proc.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pids of every live child, so that a panic hook or a signal can kill them.
static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

pub fn kill_all_children() {
    let pids: Vec<u32> = CHILDREN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .drain(..)
        .collect();
    for pid in pids {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Kills and reaps its child when dropped (also on panic unwinding).
pub struct ChildGuard {
    child: Child,
}

impl ChildGuard {
    fn new(child: Child) -> ChildGuard {
        CHILDREN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(child.id());
        ChildGuard { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let pid = self.child.id();
        let _ = self.child.kill();
        let _ = self.child.wait();
        CHILDREN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|p| *p != pid);
    }
}

/// `taskset` from util-linux, if it runs here.
pub fn have_taskset() -> bool {
    Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// A command, prefixed with `taskset -c <cpu>` when pinning is on.
pub fn pinned_command(program: &Path, cpu: Option<usize>) -> Command {
    match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Pins this process (every thread it has now; later threads inherit).
pub fn pin_self(cpu: usize) -> Result<String, String> {
    let out = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .output()
        .map_err(|e| format!("taskset: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout)
            .trim()
            .replace('\n', "; "))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// utime + stime of a process (all its threads), in clock ticks.
pub fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the ")" closing the command name: state is index 0,
    // utime (field 14) index 11, stime (field 15) index 12.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// (busy, total) ticks of each CPU (`cpu0`, `cpu1`, ...) from /proc/stat.
/// Busy counts user, nice, system, irq, softirq and steal.
pub fn per_cpu_ticks() -> Vec<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            let get = |i: usize| v.get(i).copied().unwrap_or(0);
            let busy = get(0) + get(1) + get(2) + get(5) + get(6) + get(7);
            (busy, busy + get(3) + get(4))
        })
        .collect()
}

/// The last lines a child printed, for error messages.
#[derive(Clone, Default)]
pub struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    fn push(&self, line: String) {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() == 20 {
            q.pop_front();
        }
        q.push_back(line);
    }
    pub fn last(&self) -> Option<String> {
        let q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        q.iter().rev().find(|l| !l.trim().is_empty()).cloned()
    }
    pub fn text(&self) -> String {
        let q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        q.iter()
            .map(|l| format!("    | {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Drains a child's output into `log` (never let a full pipe block the
/// server), keeps a tail, and reports the `listening on` line.
fn drain<R: Read + Send + 'static>(
    out: R,
    log: Arc<Mutex<File>>,
    tail: Tail,
    tag: &'static str,
    found: tokio::sync::mpsc::UnboundedSender<String>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            {
                let mut f = log.lock().unwrap_or_else(|e| e.into_inner());
                let _ = writeln!(f, "[{tag}] {line}");
            }
            if line.contains("listening on http://") {
                let _ = found.send(line.clone());
            }
            tail.push(line);
        }
    });
}

pub struct Server {
    pub guard: ChildGuard,
    pub addr: SocketAddr,
    pub host_header: String,
    pub log_path: PathBuf,
}

pub struct ServerSpec<'a> {
    pub mode: &'a str,
    pub bin: &'a Path,
    pub crate_root: &'a Path,
    pub env: Vec<(String, String)>,
    pub cpu: Option<usize>,
    pub log_dir: &'a Path,
}

/// Starts the server, waits for its `listening on` line and a 200 from
/// `/readyz`. Any failure is an `Err` with the reason and the output tail.
pub async fn start_server(spec: ServerSpec<'_>) -> Result<Server, String> {
    let _ = std::fs::create_dir_all(spec.log_dir);
    let log_path = spec
        .log_dir
        .join(format!("{}-server.log", spec.mode.replace('+', "-")));
    let log =
        Arc::new(Mutex::new(File::create(&log_path).map_err(|e| {
            format!("cannot create {}: {e}", log_path.display())
        })?));
    let mut cmd = pinned_command(spec.bin, spec.cpu);
    cmd.args(["serve", "--config", "config.toml", "--port", "0"])
        .current_dir(spec.crate_root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot spawn {}: {e}", spec.bin.display()))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let tail = Tail::default();
    if let Some(o) = child.stdout.take() {
        drain(o, log.clone(), tail.clone(), "stdout", tx.clone());
    }
    if let Some(e) = child.stderr.take() {
        drain(e, log.clone(), tail.clone(), "stderr", tx);
    }
    let mut guard = ChildGuard::new(child);
    let fail = |why: String, tail: &Tail| {
        format!(
            "{why}{}\nlog {}; last output:\n{}",
            tail.last().map(|l| format!(": {l}")).unwrap_or_default(),
            log_path.display(),
            tail.text()
        )
    };

    // The listening line.
    let deadline = Instant::now() + Duration::from_secs(30);
    let line = loop {
        if let Ok(line) = rx.try_recv() {
            break line;
        }
        if let Some(status) = guard.exited() {
            tokio::time::sleep(Duration::from_millis(100)).await; // let the drains finish
            return Err(fail(
                format!("server exited ({status}) before listening"),
                &tail,
            ));
        }
        if Instant::now() > deadline {
            return Err(fail("no `listening on` line within 30 s".into(), &tail));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let url = line[line.find("http://").unwrap_or(0) + 7..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string();
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| fail(format!("cannot parse a port from {line:?}"), &tail))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let host_header = format!("127.0.0.1:{port}");

    // /readyz.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = guard.exited() {
            return Err(fail(
                format!("server exited ({status}) before ready"),
                &tail,
            ));
        }
        let req = crate::client::build_request("GET", "/readyz", &host_header, None, None);
        let attempt = tokio::time::timeout(Duration::from_secs(2), async {
            let mut c = crate::client::Conn::connect(addr)
                .await
                .map_err(|e| e.to_string())?;
            c.roundtrip(&req).await.map_err(|e| e.to_string())
        })
        .await;
        let last = match attempt {
            Ok(Ok(r)) if r.status == 200 => break,
            Ok(Ok(r)) => format!("/readyz {}: {}", r.status, String::from_utf8_lossy(&r.body)),
            Ok(Err(e)) => e,
            Err(_) => "/readyz timed out".to_string(),
        };
        if Instant::now() > deadline {
            return Err(fail(format!("not ready within 30 s ({last})"), &tail));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Server {
        guard,
        addr,
        host_header,
        log_path,
    })
}

pub struct Redis {
    pub guard: Option<ChildGuard>,
    pub addr: SocketAddr,
    pub url: String,
}

/// Starts a private `redis-server` on a free port, or uses `REDIS_URL`.
pub fn start_redis(cpu: Option<usize>, log_dir: &Path) -> Result<Redis, String> {
    if let Ok(url) = std::env::var("REDIS_URL") {
        let addr = redis_url_addr(&url).ok_or_else(|| format!("cannot parse REDIS_URL {url:?}"))?;
        return Ok(Redis {
            guard: None,
            addr,
            url,
        });
    }
    let port = free_port().map_err(|e| e.to_string())?;
    let _ = std::fs::create_dir_all(log_dir);
    let log = File::create(log_dir.join("redis-server.log")).map_err(|e| e.to_string())?;
    let mut cmd = pinned_command(Path::new("redis-server"), cpu);
    cmd.args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args([
            "--protected-mode",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot spawn redis-server (apt-get install redis-server?): {e}"))?;
    let mut guard = ChildGuard::new(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = guard.exited() {
            return Err(format!(
                "redis-server exited ({status}); see {}/redis-server.log",
                log_dir.display()
            ));
        }
        if redis_ping(addr) {
            break;
        }
        if Instant::now() > deadline {
            return Err("redis-server did not answer PING within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Redis {
        guard: Some(guard),
        addr,
        url: format!("redis://127.0.0.1:{port}"),
    })
}

fn redis_ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok()
        && s.read(&mut buf)
            .map(|n| buf[..n].starts_with(b"+PONG"))
            .unwrap_or(false)
}

/// `redis://[user:pass@]host:port[/db]` -> a socket address.
pub fn redis_url_addr(url: &str) -> Option<SocketAddr> {
    use std::net::ToSocketAddrs;
    let rest = url.strip_prefix("redis://")?;
    let hostport = rest.rsplit('@').next()?.split('/').next()?;
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:6379")
    };
    hostport.to_socket_addrs().ok()?.next()
}
