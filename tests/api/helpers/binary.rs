//! The real `cartseal` binary, started as a black box on port 0.

use std::process::{Command, ExitStatus};
use std::time::Duration;

use super::{Client, ConfigDir};
use crate::process::Service;

/// The binary under test, on a config directory, its stdout and stderr
/// captured together, killed with its process group on drop.
pub struct BinaryServer {
    service: Service,
    /// The config directory, when the server owns it.
    _config: Option<ConfigDir>,
}

impl std::ops::Deref for BinaryServer {
    type Target = Service;

    fn deref(&self) -> &Service {
        &self.service
    }
}

impl BinaryServer {
    /// How long the binary may take to start or stop before the test gives
    /// up (a hang guard, not a timing assertion).
    pub const PATIENCE: Duration = Service::PATIENCE;

    /// `cartseal serve --config <dir>/config.toml --port 0`, with a plain
    /// `cart` cookie and `env` on top of a clean `CARTSEAL*`/`RUST_LOG`
    /// environment.
    pub fn spawn(config: &ConfigDir, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cartseal"));
        for (key, _) in std::env::vars_os() {
            let name = key.to_string_lossy();
            if name.starts_with("CARTSEAL") || name == "RUST_LOG" {
                command.env_remove(&key);
            }
        }
        command.env("CARTSEAL__COOKIE__SECURE", "false");
        for (key, value) in env {
            command.env(key, value);
        }
        let service =
            Service::start(command, &config.config_path(), None).unwrap_or_else(|e| panic!("{e}"));
        Self {
            service,
            _config: None,
        }
    }

    /// The same on a fresh copy of the shipped config, which it keeps.
    pub fn spawn_shipped(env: &[(&str, &str)]) -> Self {
        let config = ConfigDir::new();
        let mut server = Self::spawn(&config, env);
        server._config = Some(config);
        server
    }

    /// A client of this server.
    pub fn client(&self) -> Client {
        Client::new(self.url.clone())
    }

    /// Its `/metrics`, from the admin listener.
    pub async fn metrics(&self) -> String {
        let admin = self.admin_url.clone().expect("the admin listener is on");
        Client::new(admin).text("/metrics").await
    }

    pub fn pid(&self) -> u32 {
        self.service.proc.pid()
    }

    /// Everything the process printed so far (stdout and stderr).
    pub fn output(&self) -> String {
        self.service.proc.output()
    }

    /// Sends a signal by name (`HUP`, `TERM`, `KILL`).
    pub fn signal(&self, name: &str) {
        self.service.proc.signal(name);
    }

    /// SIGKILL to its process group: the replica dies without draining.
    pub fn kill(&mut self) {
        self.service.proc.kill();
    }

    /// Waits for the process to exit, up to `patience` (a hang guard).
    pub fn wait_exit(&mut self, patience: Duration) -> Option<ExitStatus> {
        self.service.proc.wait_exit(patience)
    }
}
