//! `cartseal check-config --against-running URL`: asks a running replica's
//! admin listener whether its reload would accept its config file now
//! (`POST /reload/check`, src/http/routes/admin.rs), which runs the very
//! checks of SIGHUP, on the file SIGHUP reads, against the settings the
//! replica runs. A local check cannot: it does not know what the replica
//! started with.
//!
//! The admin listener is plain HTTP on a private address, and this is one
//! request: a few lines over a socket rather than an HTTP client crate.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use super::CliError;

/// How long the replica may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Asks the admin listener at `admin` (`http://host:port`) and prints its
/// answer; an error when it refuses or cannot be asked.
pub fn check(config: &Path, admin: &str) -> Result<(), CliError> {
    let (status, headers, body) = post(admin, "/reload/check")?;
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let theirs = header(&headers, "cartseal-config");
    let ours = config
        .canonicalize()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if let Some(theirs) = theirs.filter(|t| *t != ours) {
        println!(
            "note: the replica at {admin} reloads {theirs}, not {ours}: its answer is about its own file"
        );
    }
    match status {
        200 => {
            let changes: Vec<&str> = answer["changes"]
                .as_array()
                .map(|c| c.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            if changes.is_empty() {
                println!("{admin}: a reload would be accepted; the keyring would not change");
            } else {
                println!(
                    "{admin}: a reload would be accepted: {}",
                    changes.join("; ")
                );
            }
            Ok(())
        }
        409 => Err(CliError::Running(format!(
            "{admin}: a reload would be refused: {}",
            answer["detail"].as_str().unwrap_or(&body)
        ))),
        other => Err(CliError::Running(format!(
            "{admin}: unexpected answer {other} to POST /reload/check (is it a cartseal admin listener?)"
        ))),
    }
}

/// `POST path` to `http://host:port`; the status, the header block and the
/// body.
fn post(base: &str, path: &str) -> Result<(u16, String, String), CliError> {
    let usage = || {
        CliError::Running(format!(
            "--against-running takes the admin listener's URL, http://HOST:PORT, not {base:?}"
        ))
    };
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(usage)?
        .trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err(usage());
    }
    let failed = |e: std::io::Error| CliError::Running(format!("cannot ask {base}: {e}"));
    let addr = authority
        .to_socket_addrs()
        .map_err(failed)?
        .next()
        .ok_or_else(usage)?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(failed)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(failed)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(failed)?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .map_err(failed)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(failed)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| CliError::Running(format!("{base}: not an HTTP answer")))?;
    Ok((status, head.to_owned(), body.to_owned()))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}
