//! A minimal HTTP/1.1 keep-alive client on a raw tokio `TcpStream`.
//!
//! Why not reqwest or hyper: the load generator gets one CPU core, the same
//! as the server, and must out-run it even in the `none` mode. A raw client
//! costs a few microseconds per request, and it counts the bytes actually
//! written and read (status line, headers and body) instead of estimating
//! them. It speaks only what the benchmark needs: one request in flight per
//! connection, `Content-Length` or chunked response bodies, `Connection:
//! close`, and the `Set-Cookie` of the cart cookie.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Cookie names the server may use for the cart (`cookie.secure` false/true).
pub const CART_COOKIE_NAMES: [&str; 2] = ["cart", "__Host-cart"];

/// What a response did to the cart cookie.
#[derive(Debug, Clone)]
pub enum CookieUpdate {
    /// `Set-Cookie: cart=<value>`: `pair` is `cart=<value>`, ready for a
    /// `Cookie` header; `value_len` is the value's length in bytes and
    /// `header_len` the whole `Set-Cookie: ...` header line without CRLF.
    Set {
        pair: String,
        value_len: usize,
        header_len: usize,
    },
    /// The server removed the cookie (empty value or `Max-Age=0`).
    Clear,
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    pub cookie: Option<CookieUpdate>,
    /// `cart_route=<key>` when the response set cartseal's routing key
    /// (src/http/route.rs), which nginx hashes with `--routing key`.
    pub route: Option<String>,
    /// Bytes read for this response: status line, headers and body as framed.
    pub bytes_in: usize,
    /// The server asked to close the connection.
    pub close: bool,
}

#[derive(Debug)]
pub enum FetchError {
    /// The connection was closed before any byte of the response arrived.
    /// On a reused keep-alive connection this is the ordinary idle-close race
    /// and the request may be retried on a fresh connection.
    ClosedBeforeResponse,
    Io(io::Error),
    Protocol(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::ClosedBeforeResponse => write!(f, "connection closed before response"),
            FetchError::Io(e) => write!(f, "io: {e}"),
            FetchError::Protocol(m) => write!(f, "protocol: {m}"),
        }
    }
}

impl From<io::Error> for FetchError {
    fn from(e: io::Error) -> Self {
        FetchError::Io(e)
    }
}

pub struct Conn {
    stream: TcpStream,
    rbuf: Vec<u8>,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            rbuf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Writes one complete request and reads its response.
    pub async fn roundtrip(&mut self, request: &[u8]) -> Result<Response, FetchError> {
        if let Err(e) = self.stream.write_all(request).await {
            // A write into a connection the peer already closed.
            return Err(match e.kind() {
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
                    FetchError::ClosedBeforeResponse
                }
                _ => FetchError::Io(e),
            });
        }
        self.read_response().await
    }

    async fn fill(&mut self) -> Result<usize, FetchError> {
        if self.rbuf.capacity() - self.rbuf.len() < 4096 {
            self.rbuf.reserve(16 * 1024);
        }
        match self.stream.read_buf(&mut self.rbuf).await {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && self.rbuf.is_empty() => {
                Err(FetchError::ClosedBeforeResponse)
            }
            Err(e) => Err(FetchError::Io(e)),
        }
    }

    async fn read_response(&mut self) -> Result<Response, FetchError> {
        // 1. The head.
        let head_end = loop {
            if let Some(i) = find(&self.rbuf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.rbuf.len() > 256 * 1024 {
                return Err(FetchError::Protocol("response head over 256 KiB".into()));
            }
            let before = self.rbuf.len();
            if self.fill().await? == 0 {
                return Err(if before == 0 {
                    FetchError::ClosedBeforeResponse
                } else {
                    FetchError::Protocol("eof inside response head".into())
                });
            }
        };
        let head = parse_head(&self.rbuf[..head_end])?;

        // 2. The body.
        let no_body = head.status == 204 || head.status == 304 || (100..200).contains(&head.status);
        let (body, consumed) = if no_body {
            (Vec::new(), head_end)
        } else if head.chunked {
            loop {
                match parse_chunked(&self.rbuf[head_end..])? {
                    Some((body, used)) => break (body, head_end + used),
                    None => {
                        if self.fill().await? == 0 {
                            return Err(FetchError::Protocol("eof inside chunked body".into()));
                        }
                    }
                }
            }
        } else if let Some(len) = head.content_length {
            while self.rbuf.len() < head_end + len {
                if self.fill().await? == 0 {
                    return Err(FetchError::Protocol("eof inside body".into()));
                }
            }
            (self.rbuf[head_end..head_end + len].to_vec(), head_end + len)
        } else {
            // Delimited by the end of the connection.
            while self.fill().await? != 0 {}
            (self.rbuf[head_end..].to_vec(), self.rbuf.len())
        };
        let close = head.close || (!head.chunked && head.content_length.is_none() && !no_body);
        self.rbuf.drain(..consumed);
        Ok(Response {
            status: head.status,
            body,
            cookie: head.cookie,
            route: head.route,
            bytes_in: consumed,
            close,
        })
    }
}

