//! What a private redis-server and a private memcached share: a server on a
//! free loopback port, killed on drop, that a test can pause, kill and start
//! again, empty, on the same port; and the choice between such a server and
//! one that an environment variable names.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{ChildGuard, free_port};

/// Makes the command that runs the server: the program itself, or a
/// wrapper around it (the benchmark pins it with `taskset`).
pub type Program = Box<dyn Fn() -> Command + Send + Sync>;

/// Adds the server's own arguments and the port to the command, starts it,
/// and waits until it answers.
pub(super) type Launch =
    Box<dyn Fn(Command, u16, Option<&Path>) -> Result<ChildGuard, String> + Send + Sync>;

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
    pub(super) const PATIENCE: Duration = Duration::from_secs(10);

    /// Starts `name` on a free port, trying a few (another process can take
    /// a free port first). `version` is the argument that makes the program
    /// print its version: a program that cannot even do that is missing,
    /// and the error says so with `install`.
    pub(super) fn start(
        name: &'static str,
        program: Program,
        version: &str,
        install: &str,
        launch: Launch,
        log: Option<&Path>,
    ) -> Result<Self, String> {
        let mut probe = program();
        if probe.arg(version).output().is_err() {
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
