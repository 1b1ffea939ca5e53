//! Where a test keeps its carts in Memcached, and a plain text-protocol
//! client of the test's own to look at them (independent of the client
//! under test).

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::process::{Memcached, MemcachedServer};

use super::store::{Backend, StoreTarget};

/// Memcached reads an expiry above this many seconds as a Unix time.
const MAX_RELATIVE_TTL: i64 = 30 * 86_400;

/// `MEMCACHED_URL` under a key prefix of this test's own, or a private
/// `memcached`.
pub type MemcachedTarget = StoreTarget<MemcachedServer>;

impl Backend for MemcachedServer {
    fn start() -> Self {
        MemcachedServer::start()
    }

    /// On a runtime of its own: a drop may run outside any.
    fn forget(url: &str, prefix: &str) {
        let (url, prefix) = (url.to_owned(), prefix.to_owned());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let clean = async {
                    let mut raw = Raw::connect(&url).await;
                    for key in raw.keys(&prefix).await {
                        raw.delete(&key).await;
                    }
                };
                tokio::time::timeout(Duration::from_secs(5), clean)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

impl MemcachedTarget {
    /// A private server started with more arguments (`-m 1 -I 512k`): for
    /// a test that fills it.
    pub fn private_with(label: &str, args: &[&str]) -> Self {
        let server = MemcachedServer::start_args(args).unwrap_or_else(|e| panic!("{e}"));
        Self::with_server(Memcached::private(server), label)
    }

    /// A connection of the test's own, beside the ones under test.
    pub async fn connection(&self) -> Raw {
        Raw::connect(self.url()).await
    }

    /// `secs` pass on Memcached's clock, for this test's keys: a key whose
    /// TTL runs out in that time is deleted, the others lose that much TTL.
    pub async fn age(&self, secs: i64) {
        let mut raw = self.connection().await;
        for key in raw.keys(&self.prefix).await {
            let Some(left) = raw.ttl(&key).await else {
                continue; // gone since the listing
            };
            if left < 0 {
                continue; // no TTL (the test would then see it stay)
            }
            if left <= secs {
                raw.delete(&key).await;
            } else {
                raw.touch(&key, left - secs).await;
            }
        }
    }
}

/// A plain Memcached text-protocol connection, for tests. Every answer it
/// cannot read is a panic: the test's Memcached must answer.
pub struct Raw {
    stream: BufReader<TcpStream>,
}

impl Raw {
    pub async fn connect(url: &str) -> Self {
        let addr = url.strip_prefix("tcp://").expect("a tcp:// URL");
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("the test's Memcached at {addr} answers: {e}"));
        Self {
            stream: BufReader::new(stream),
        }
    }

    async fn send(&mut self, line: &str) {
        self.stream
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write to memcached");
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        self.stream
            .read_line(&mut line)
            .await
            .expect("read from memcached");
        // A metadump line ends in a bare LF.
        assert!(line.ends_with('\n'), "memcached closed: {line:?}");
        let end = line.trim_end_matches(['\r', '\n']).len();
        line.truncate(end);
        line
    }

    /// Sends a meta command on one key: `None` on a miss (`EN`), else the
    /// answer after `prefix`, which it must start with.
    async fn meta(&mut self, command: &str, prefix: &str) -> Option<String> {
        self.send(command).await;
        let answer = self.line().await;
        if answer == "EN" {
            return None;
        }
        let rest = answer
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{command}: {answer:?}"));
        Some(rest.to_owned())
    }

    /// Sends a command that answers `HD` when the key was there and `absent`
    /// when it was not; which it was.
    async fn found(&mut self, command: &str, absent: &str) -> bool {
        self.send(command).await;
        match self.line().await.as_str() {
            "HD" => true,
            other if other == absent => false,
            other => panic!("{command}: {other:?}"),
        }
    }

    /// `mg key v`: the value, without touching the TTL.
    pub async fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        let head = self.meta(&format!("mg {key} v"), "VA ").await?;
        let len: usize = head
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("mg v: {head:?}"));
        let mut value = vec![0; len + 2];
        self.stream.read_exact(&mut value).await.expect("the value");
        value.truncate(len);
        Some(value)
    }

    /// `ms key`: writes a value with a TTL, as a replica would.
    pub async fn set(&mut self, key: &str, value: &[u8], ttl: i64) {
        let head = format!("ms {key} {} T{}\r\n", value.len(), wire_ttl(ttl));
        let stream = self.stream.get_mut();
        stream.write_all(head.as_bytes()).await.expect("ms");
        stream.write_all(value).await.expect("ms");
        stream.write_all(b"\r\n").await.expect("ms");
        let answer = self.line().await;
        assert_eq!(answer, "HD", "ms {key}");
    }

    /// The remaining TTL of a key in seconds (`-1`: none), without changing
    /// it; `None` when the key is missing.
    pub async fn ttl(&mut self, key: &str) -> Option<i64> {
        let ttl = self.meta(&format!("mg {key} t"), "HD t").await?;
        let seconds = ttl.split(' ').next().and_then(|t| t.parse().ok());
        Some(seconds.unwrap_or_else(|| panic!("mg t: {ttl:?}")))
    }

    /// Sets a key's TTL to `ttl` seconds; whether it existed.
    pub async fn touch(&mut self, key: &str, ttl: i64) -> bool {
        self.found(&format!("mg {key} T{}", wire_ttl(ttl)), "EN")
            .await
    }

    /// `md key`: whether it existed.
    pub async fn delete(&mut self, key: &str) -> bool {
        self.found(&format!("md {key}"), "NF").await
    }

    /// `me key`: whether the key is there, without moving it up the LRU
    /// (as a read would), with its slab class and size.
    pub async fn peek(&mut self, key: &str) -> Option<HashMap<String, String>> {
        let rest = self.meta(&format!("me {key}"), "ME ").await?;
        Some(
            rest.split(' ')
                .skip(1)
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    /// Sends `command` and reads the lines it lists up to `END`; `None`
    /// when memcached answers `BUSY` instead.
    async fn listing(&mut self, command: &str) -> Option<Vec<String>> {
        self.send(command).await;
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            if line == "END" {
                return Some(lines);
            }
            if line.starts_with("BUSY") {
                return None;
            }
            lines.push(line);
        }
    }

    /// `stats`.
    pub async fn stats(&mut self) -> HashMap<String, String> {
        let lines = self.listing("stats").await.expect("stats is never busy");
        lines
            .iter()
            .filter_map(|line| {
                let mut parts = line.splitn(3, ' ');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some("STAT"), Some(name), Some(value)) => {
                        Some((name.to_owned(), value.to_owned()))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// One number from `stats`.
    pub async fn stat(&mut self, name: &str) -> u64 {
        self.stats()
            .await
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no stat {name}"))
    }

    /// Every key that starts with `prefix` (`lru_crawler metadump all`;
    /// again while the crawler is busy).
    pub async fn keys(&mut self, prefix: &str) -> Vec<String> {
        for _ in 0..100 {
            if let Some(lines) = self.listing("lru_crawler metadump all").await {
                return lines
                    .iter()
                    .map(|line| {
                        let encoded = line
                            .strip_prefix("key=")
                            .and_then(|rest| rest.split(' ').next())
                            .unwrap_or_else(|| panic!("metadump: {line:?}"));
                        percent_decode(encoded)
                    })
                    .filter(|key| key.starts_with(prefix))
                    .collect();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the memcached LRU crawler stayed busy");
    }
}

/// The expiry to send for a TTL, as the store sends it: over 30 days,
/// memcached reads a Unix time.
fn wire_ttl(ttl: i64) -> i64 {
    if ttl <= MAX_RELATIVE_TTL {
        ttl
    } else {
        chrono::Utc::now().timestamp() + ttl
    }
}

/// Keys in a metadump are URI-encoded (`:` is `%3A`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("keys are ASCII")
}
