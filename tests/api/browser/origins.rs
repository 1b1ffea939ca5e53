//! Scenario e: the browser's own CORS and CSRF behaviour, against a page
//! from a foreign origin and the shop page served from an allowed one.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Turn;
use super::page::*;
use crate::helpers::{BinaryServer, repo};

/// Scenario e: a page from a foreign origin cannot change the cart even though
/// the browser holds the cookie (127.0.0.1 on another port is same-site, so
/// SameSite=Lax does not stop it: the server's Origin check and CORS must), while
/// the shop page served from an allowed origin (`?api=` mode) can.
#[tokio::test]
async fn browser_only_allowed_origins_can_change_the_cart() {
    let turn = Turn::take().await;
    let (friend, friend_origin) = bind_site("127.0.0.1").await;
    let (stranger, stranger_origin) = bind_site("127.0.0.1").await;

    let server =
        BinaryServer::spawn_shipped(&[("CARTSEAL__CORS__ALLOWED_ORIGINS", &friend_origin)]);
    let catalog = catalog();
    let planted = &catalog[catalog.len() - 1].sku;
    serve_site(
        friend,
        Site::Shop(repo().join("static"), server.url.clone()),
    );
    serve_site(stranger, Site::Fixed(attack_page(&server.url, planted)));

    let page = turn.page();

    open_shop(page, &server.url).await;
    add_product(page, &catalog[0].sku).await;
    add_product(page, &catalog[1].sku).await;
    assert_no_error(page).await;
    let before = cart_lines(page).await;
    let token_before = cart_cookie(page).await.value().to_owned();

    // The stranger's page tries every way a browser lets it send a write.
    page.goto(&format!("{stranger_origin}/"))
        .await
        .expect("open the stranger's page");
    let outcome = wait_then_read(
        page,
        "the attack page to finish",
        "return document.body.dataset.done === '1';",
        "return window.results;",
    )
    .await;
    eprintln!("attempts from a foreign origin: {outcome}");
    let read = outcome["cors_read"].as_str().unwrap_or_default();
    assert!(
        read.starts_with("blocked"),
        "a foreign origin must not read the cart (no reflected CORS origin): {outcome}"
    );
    assert!(
        outcome["cors_json_post"]
            .as_str()
            .unwrap_or_default()
            .starts_with("blocked"),
        "the preflight for a foreign origin must fail: {outcome}"
    );

    open_shop(page, &server.url).await;
    assert_eq!(
        cart_lines(page).await,
        before,
        "a foreign page could not change the cart"
    );
    assert_eq!(
        cart_cookie(page).await.value(),
        token_before,
        "a foreign page could not replace the token"
    );

    // The same shop page served from an allowed origin talks to the API cross-origin.
    let api_mode = format!("{friend_origin}/?api={}", server.url);
    open_shop(page, &api_mode).await;
    assert_no_error(page).await;
    assert_eq!(
        cart_lines(page).await,
        before,
        "an allowed origin reads the same cart"
    );
    add_product(page, &catalog[2].sku).await;
    assert_no_error(page).await;
    assert_shows_one_more(
        page,
        &before,
        &catalog[2].sku,
        "an allowed origin can change the cart",
    )
    .await;
    let after = cart_lines(page).await;

    open_shop(page, &server.url).await;
    assert_eq!(
        cart_lines(page).await,
        after,
        "the change made from the allowed origin is kept"
    );

    turn.end().await;
}

// ---------------------------------------------------------------------------
// Second origins: the shop page from an allowed origin, an attacker's page
// ---------------------------------------------------------------------------

pub(super) enum Site {
    /// The demo page's files, so the page runs from another origin (`?api=`),
    /// listing the API origins its page may talk to, as a shop hosting the
    /// page itself would.
    Shop(PathBuf, String),
    /// One fixed HTML page.
    Fixed(String),
}

