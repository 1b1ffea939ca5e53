//! A private `redis-server`, or the Redis that `REDIS_URL` names.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use super::ChildGuard;
use super::daemon::{Daemon, Launch, Private, Target};

/// A private `redis-server` on a free port, without persistence (as the
/// benchmarks and the failover test run it), killed on drop. Its port,
/// signals, kill and restart are [`Daemon`]'s.
pub struct RedisServer {
    daemon: Daemon,
    /// Its working directory, removed with it.
    _dir: TempDir,
}

impl RedisServer {
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
        let dir = tempfile::tempdir().map_err(|e| format!("a temp dir for redis-server: {e}"))?;
        let path = dir.path().to_path_buf();
        let launch: Launch = Box::new(move |mut cmd, port, log| {
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--protected-mode", "no", "--daemonize", "no"])
                .args(["--loglevel", "warning"])
                .arg("--dir")
                .arg(&path);
            let mut proc = ChildGuard::start("redis-server", cmd, log, |_| {})?;
            let pid = proc.pid();
            proc.wait_until(Daemon::PATIENCE, "answered on its port", || {
                serves(port, pid)
            })?;
            Ok(proc)
        });
        let daemon = Daemon::start(
            "redis-server",
            Box::new(program),
            "--version",
            "apt-get install redis-server (scripts/test installs it), or set REDIS_URL",
            launch,
            log,
        )?;
        Ok(Self { daemon, _dir: dir })
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.daemon.port())
    }
}

impl std::ops::Deref for RedisServer {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl std::ops::DerefMut for RedisServer {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}

impl Private for RedisServer {
    const ENV: &'static str = "REDIS_URL";
    fn url(&self) -> String {
        RedisServer::url(self)
    }
}

/// True when the Redis that answers on `port` is process `pid`. Not just
/// any Redis: another test's may have taken the port between
/// [`super::free_port`] and this one's bind, and then answer in its place
/// while this one exits.
pub(super) fn serves(port: u16, pid: u32) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"INFO server\r\n").is_err() {
        return false;
    }
    // A bulk string: `$<length>`, then that many bytes of `key:value` lines.
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    let Some(length) = reader
        .read_line(&mut head)
        .ok()
        .and_then(|_| head.trim_end().strip_prefix('$')?.parse::<usize>().ok())
    else {
        return false;
    };
    let mut info = vec![0u8; length];
    if reader.read_exact(&mut info).is_err() {
        return false;
    }
    let expected = format!("process_id:{pid}");
    String::from_utf8_lossy(&info)
        .lines()
        .any(|line| line.trim_end() == expected)
}

/// The Redis a run uses: the one `REDIS_URL` names when it is set, else a
/// private server.
pub type Redis = Target<RedisServer>;

impl Redis {
    /// The socket address of `redis://[user:pass@]host[:port][/db]`.
    pub fn addr(&self) -> Option<SocketAddr> {
        let rest = self.url().strip_prefix("redis://")?;
        let host_port = rest.rsplit('@').next()?.split('/').next()?;
        let host_port = if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:6379")
        };
        host_port.to_socket_addrs().ok()?.next()
    }
}
