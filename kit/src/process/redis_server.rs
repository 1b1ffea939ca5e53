//! A private `redis-server`, or the Redis that `REDIS_URL` names.

use std::io::{BufRead, Read};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::process::Command;

use super::daemon::{Kind, Server, Target, ask};

/// redis-server as a [`Kind`] of private server: `redis://` URLs,
/// `REDIS_URL`.
pub enum RedisKind {}

/// A private `redis-server` on a free port, without persistence (as the
/// benchmarks and the failover test run it), killed on drop; its working
/// directory goes with it. Its port, signals, kill and restart are
/// [`super::Daemon`]'s.
pub type RedisServer = Server<RedisKind>;

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
        // Held by the arguments, so it is removed with the server.
        let dir = tempfile::tempdir().map_err(|e| format!("a temp dir for redis-server: {e}"))?;
        Self::launch(
            program,
            move |cmd, port| {
                cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--save", "", "--appendonly", "no"])
                    .args(["--protected-mode", "no", "--daemonize", "no"])
                    .args(["--loglevel", "warning"])
                    .arg("--dir")
                    .arg(dir.path());
            },
            log,
        )
    }
}

impl Kind for RedisKind {
    const NAME: &'static str = "redis-server";
    const ENV: &'static str = "REDIS_URL";
    const SCHEME: &'static str = "redis";

    fn serves(port: u16, pid: u32) -> bool {
        serves(port, pid)
    }

    /// The socket address of `redis://[user:pass@]host[:port][/db]`.
    fn addr(url: &str) -> Option<SocketAddr> {
        let rest = url.strip_prefix("redis://")?;
        let host_port = rest.rsplit('@').next()?.split('/').next()?;
        let host_port = if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:6379")
        };
        host_port.to_socket_addrs().ok()?.next()
    }
}

/// True when the Redis that answers on `port` is process `pid` (see
/// [`Kind::serves`]): asks `INFO server` for its `process_id`. The cluster's
/// nodes are checked the same way.
pub(super) fn serves(port: u16, pid: u32) -> bool {
    let Some(mut reader) = ask(port, b"INFO server\r\n") else {
        return false;
    };
    // A bulk string: `$<length>`, then that many bytes of `key:value` lines.
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