impl Site {
    fn respond(&self, path: &str) -> (&'static str, &'static str, Vec<u8>) {
        const HTML: &str = "text/html; charset=utf-8";
        match self {
            Site::Fixed(html) if path == "/" => ("200 OK", HTML, html.clone().into_bytes()),
            Site::Shop(dir, api_origins) => {
                let file = match path {
                    "/" | "/index.html" => Some(("index.html", HTML)),
                    "/static/app.js" => Some(("app.js", "text/javascript; charset=utf-8")),
                    // Not a file: the service joins it from clients/js/src
                    // when it is compiled.
                    "/static/cartseal-client.js" => {
                        return (
                            "200 OK",
                            "text/javascript; charset=utf-8",
                            cartseal::http::routes::demo::CLIENT_JS.as_bytes().to_vec(),
                        );
                    }
                    "/static/style.css" => Some(("style.css", "text/css; charset=utf-8")),
                    _ => None,
                };
                match file.and_then(|(f, t)| std::fs::read(dir.join(f)).ok().map(|b| (t, b))) {
                    Some((t, body)) if t == HTML => {
                        let page = String::from_utf8(body)
                            .expect("the page is UTF-8")
                            .replacen(
                                r#"<meta name="cartseal-api-origins" content="">"#,
                                &format!(
                                    r#"<meta name="cartseal-api-origins" content="{api_origins}">"#
                                ),
                                1,
                            );
                        ("200 OK", t, page.into_bytes())
                    }
                    Some((t, body)) => ("200 OK", t, body),
                    None => ("404 Not Found", "text/plain", b"not found".to_vec()),
                }
            }
            _ => ("404 Not Found", "text/plain", b"not found".to_vec()),
        }
    }
}

/// A listener on a free port of 127.0.0.1 for a site, and the site's origin
/// with `host` for its host (`localhost` and `127.0.0.1` are different sites
/// to a browser).
pub(super) async fn bind_site(host: &str) -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a site");
    let origin = format!("http://{host}:{}", listener.local_addr().unwrap().port());
    (listener, origin)
}

/// A minimal HTTP/1.1 server on the test's runtime: GET only, one response per
/// connection.
pub(super) fn serve_site(listener: tokio::net::TcpListener, site: Site) {
    let site = Arc::new(site);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let site = site.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let target = head.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/");
                let (status, ctype, body) = site.respond(path);
                let header = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
                     Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(header.as_bytes()).await;
                let _ = sock.write_all(&body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
}

/// A page on a foreign origin that tries to put `sku` into the visitor's cart
/// (and to read it) in every way a page can: a CORS JSON POST (needs a
/// preflight), a no-cors text/plain POST (no preflight: only the server's Origin
/// and content-type checks stop it), a classic form POST, and a CORS read.
fn attack_page(api: &str, sku: &str) -> String {
    const TEMPLATE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Win a prize</title></head>
<body>
<h1>Nothing to see here</h1>
<iframe name="sink" id="sink" style="display:none"></iframe>
<form id="form" method="POST" action="__API__/cart/items" enctype="text/plain" target="sink">
  <input type="hidden" name='{"sku":"__SKU__","quantity":7,"pad":"' value='"}'>
</form>
<script>
const API = __API_JSON__;
const SKU = __SKU_JSON__;
const results = {};
window.results = results;
async function attempt(name, run) {
  try { results[name] = await run(); } catch (e) { results[name] = "blocked: " + e.name; }
}
(async () => {
  await attempt("cors_json_post", async () => {
    const r = await fetch(API + "/cart/items", {
      method: "POST", credentials: "include",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sku: SKU, quantity: 3 }),
    });
    return "status " + r.status;
  });
  await attempt("no_cors_text_post", async () => {
    const r = await fetch(API + "/cart/items", {
      method: "POST", mode: "no-cors", credentials: "include",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ sku: SKU, quantity: 5 }),
    });
    return "sent (" + r.type + " response)";
  });
  await attempt("cors_read", async () => {
    const r = await fetch(API + "/cart", { credentials: "include" });
    return "read " + (await r.text()).length + " bytes";
  });
  await attempt("form_post", () => new Promise((resolve) => {
    document.getElementById("sink").addEventListener("load", () => resolve("submitted"), { once: true });
    setTimeout(() => resolve("no load event"), 5000);
    document.getElementById("form").submit();
  }));
  document.body.dataset.done = "1";
})();
</script>
</body></html>
"#;
    TEMPLATE
        .replace("__API_JSON__", &json!(api).to_string())
        .replace("__SKU_JSON__", &json!(sku).to_string())
        .replace("__API__", api)
        .replace("__SKU__", sku)
}
