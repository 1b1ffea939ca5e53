//! A private `memcached`, or the Memcached that `MEMCACHED_URL` names.

use std::io::BufRead;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use super::daemon::{Kind, Server, Target, ask};

/// memcached as a [`Kind`] of private server: TCP on loopback, `tcp://`
/// URLs, `MEMCACHED_URL`.
pub enum MemcachedKind {}

/// A private `memcached` on a free port of 127.0.0.1 (TCP only), killed on
/// drop. Memcached keeps nothing on disk: a restart starts empty. Its port,
/// signals, kill and restart are [`super::Daemon`]'s.
pub type MemcachedServer = Server<MemcachedKind>;

impl MemcachedServer {
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
    /// `args` (kept for restarts), its output also in `log` when given.
    pub fn start_with(
        program: impl Fn() -> Command + Send + Sync + 'static,
        args: &[&str],
        log: Option<&Path>,
    ) -> Result<Self, String> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let root = running_as_root();
        Self::launch(
            program,
            move |cmd, port| {
                // TCP on loopback only: no UDP port (-U 0), nothing reachable
                // from other machines.
                cmd.args(["-p", &port.to_string(), "-U", "0", "-l", "127.0.0.1"])
                    .args(&args);
                if root {
                    // memcached refuses to run as root unless told which user to be.
                    cmd.args(["-u", "root"]);
                }
            },
            log,
        )
    }
}

impl Kind for MemcachedKind {
    const NAME: &'static str = "memcached";
    const ENV: &'static str = "MEMCACHED_URL";
    const SCHEME: &'static str = "tcp";

    /// Asks `stats` for the `pid` line.
    fn serves(port: u16, pid: u32) -> bool {
        let Some(answer) = ask(port, b"stats\r\n") else {
            return false;
        };
        let expected = format!("STAT pid {pid}");
        for line in answer.lines() {
            match line {
                Ok(line) if line.trim_end() == expected => return true,
                Ok(line) if line.starts_with("END") => return false,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// The socket address of `tcp://host:port`.
    fn addr(url: &str) -> Option<SocketAddr> {
        let host_port = url.strip_prefix("tcp://")?;
        host_port.to_socket_addrs().ok()?.find(SocketAddr::is_ipv4)
    }
}

/// Whether this process runs as root (the owner of `/proc/self` is the
/// effective user).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The Memcached a run uses: the one `MEMCACHED_URL` names when it is set,
/// else a private server.
pub type Memcached = Target<MemcachedServer>;
