//! chromedriver, which starts and drives Debian's chromium.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::ChildGuard;

/// The browser chromedriver starts.
pub const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a port it picks itself; the chromium it starts is in its
/// process group, so both die with the guard.
pub struct Chromedriver {
    /// Held for its drop, which kills chromedriver and the browser.
    _proc: ChildGuard,
    pub port: u16,
}

impl Chromedriver {
    /// How long chromedriver may take to start.
    const PATIENCE: Duration = Duration::from_secs(30);

    /// Fails loudly when chromium or chromedriver is missing.
    pub fn start() -> Self {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: the browser tests need Debian's chromium and chromium-driver \
                 (apt-get install chromium chromium-driver; scripts/test installs them)"
            );
        }
        // With --port=0 chromedriver picks a port on one address family and
        // then binds it on the other, where another process may hold it
        // ("IPv4 port not available. Exiting..."): try again, a few times.
        let mut last = String::new();
        for _ in 0..5 {
            let mut cmd = Command::new(CHROMEDRIVER);
            cmd.arg("--port=0");
            match ChildGuard::start_and_read("chromedriver", cmd, None, Self::PATIENCE, |line| {
                line.split_once("started successfully on port ")
                    .and_then(|(_, rest)| rest.trim_end_matches('.').trim().parse::<u16>().ok())
            }) {
                Ok((proc, port)) => return Self { _proc: proc, port },
                Err(e) if e.contains("port not available") => last = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("{last}")
    }

    /// Its WebDriver endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Ends a WebDriver session with a plain request, so that chromedriver
    /// closes its chromium: for a drop after a panic, when the async client
    /// cannot be awaited any more. Best effort.
    pub fn end_session(&self, session: &str) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = write!(
            stream,
            "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        let _ = stream.read_to_end(&mut Vec::new());
    }
}