struct Head {
    status: u16,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
    cookie: Option<CookieUpdate>,
    route: Option<String>,
}

fn parse_head(head: &[u8]) -> Result<Head, FetchError> {
    let text = std::str::from_utf8(head)
        .map_err(|_| FetchError::Protocol("response head is not UTF-8".into()))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(FetchError::Protocol(format!(
            "bad status line {status_line:?}"
        )));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| FetchError::Protocol(format!("bad status line {status_line:?}")))?;
    let mut out = Head {
        status,
        content_length: None,
        chunked: false,
        close: version == "HTTP/1.0",
        cookie: None,
        route: None,
    };
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            out.content_length = Some(
                value
                    .parse()
                    .map_err(|_| FetchError::Protocol(format!("bad content-length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            out.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") {
                out.close = true;
            } else if v.contains("keep-alive") {
                out.close = false;
            }
        } else if name.eq_ignore_ascii_case("set-cookie") {
            if let Some(update) = parse_set_cookie(value, line.len()) {
                out.cookie = Some(update);
            } else if let Some(pair) = value.split(';').next().map(str::trim)
                && pair.starts_with("cart_route=")
            {
                out.route = Some(pair.to_owned());
            }
        }
    }
    Ok(out)
}

/// Parses a `Set-Cookie` value; returns an update only for the cart cookie.
pub fn parse_set_cookie(value: &str, header_len: usize) -> Option<CookieUpdate> {
    let mut attrs = value.split(';');
    let pair = attrs.next()?.trim();
    let (name, val) = pair.split_once('=')?;
    let name = name.trim();
    if !CART_COOKIE_NAMES.contains(&name) {
        return None;
    }
    let val = val.trim().trim_matches('"');
    let removed = val.is_empty()
        || attrs.any(|a| match a.trim().split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("max-age") => {
                v.trim().parse::<i64>().is_ok_and(|n| n <= 0)
            }
            _ => false,
        });
    if removed {
        return Some(CookieUpdate::Clear);
    }
    Some(CookieUpdate::Set {
        pair: format!("{name}={val}"),
        value_len: val.len(),
        header_len,
    })
}

/// Parses a complete chunked body; `Ok(None)` if more bytes are needed.
fn parse_chunked(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, FetchError> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let Some(eol) = find(&buf[pos..], b"\r\n") else {
            return Ok(None);
        };
        let size_line = std::str::from_utf8(&buf[pos..pos + eol])
            .map_err(|_| FetchError::Protocol("bad chunk size".into()))?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| FetchError::Protocol(format!("bad chunk size {size_hex:?}")))?;
        pos += eol + 2;
        if size == 0 {
            // Trailers (usually none), then the final CRLF.
            loop {
                let Some(eol) = find(&buf[pos..], b"\r\n") else {
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Builds one request. `cookie` is a `name=value` pair; `json` a body sent
/// with `Content-Type: application/json`. No `Origin`: same-site requests.
pub fn build_request(
    method: &str,
    path: &str,
    host: &str,
    cookie: Option<&str>,
    json: Option<&str>,
) -> Vec<u8> {
    let mut r = Vec::with_capacity(256 + cookie.map_or(0, str::len) + json.map_or(0, str::len));
    r.extend_from_slice(method.as_bytes());
    r.push(b' ');
    r.extend_from_slice(path.as_bytes());
    r.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    r.extend_from_slice(host.as_bytes());
    r.extend_from_slice(b"\r\nAccept: application/json\r\n");
    if let Some(c) = cookie {
        r.extend_from_slice(b"Cookie: ");
        r.extend_from_slice(c.as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    match json {
        Some(body) => {
            r.extend_from_slice(b"Content-Type: application/json\r\nContent-Length: ");
            r.extend_from_slice(body.len().to_string().as_bytes());
            r.extend_from_slice(b"\r\n\r\n");
            r.extend_from_slice(body.as_bytes());
        }
        None => {
            if method != "GET" && method != "HEAD" {
                r.extend_from_slice(b"Content-Length: 0\r\n");
            }
            r.extend_from_slice(b"\r\n");
        }
    }
    r
}
