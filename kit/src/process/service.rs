//! The service binary, started as a black box on port 0.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::ChildGuard;

/// A running `cartseal serve`: its process and the addresses it printed.
pub struct Service {
    pub proc: ChildGuard,
    /// `http://127.0.0.1:PORT`, from its `cartseal listening on` line.
    pub url: String,
    pub port: u16,
    /// The admin listener (`/metrics`), from its `cartseal admin on` line.
    pub admin_url: Option<String>,
}

impl Service {
    /// How long the binary may take to start or stop before its owner gives
    /// up (a hang guard, not a timing assertion).
    pub const PATIENCE: Duration = Duration::from_secs(60);

    /// `<program> serve --config <config> --port 0`, with its admin listener
    /// on a free port too, run in the config's folder, where its relative
    /// paths (keys/, catalog/) point. `program`
    /// names the binary (the tests' `CARGO_BIN_EXE_cartseal`, the
    /// benchmark's release build), or a wrapper that runs it, with the
    /// environment the caller chose. Its output goes to `log` too when given.
    pub fn start(mut program: Command, config: &Path, log: Option<&Path>) -> Result<Self, String> {
        if let Some(dir) = config.parent().filter(|d| !d.as_os_str().is_empty()) {
            program.current_dir(dir);
        }
        program
            .env("CARTSEAL__ADMIN__PORT", "0")
            .arg("serve")
            .arg("--config")
            .arg(config)
            .args(["--port", "0"]);
        let (proc, url) =
            ChildGuard::start_and_read("cartseal", program, log, Self::PATIENCE, |line| {
                line.split_once("cartseal listening on ")
                    .map(|(_, url)| url.trim().trim_end_matches('/').to_owned())
            })?;
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| format!("no port in the listening line: {url}"))?;
        // The admin line comes before the listening line.
        let admin_url = proc.output().lines().find_map(|line| {
            line.split_once("cartseal admin on ")
                .map(|(_, url)| url.trim().trim_end_matches('/').to_owned())
        });
        Ok(Self {
            proc,
            url,
            port,
            admin_url,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}
