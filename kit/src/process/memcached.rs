//! A private `memcached`, or the Memcached that `MEMCACHED_URL` names.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::ChildGuard;
use super::daemon::{Daemon, Launch, Private, Target};

/// A private `memcached` on a free port of 127.0.0.1 (TCP only), killed on
/// drop. Memcached keeps nothing on disk: a restart starts empty. Its port,
/// signals, kill and restart are [`Daemon`]'s.
pub struct MemcachedServer {
    daemon: Daemon,
}

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
        let launch: Launch = Box::new(move |mut cmd, port, log| {
            // TCP on loopback only: no UDP port (-U 0), nothing reachable
            // from other machines.
            cmd.args(["-p", &port.to_string(), "-U", "0", "-l", "127.0.0.1"])
                .args(&args);
            if running_as_root() {
                // memcached refuses to run as root unless told which user to be.
                cmd.args(["-u", "root"]);
            }
            let mut proc = ChildGuard::start("memcached", cmd, log, |_| {})?;
            let pid = proc.pid();
            proc.wait_until(Daemon::PATIENCE, "answered on its port", || {
                serves(port, pid)
            })?;
            Ok(proc)
        });
        let daemon = Daemon::start(
            "memcached",
            Box::new(program),
            "-V",
            "apt-get install memcached (scripts/test installs it), or set MEMCACHED_URL",
            launch,
            log,
        )?;
        Ok(Self { daemon })
    }

    /// `tcp://127.0.0.1:PORT`, the form `memcached.url` takes.
    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.daemon.port())
    }
}

impl std::ops::Deref for MemcachedServer {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl std::ops::DerefMut for MemcachedServer {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}

impl Private for MemcachedServer {
    const ENV: &'static str = "MEMCACHED_URL";
    fn url(&self) -> String {
        MemcachedServer::url(self)
    }
}

/// Whether this process runs as root (the owner of `/proc/self` is the
/// effective user).
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// True when the Memcached that answers on `port` is process `pid`. Not
/// just any Memcached: another test's may have taken the port between
/// [`super::free_port`] and this one's bind, and then answer in its place
/// while this one exits (a test once paused "its" server that way, and the
/// other went on answering).
fn serves(port: u16, pid: u32) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"stats\r\n").is_err() {
        return false;
    }
    let expected = format!("STAT pid {pid}");
    for line in BufReader::new(stream).lines() {
        match line {
            Ok(line) if line.trim_end() == expected => return true,
            Ok(line) if line.starts_with("END") => return false,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// The Memcached a run uses: the one `MEMCACHED_URL` names when it is set,
/// else a private server.
pub type Memcached = Target<MemcachedServer>;

impl Memcached {
    /// The socket address of `tcp://host:port`.
    pub fn addr(&self) -> Option<SocketAddr> {
        let host_port = self.url().strip_prefix("tcp://")?;
        host_port.to_socket_addrs().ok()?.find(SocketAddr::is_ipv4)
    }
}
