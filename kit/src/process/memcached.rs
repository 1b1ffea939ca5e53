//! A private `memcached`, or the Memcached that `MEMCACHED_URL` names.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{ChildGuard, free_port};

/// Makes the command that runs `memcached`: the program itself, or a
/// wrapper around it (the benchmark pins it with `taskset`).
type Program = Box<dyn Fn() -> Command + Send + Sync>;

/// A private `memcached` on a free port of 127.0.0.1 (TCP only), killed on
/// drop. Memcached keeps nothing on disk: a restart starts empty.
///
/// Starting and restarting block the calling thread while they wait for
/// `version`: call them from `spawn_blocking` while a server under test
/// shares the runtime.
pub struct MemcachedServer {
    proc: ChildGuard,
    port: u16,
    /// What the command line adds to the port and address (memory, item
    /// size), kept for restarts.
    args: Vec<String>,
    program: Program,
    log: Option<PathBuf>,
}

impl MemcachedServer {
    /// How long a start may take before it counts as failed.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// Starts one on a free port, with 64 MB of memory. Fails loudly when
    /// memcached is missing.
    pub fn start() -> Self {
        Self::start_args(&[]).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts one with more arguments, such as `["-m", "1", "-I", "512k"]`
    /// for a small one that evicts soon. memcached 1.6.18 can crash after
    /// refusing an item with `-I` below 512k: use 512k or more.
    pub fn start_args(args: &[&str]) -> Result<Self, String> {
        Self::start_with(|| Command::new("memcached"), args, None)
    }

    /// Starts one on a free port with the command `program` makes and
    /// `args`, its output also in `log` when given.
    pub fn start_with(
        program: impl Fn() -> Command + Send + Sync + 'static,
        args: &[&str],
        log: Option<&Path>,
    ) -> Result<Self, String> {
        let program: Program = Box::new(program);
        let mut version = program();
        if version.arg("-V").output().is_err() {
            return Err(format!(
                "memcached is missing ({version:?}): apt-get install memcached \
                 (scripts/test installs it), or set MEMCACHED_URL"
            ));
        }
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        // Another process can take the free port first: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            match launch(&program, port, &args, log) {
                Ok(proc) => {
                    return Ok(Self {
                        proc,
                        port,
                        args,
                        program,
                        log: log.map(Path::to_path_buf),
                    });
                }
                Err(output) => last = output,
            }
        }
        Err(format!("memcached did not start:\n{last}"))
    }

    /// `tcp://127.0.0.1:PORT`, the form `memcached.url` takes.
    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
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

    /// Kills the server and starts a new, empty one on the same port, with
    /// the same arguments.
    pub fn restart(&mut self) {
        self.proc.kill();
        let deadline = Instant::now() + Self::PATIENCE;
        loop {
            match launch(&self.program, self.port, &self.args, self.log.as_deref()) {
                Ok(proc) => {
                    self.proc = proc;
                    return;
                }
                Err(output) if Instant::now() > deadline => {
                    panic!("memcached did not restart on {}:\n{output}", self.port)
                }
                // The old socket may linger for a moment.
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

/// Starts memcached on `port` and waits until it answers `version`.
fn launch(
    program: &Program,
    port: u16,
    args: &[String],
    log: Option<&Path>,
) -> Result<ChildGuard, String> {
    let mut cmd = program();
    // TCP on loopback only: no UDP port (-U 0), nothing reachable from
    // other machines.
    cmd.args(["-p", &port.to_string(), "-U", "0", "-l", "127.0.0.1"])
        .args(args);
    if running_as_root() {
        // memcached refuses to run as root unless told which user to be.
        cmd.args(["-u", "root"]);
    }
    let mut proc = ChildGuard::start("memcached", cmd, log, |_| {})?;
    proc.wait_until(MemcachedServer::PATIENCE, "answered version", || {
        answers_version(port)
    })?;
    Ok(proc)
}

/// Whether this process runs as root (the owner of `/proc/self` is the
/// effective user).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// True when a Memcached server answers `version` on `port`.
fn answers_version(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut line = String::new();
    stream.write_all(b"version\r\n").is_ok()
        && BufReader::new(stream).read_line(&mut line).is_ok()
        && line.starts_with("VERSION ")
}

/// The Memcached a run uses: the one `MEMCACHED_URL` names when it is set,
/// else a private server.
pub struct Memcached {
    url: String,
    server: Option<MemcachedServer>,
}

impl Memcached {
    /// `MEMCACHED_URL` (`tcp://host:port`) when it is set and not empty,
    /// else the server `start` returns.
    pub fn from_env_or(
        start: impl FnOnce() -> Result<MemcachedServer, String>,
    ) -> Result<Self, String> {
        match std::env::var("MEMCACHED_URL") {
            Ok(url) if !url.is_empty() => Ok(Self { url, server: None }),
            _ => start().map(Self::private),
        }
    }

    /// A private server.
    pub fn private(server: MemcachedServer) -> Self {
        Self {
            url: server.url(),
            server: Some(server),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The private server, when it is one.
    pub fn server(&self) -> Option<&MemcachedServer> {
        self.server.as_ref()
    }

    /// Takes the private server out (to restart it off the runtime).
    pub fn take_server(&mut self) -> Option<MemcachedServer> {
        self.server.take()
    }

    /// Puts a private server back after [`Memcached::take_server`].
    pub fn put_server(&mut self, server: MemcachedServer) {
        self.server = Some(server);
    }

    /// The socket address of `tcp://host:port`.
    pub fn addr(&self) -> Option<SocketAddr> {
        let host_port = self.url.strip_prefix("tcp://")?;
        host_port.to_socket_addrs().ok()?.find(SocketAddr::is_ipv4)
    }
}
