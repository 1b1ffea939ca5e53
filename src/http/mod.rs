//! The HTTP API.

use std::path::PathBuf;

use crate::config::Settings;

/// Runs the server until SIGTERM or SIGINT.
pub fn run(_settings: Settings, _config_path: PathBuf) -> std::io::Result<()> {
    Ok(())
}
