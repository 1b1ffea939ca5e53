//! Refusals made by the HTTP framework rather than by cartseal, provoked
//! with a raw socket: what a client that speaks broken HTTP gets. The list,
//! and why some of them cannot be problem+json, is docs/security.md,
//! "Refusals before the application"; each row there is a case here.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

/// What came back on a connection, read until the server closed it.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    text: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The framework's own refusal: the status, an empty body, and the
    /// connection closed.
    fn assert_bare(&self, status: u16, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.text);
        assert_eq!(self.header("content-length"), Some("0"), "{what}");
        assert!(self.body.is_empty(), "{what}: {}", self.text);
        assert_eq!(self.header("connection"), Some("close"), "{what}");
    }

    /// cartseal's refusal: problem+json with the code.
    fn assert_problem(&self, status: u16, code: &str, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{what}: {}",
            self.text
        );
        let body: serde_json::Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{what}: the body is not JSON ({e}): {}", self.text));
        assert_eq!(body["code"], code, "{what}: {}", self.text);
        assert_eq!(body["status"], status, "{what}");
    }
}

/// Sends `request` on a fresh connection and reads the first answer, until
/// the server closes the connection. A server that neither answers nor
/// closes fails the test (a hang), after a patience far above any timeout
/// of the service.
async fn exchange(port: u16, request: &[u8]) -> Raw {
    let mut socket = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    // The server may refuse before it has read everything, and close: a
    // write error is part of what is tested, not a failure.
    let _ = socket.write_all(request).await;
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "no answer and no close: {}",
        String::from_utf8_lossy(&received)
    );
    parse(&received)
}

fn parse(received: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(received).into_owned();
    let split = received
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {text:?}"));
    let head = String::from_utf8_lossy(&received[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect::<Vec<_>>();
    let mut body = received[split + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    if let Some(length) = length {
        body.truncate(length);
    }
    Raw {
        status,
        headers,
        body,
        text,
    }
}

/// `count` header fields in all, Host and Connection included.
fn with_fields(count: usize) -> Vec<u8> {
    let mut request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".to_vec();
    for i in 0..count - 2 {
        request.extend_from_slice(format!("X-Field-{i}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request
}

/// A request head of exactly `len` bytes that never ends: the server's
/// 128 KiB head buffer fills with nothing left unread.
fn endless_head(prefix: &[u8], len: usize) -> Vec<u8> {
    let mut request = prefix.to_vec();
    request.resize(len, b'a');
    request
}

const CLOSE: &str = "Host: x\r\nConnection: close\r\n";

fn request(head: &str, rest: &str) -> Vec<u8> {
    format!("{head}\r\n{CLOSE}{rest}\r\n").into_bytes()
}

/// actix-http's dispatcher answers these itself, before any middleware or
/// route runs, with a bare status (docs/security.md, "Refusals before the
/// application"): the test holds what does happen, a clear status, an empty
/// body and a closed connection, never a hang.
#[tokio::test]
async fn requests_the_http_parser_refuses_get_a_bare_status_and_a_close() {
    let app = spawn_app().await;
    let post = "POST /cart/items HTTP/1.1";
    let json = "Content-Type: application/json\r\n";
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("97 header fields", with_fields(97), 431),
        (
            "a request head over 128 KiB",
            endless_head(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", 128 * 1024),
            431,
        ),
        (
            "a URI over 128 KiB",
            endless_head(b"GET /", 128 * 1024),
            431,
        ),
        ("a method that is not a token", request("G(T /healthz HTTP/1.1", ""), 400),
        ("an unknown HTTP version", request("GET /healthz HTTP/9.9", ""), 400),
        (
            "the HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a TLS ClientHello",
            [&[0x16, 0x03, 0x01, 0x00, 0xa5, 0x01][..], &[0u8; 40][..]].concat(),
            400,
        ),
        (
            "a header field without a colon",
            request("GET /healthz HTTP/1.1", "Badheader\r\n"),
            400,
        ),
        (
            "a control character in a header value",
            request("GET /healthz HTTP/1.1", "X-A: a\x01b\r\n"),
            400,
        ),
        (
            "Content-Length and Transfer-Encoding together",
            format!(
                "{post}\r\n{CLOSE}{json}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            )
            .into_bytes(),
            400,
        ),
        (
            "two Content-Lengths",
            request(post, &format!("{json}Content-Length: 5\r\nContent-Length: 6\r\n")),
            400,
        ),
        (
            "a Content-Length that is not a number",
            request(post, &format!("{json}Content-Length: abc\r\n")),
            400,
        ),
        (
            "a transfer coding other than chunked",
            request(post, &format!("{json}Transfer-Encoding: gzip\r\n")),
            400,
        ),
        (
            "HTTP/1.1 without Host",
            b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
            400,
        ),
    ];
    for (what, bytes, status) in cases {
        exchange(app.port, &bytes).await.assert_bare(status, what);
    }
    // The boundary of the first row: 96 fields are served.
    let served = exchange(app.port, &with_fields(96)).await;
    assert_eq!(served.status, 200, "96 header fields: {}", served.text);
}

#[tokio::test]
async fn a_request_head_that_does_not_arrive_in_time_gets_a_bare_408() {
    let app = spawn_app_with(|s| s.server.client_request_timeout_ms = 100).await;
    // The request line, and then nothing: the head never ends.
    exchange(app.port, b"GET /healthz HTTP/1.1\r\n")
        .await
        .assert_bare(408, "a stalled head");
}

/// What the framework parses but cartseal answers: problem+json.
#[tokio::test]
async fn requests_the_parser_takes_are_answered_with_problem_json() {
    let app = spawn_app_with(|s| s.server.body_timeout_ms = 200).await;
    let long_path = format!("GET /{} HTTP/1.1", "a".repeat(20_000));
    let chunked = format!(
        "POST /cart/items HTTP/1.1\r\n{CLOSE}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n0\r\n\r\n"
    );
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "an unknown method",
            request("FOO /healthz HTTP/1.1", ""),
            405,
            "method_not_allowed",
        ),
        ("a 20,000-byte path", request(&long_path, ""), 404, "not_found"),
        ("the asterisk form", request("OPTIONS * HTTP/1.1", ""), 404, "not_found"),
        ("the authority form", request("CONNECT x:443 HTTP/1.1", ""), 404, "not_found"),
        (
            "a malformed chunk",
            chunked.into_bytes(),
            400,
            "payload_invalid",
        ),
        (
            "a body shorter than its Content-Length",
            format!(
                "POST /cart/items HTTP/1.1\r\n{CLOSE}Content-Type: application/json\r\nContent-Length: 50\r\n\r\n{{\"sku\""
            )
            .into_bytes(),
            408,
            "request_timeout",
        ),
    ];
    for (what, bytes, status, code) in cases {
        exchange(app.port, &bytes)
            .await
            .assert_problem(status, code, what);
    }
}
