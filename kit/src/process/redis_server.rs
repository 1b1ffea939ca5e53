//! A private `redis-server`, or the Redis that `REDIS_URL` names.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{ChildGuard, free_port};

/// Makes the command that runs `redis-server`: the program itself, or a
/// wrapper around it (the benchmark pins it with `taskset`).
type Program = Box<dyn Fn() -> Command + Send + Sync>;

/// A private `redis-server` on a free port, without persistence (as the
/// benchmarks and the failover test run it), killed on drop.
///
/// Starting and restarting block the calling thread while they wait for
/// PING: call them from `spawn_blocking` while a server under test shares
/// the runtime.
pub struct RedisServer {
    proc: ChildGuard,
    port: u16,
    dir: TempDir,
    program: Program,
    log: Option<PathBuf>,
}

impl RedisServer {
    /// How long a start may take before it counts as failed.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// Starts one on a free port. Fails loudly when redis-server is missing.
    pub fn start() -> Self {
        Self::start_with(|| Command::new("redis-server"), None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts one on a free port with the command `program` makes, its
    /// output also in `log` when given.
    pub fn start_with(
        program: impl Fn() -> Command + Send + Sync + 'static,
        log: Option<&Path>,
    ) -> Result<Self, String> {
        let program: Program = Box::new(program);
        let mut version = program();
        if version.arg("--version").output().is_err() {
            return Err(format!(
                "redis-server is missing ({version:?}): apt-get install redis-server \
                 (scripts/test installs it), or set REDIS_URL"
            ));
        }
        let dir = tempfile::tempdir().map_err(|e| format!("a temp dir for redis-server: {e}"))?;
        // Another process can take the free port first: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            match launch(&program, port, &dir, log) {
                Ok(proc) => {
                    return Ok(Self {
                        proc,
                        port,
                        dir,
                        program,
                        log: log.map(Path::to_path_buf),
                    });
                }
                Err(output) => last = output,
            }
        }
        Err(format!("redis-server did not start:\n{last}"))
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Sends a signal to the server (`"STOP"` pauses it, `"CONT"` resumes).
    pub fn signal(&self, signal: &str) {
        self.proc.signal(signal);
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Kills the server and starts a new, empty one on the same port: a
    /// restart without persistence.
    pub fn restart(&mut self) {
        self.proc.kill();
        let deadline = Instant::now() + Self::PATIENCE;
        loop {
            match launch(&self.program, self.port, &self.dir, self.log.as_deref()) {
                Ok(proc) => {
                    self.proc = proc;
                    return;
                }
                Err(output) if Instant::now() > deadline => {
                    panic!("redis-server did not restart on {}:\n{output}", self.port)
                }
                // The old socket may linger for a moment.
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

/// Starts redis-server on `port` and waits for its PONG.
fn launch(
    program: &Program,
    port: u16,
    dir: &TempDir,
    log: Option<&Path>,
) -> Result<ChildGuard, String> {
    let mut cmd = program();
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--protected-mode", "no", "--daemonize", "no"])
        .args(["--loglevel", "warning"])
        .arg("--dir")
        .arg(dir.path());
    let mut proc = ChildGuard::start("redis-server", cmd, log, |_| {})?;
    proc.wait_until(RedisServer::PATIENCE, "answered PING", || ping(port))?;
    Ok(proc)
}

/// True when a Redis server answers PING on `port`.
pub(super) fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

/// The Redis a run uses: the one `REDIS_URL` names when it is set, else a
/// private server.
pub struct Redis {
    url: String,
    server: Option<RedisServer>,
}

impl Redis {
    /// `REDIS_URL` when it is set and not empty, else the server `start`
    /// returns.
    pub fn from_env_or(
        start: impl FnOnce() -> Result<RedisServer, String>,
    ) -> Result<Self, String> {
        match std::env::var("REDIS_URL") {
            Ok(url) if !url.is_empty() => Ok(Self { url, server: None }),
            _ => start().map(Self::private),
        }
    }

    /// A private server.
    pub fn private(server: RedisServer) -> Self {
        Self {
            url: server.url(),
            server: Some(server),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The private server, when it is one.
    pub fn server(&self) -> Option<&RedisServer> {
        self.server.as_ref()
    }

    /// Takes the private server out (to restart it off the runtime).
    pub fn take_server(&mut self) -> Option<RedisServer> {
        self.server.take()
    }

    /// Puts a private server back after [`Redis::take_server`].
    pub fn put_server(&mut self, server: RedisServer) {
        self.server = Some(server);
    }

    /// The socket address of `redis://[user:pass@]host[:port][/db]`.
    pub fn addr(&self) -> Option<SocketAddr> {
        let rest = self.url.strip_prefix("redis://")?;
        let host_port = rest.rsplit('@').next()?.split('/').next()?;
        let host_port = if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:6379")
        };
        host_port.to_socket_addrs().ok()?.next()
    }
}
