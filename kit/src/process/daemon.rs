//! What a private redis-server and a private memcached share: a server on a
//! free loopback port, killed on drop, that a test can pause, kill and start
//! again, empty, on the same port; and the choice between such a server and
//! one that an environment variable names.

use std::io::{BufReader, Write};
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{ChildGuard, free_port};

/// Makes the command that runs the server: the program itself, or a
/// wrapper around it (the benchmark pins it with `taskset`).
pub type Program = Box<dyn Fn() -> Command + Send + Sync>;

/// Adds the server's own arguments and the port to the command, starts it,
/// and waits until it answers.
type Launch = Box<dyn Fn(Command, u16, Option<&Path>) -> Result<ChildGuard, String> + Send + Sync>;

/// A server on a free port of 127.0.0.1, killed on drop.
///
/// Starting and restarting block the calling thread while they wait for
/// the server to answer: call them from `spawn_blocking` while a server
/// under test shares the runtime.
pub struct Daemon {
    name: &'static str,
    proc: ChildGuard,
    port: u16,
    program: Program,
    launch: Launch,
    log: Option<PathBuf>,
}

impl Daemon {
    /// How long a start may take before it counts as failed.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// Starts `name` on a free port, trying a few (another process can take
    /// a free port first). A program that cannot even print its version
    /// (`--version`) is missing, and the error says so with `install`.
    fn start(
        name: &'static str,
        program: Program,
        install: &str,
        launch: Launch,
        log: Option<&Path>,
    ) -> Result<Self, String> {
        let mut probe = program();
        if probe.arg("--version").output().is_err() {
            return Err(format!("{name} is missing ({probe:?}): {install}"));
        }
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            match launch(program(), port, log) {
                Ok(proc) => {
                    return Ok(Self {
                        name,
                        proc,
                        port,
                        program,
                        launch,
                        log: log.map(Path::to_path_buf),
                    });
                }
                Err(output) => last = output,
            }
        }
        Err(format!("{name} did not start:\n{last}"))
    }

    /// The port it listens on, kept across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// 127.0.0.1 and [`Daemon::port`].
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The running server's process id (a new one after a restart).
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
    /// the same arguments: a restart without persistence.
    pub fn restart(&mut self) {
        self.proc.kill();
        let deadline = Instant::now() + Self::PATIENCE;
        loop {
            match (self.launch)((self.program)(), self.port, self.log.as_deref()) {
                Ok(proc) => {
                    self.proc = proc;
                    return;
                }
                Err(output) if Instant::now() > deadline => {
                    panic!("{} did not restart on {}:\n{output}", self.name, self.port)
                }
                // The old socket may linger for a moment.
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

/// What sets one kind of private server apart from another: its program,
/// how to tell that the server answering on a port is the process just
/// started, and the URL the service's config takes for it. [`Server`] does
/// the rest the same way for every kind.
pub trait Kind: 'static {
    /// The program, as messages and the child's output name it, and its
    /// Debian package. A program that cannot even print its version
    /// (`--version`) is missing, and the error says to install it or to set
    /// [`Kind::ENV`].
    const NAME: &'static str;
    /// The environment variable that names a server to use instead.
    const ENV: &'static str;
    /// The scheme of the URL the service's config takes (`redis`, `tcp`).
    const SCHEME: &'static str;

    /// True when the server that answers on `port` is process `pid`. Not
    /// just any server of the kind: another test's may have taken the port
    /// between [`super::free_port`] and this one's bind, and then answer in
    /// its place while this one exits (a test once paused "its" server that
    /// way, and the other went on answering).
    fn serves(port: u16, pid: u32) -> bool;

    /// The socket address of a URL of this kind (the private server's or
    /// the one [`Kind::ENV`] names).
    fn addr(url: &str) -> Option<SocketAddr>;
}

/// A private server of kind `K` on a free port of 127.0.0.1, killed on
/// drop. Its port, signals, kill and restart are [`Daemon`]'s.
pub struct Server<K> {
    daemon: Daemon,
    /// The kind, without holding one: `Send` and `Sync` whatever `K` is.
    kind: PhantomData<fn() -> K>,
}

impl<K: Kind> Server<K> {
    /// Starts one on a free port with the command `program` makes, after
    /// `add_args` gave it the kind's arguments for `port` (kept for
    /// restarts: whatever it holds lives as long as the server), its output
    /// also in `log` when given.
    pub(super) fn launch(
        program: impl Fn() -> Command + Send + Sync + 'static,
        add_args: impl Fn(&mut Command, u16) + Send + Sync + 'static,
        log: Option<&Path>,
    ) -> Result<Self, String> {
        let launch: Launch = Box::new(move |mut cmd, port, log| {
            add_args(&mut cmd, port);
            let mut proc = ChildGuard::start(K::NAME, cmd, log, |_| {})?;
            let pid = proc.pid();
            proc.wait_until(Daemon::PATIENCE, "answered on its port", || {
                K::serves(port, pid)
            })?;
            Ok(proc)
        });
        let install = format!(
            "apt-get install {} (scripts/test installs it), or set {}",
            K::NAME,
            K::ENV
        );
        let daemon = Daemon::start(K::NAME, Box::new(program), &install, launch, log)?;
        Ok(Self {
            daemon,
            kind: PhantomData,
        })
    }

    /// `SCHEME://127.0.0.1:PORT`, the form the service's config takes.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", K::SCHEME, self.daemon.port())
    }
}

impl<K> std::ops::Deref for Server<K> {
    type Target = Daemon;
    fn deref(&self) -> &Daemon {
        &self.daemon
    }
}

impl<K> std::ops::DerefMut for Server<K> {
    fn deref_mut(&mut self) -> &mut Daemon {
        &mut self.daemon
    }
}

impl<K: Kind> Private for Server<K> {
    const ENV: &'static str = K::ENV;
    fn url(&self) -> String {
        Server::url(self)
    }
}

/// Sends `command` to the server on `port` of 127.0.0.1, for
/// [`Kind::serves`]: the connection to read its answer from (a read waits
/// half a second at most), or `None` when nothing took the command.
pub(super) fn ask(port: u16, command: &[u8]) -> Option<BufReader<TcpStream>> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    stream.write_all(command).ok()?;
    Some(BufReader::new(stream))
}

/// A kind of server a run can start privately or be pointed at.
pub trait Private {
    /// The environment variable that names a server to use instead.
    const ENV: &'static str;
    /// The URL the service's config takes for this server.
    fn url(&self) -> String;
}

/// The server a run uses: the one the kind's environment variable names
/// when it is set, else a private server.
pub struct Target<S> {
    url: String,
    server: Option<S>,
}

impl<S: Private> Target<S> {
    /// The environment variable's URL when it is set and not empty, else
    /// the server `start` returns.
    pub fn from_env_or(start: impl FnOnce() -> Result<S, String>) -> Result<Self, String> {
        match std::env::var(S::ENV) {
            Ok(url) if !url.is_empty() => Ok(Self { url, server: None }),
            _ => start().map(Self::private),
        }
    }

    /// A private server.
    pub fn private(server: S) -> Self {
        Self {
            url: server.url(),
            server: Some(server),
        }
    }

    /// The URL the service's config takes for this server.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The private server, when it is one.
    pub fn server(&self) -> Option<&S> {
        self.server.as_ref()
    }

    /// Takes the private server out (to restart it off the runtime).
    pub fn take_server(&mut self) -> Option<S> {
        self.server.take()
    }

    /// Puts a private server back after [`Target::take_server`].
    pub fn put_server(&mut self, server: S) {
        self.server = Some(server);
    }
}

impl<K: Kind> Target<Server<K>> {
    /// The socket address of the server's URL, private or not.
    pub fn addr(&self) -> Option<SocketAddr> {
        K::addr(self.url())
    }
}
