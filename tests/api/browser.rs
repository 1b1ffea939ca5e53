//! The demo shop page in a real browser.
//!
//! Debian's chromium is driven through chromedriver (WebDriver, via `fantoccini`)
//! against the real `cartseal` binary, started as a black box on port 0. These
//! tests check what only a browser can show: that the HttpOnly cookie really is
//! invisible to scripts, that the cart survives reloads and a killed replica, that
//! the page reports a full cart, and that the browser's own CORS and CSRF
//! behaviour keeps a foreign page from changing the cart.
//!
//! chromium, chromedriver and nginx are required: a missing tool fails the test
//! loudly instead of skipping it. Browser tests run one at a time (a 2-core
//! machine cannot run several chromiums and servers at once reliably).
//!
//! `CARTSEAL_SCREENSHOT=1` also saves `docs/img/demo.png`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use fantoccini::cookies::Cookie;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::ChildGuard as Guarded;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const NGINX: &str = "/usr/sbin/nginx";

/// How long any single wait (a process starting, a page rendering) may take.
const PATIENCE: Duration = Duration::from_secs(30);

/// Browser tests take turns; see the module doc.
static ONE_BROWSER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// Scenarios a and b: build a cart through the UI, reload, and find it intact;
/// the token sits in an HttpOnly, SameSite=Lax cookie that scripts cannot read.
#[tokio::test]
async fn browser_cart_survives_reload_in_an_httponly_cookie() {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let server = CartsealServer::spawn(&[]);
    let browser = Browser::launch().await;
    let page = &browser.client;

    open_shop(page, &server.url).await;
    assert_eq!(
        cart_lines(page).await,
        vec![],
        "a new visitor starts with an empty cart"
    );
    assert!(
        gauge(page).await.length.is_none(),
        "no token is issued before the first write: {:?}",
        gauge(page).await
    );

    let catalog = catalog();
    let [a, b, c] = [&catalog[0], &catalog[1], &catalog[2]];
    add_product(page, &a.sku).await;
    add_product(page, &b.sku).await;
    add_product(page, &c.sku).await;
    set_quantity(page, &b.sku, 3).await;
    remove_line(page, &a.sku).await;
    assert_no_error(page).await;

    let expected = vec![(b.sku.clone(), 3), (c.sku.clone(), 1)];
    assert_eq!(
        cart_lines(page).await,
        expected,
        "the cart after add, change and remove"
    );
    assert_eq!(
        text(page, "item-count").await,
        "4",
        "item count is the sum of quantities"
    );
    assert_eq!(
        attr(page, "subtotal", "data-minor").await,
        (3 * b.unit_price + c.unit_price).to_string(),
        "subtotal in minor units"
    );

    page.refresh().await.expect("reload the page");
    wait_ready(page).await;
    assert_eq!(
        cart_lines(page).await,
        expected,
        "the cart is exactly as before the reload"
    );
    assert_eq!(text(page, "item-count").await, "4");
    assert_no_error(page).await;

    // Scenario b: the token is in the cookie jar, but no script can read it.
    let visible_to_scripts = page
        .execute("return document.cookie;", vec![])
        .await
        .expect("read document.cookie");
    let visible_to_scripts = visible_to_scripts.as_str().unwrap_or_default().to_owned();
    let cookie = cart_cookie(page).await;
    assert!(
        !visible_to_scripts.contains("cart=") && !visible_to_scripts.contains(cookie.value()),
        "document.cookie must not expose the cart token, got {visible_to_scripts:?}"
    );
    assert_eq!(
        cookie.http_only(),
        Some(true),
        "cookie must be HttpOnly: {cookie:?}"
    );
    assert_eq!(
        cookie.same_site().map(|s| s.to_string()).as_deref(),
        Some("Lax"),
        "cookie must be SameSite=Lax: {cookie:?}"
    );
    assert_eq!(
        cookie.path(),
        Some("/"),
        "cookie must have Path=/: {cookie:?}"
    );

    let g = gauge(page).await;
    assert_eq!(
        g.length,
        Some(cookie.value().len()),
        "the gauge shows the length of the token the browser holds ({g:?})"
    );
    assert_eq!(
        g.budget,
        Some(3800),
        "the gauge shows the configured budget ({g:?})"
    );
    assert!(
        g.text.contains(&cookie.value().len().to_string()) && g.text.contains("3800"),
        "gauge text names both numbers: {:?}",
        g.text
    );

    if std::env::var("CARTSEAL_SCREENSHOT").as_deref() == Ok("1") {
        add_product(page, &catalog[4].sku).await;
        add_product(page, &catalog[7].sku).await;
        set_quantity(page, &catalog[7].sku, 2).await;
        page.execute("window.scrollTo(0, 0);", vec![])
            .await
            .expect("scroll to top");
        let png = page.screenshot().await.expect("take a screenshot");
        let out = manifest_dir().join("docs/img/demo.png");
        std::fs::create_dir_all(out.parent().unwrap()).expect("create docs/img");
        std::fs::write(&out, png).expect("write docs/img/demo.png");
        eprintln!("screenshot saved to {}", out.display());
    }

    browser.quit().await;
}

/// Scenario c: two replicas behind nginx round-robin; killing one loses no cart.
#[tokio::test]
async fn browser_cart_survives_a_killed_replica_behind_nginx() {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let mut replica_a = CartsealServer::spawn(&[]);
    let replica_b = CartsealServer::spawn(&[]);
    let nginx = Nginx::spawn(&[replica_a.port, replica_b.port]);
    let browser = Browser::launch().await;
    let page = &browser.client;

    open_shop(page, &nginx.url).await;
    let catalog = catalog();
    for p in &catalog[..4] {
        add_product(page, &p.sku).await;
    }
    set_quantity(page, &catalog[1].sku, 5).await;
    assert_no_error(page).await;
    let expected = cart_lines(page).await;
    assert_eq!(expected.len(), 4, "four lines were added: {expected:?}");

    let log = nginx.access_log();
    for port in [replica_a.port, replica_b.port] {
        assert!(
            log.contains(&format!("upstream=127.0.0.1:{port}")),
            "round robin must have used replica on port {port}; nginx access log:\n{log}"
        );
    }

    replica_a.kill();
    for attempt in 1..=6 {
        page.refresh().await.expect("reload the page");
        wait_ready(page).await;
        assert_no_error(page).await;
        assert_eq!(
            cart_lines(page).await,
            expected,
            "reload {attempt} after one replica died: the cart must be intact"
        );
    }

    // The survivor also takes writes on tokens that the dead replica sealed.
    add_product(page, &catalog[5].sku).await;
    assert_no_error(page).await;
    page.refresh().await.expect("reload the page");
    wait_ready(page).await;
    let mut grown = expected.clone();
    grown.push((catalog[5].sku.clone(), 1));
    assert_eq!(
        cart_lines(page).await,
        grown,
        "a write after the failover is kept"
    );

    browser.quit().await;
    drop(nginx);
    drop(replica_b);
}

/// Scenario d: a write over a limit gets `cart_too_large`; the page says so and
/// keeps the last accepted cart, on screen and after a reload. Once for the line
/// limit, once for the token budget.
#[tokio::test]
async fn browser_full_cart_is_refused_and_the_last_accepted_cart_kept() {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let catalog = catalog();
    let browser = Browser::launch().await;
    let page = &browser.client;

    // The line limit.
    let five_line_token_length = {
        let server = CartsealServer::spawn(&[("CARTSEAL__LIMITS__MAX_LINES", "5".into())]);
        open_shop(page, &server.url).await;
        for p in &catalog[..5] {
            add_product(page, &p.sku).await;
            assert_no_error(page).await;
        }
        let accepted = cart_lines(page).await;
        assert_eq!(accepted.len(), 5);

        add_product(page, &catalog[5].sku).await;
        assert_error_code(page, "cart_too_large").await;
        let message = text(page, "error").await;
        assert!(
            message.contains("cart is full"),
            "a readable message, got {message:?}"
        );
        assert_eq!(
            cart_lines(page).await,
            accepted,
            "a refused add leaves the cart on screen as it was"
        );

        page.refresh().await.expect("reload the page");
        wait_ready(page).await;
        assert_no_error(page).await;
        assert_eq!(
            cart_lines(page).await,
            accepted,
            "after a reload the cart is the last accepted one"
        );
        gauge(page)
            .await
            .length
            .expect("a five-line cart has a token")
    };

    // The token budget: a budget just above what five lines took, so the cart
    // fills up a few lines later (the exact count depends on compression).
    let budget = five_line_token_length + 40;
    let server =
        CartsealServer::spawn(&[("CARTSEAL__LIMITS__TOKEN_MAX_CHARS", budget.to_string())]);
    page.goto(&server.url).await.expect("open the shop");
    page.delete_all_cookies()
        .await
        .expect("forget the previous server's cart");
    open_shop(page, &server.url).await;
    assert_eq!(cart_lines(page).await, vec![]);

    let mut accepted = vec![];
    let mut refused = None;
    for p in &catalog {
        add_product(page, &p.sku).await;
        if error_code(page).await.is_empty() {
            accepted = cart_lines(page).await;
            let g = gauge(page).await;
            let len = g.length.expect("an accepted cart has a token");
            assert!(
                len <= budget,
                "an accepted token ({len}) stays within the budget ({budget})"
            );
            assert_eq!(
                g.budget,
                Some(budget),
                "the gauge shows the configured budget"
            );
        } else {
            refused = Some(p.sku.clone());
            break;
        }
    }
    let refused = refused.unwrap_or_else(|| {
        panic!("a {budget}-character budget should fill up before the catalog runs out")
    });
    assert!(
        !accepted.is_empty(),
        "at least one line fits in a {budget}-character budget"
    );
    assert_error_code(page, "cart_too_large").await;
    assert_eq!(
        cart_lines(page).await,
        accepted,
        "refusing {refused} leaves the cart as it was"
    );

    page.refresh().await.expect("reload the page");
    wait_ready(page).await;
    assert_no_error(page).await;
    assert_eq!(
        cart_lines(page).await,
        accepted,
        "after a reload the cart is the last accepted one"
    );

    browser.quit().await;
}

/// Scenario e: a page from a foreign origin cannot change the cart even though
/// the browser holds the cookie (127.0.0.1 on another port is same-site, so
/// SameSite=Lax does not stop it: the server's Origin check and CORS must), while
/// the shop page served from an allowed origin (`?api=` mode) can.
#[tokio::test]
async fn browser_only_allowed_origins_can_change_the_cart() {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let friend = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind friend site");
    let stranger = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind stranger site");
    let friend_origin = format!("http://127.0.0.1:{}", friend.local_addr().unwrap().port());
    let stranger_origin = format!("http://127.0.0.1:{}", stranger.local_addr().unwrap().port());

    let server =
        CartsealServer::spawn(&[("CARTSEAL__CORS__ALLOWED_ORIGINS", friend_origin.clone())]);
    let catalog = catalog();
    let planted = &catalog[catalog.len() - 1].sku;
    serve_site(friend, Site::Shop(manifest_dir().join("static")));
    serve_site(stranger, Site::Fixed(attack_page(&server.url, planted)));

    let browser = Browser::launch().await;
    let page = &browser.client;

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
    wait_for(
        page,
        "the attack page to finish",
        "return document.body.dataset.done === '1';",
    )
    .await;
    let outcome = page
        .execute("return window.results;", vec![])
        .await
        .expect("read results");
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
    let mut after = before.clone();
    after.push((catalog[2].sku.clone(), 1));
    assert_eq!(
        cart_lines(page).await,
        after,
        "an allowed origin can change the cart"
    );

    open_shop(page, &server.url).await;
    assert_eq!(
        cart_lines(page).await,
        after,
        "the change made from the allowed origin is kept"
    );

    browser.quit().await;
}

/// Without a catalog the page offers a form for any sku, and shows the cart
/// without prices.
#[tokio::test]
async fn browser_shop_without_a_catalog_takes_any_sku() {
    let _turn = ONE_BROWSER_AT_A_TIME.lock().await;
    let server = CartsealServer::spawn(&[("CARTSEAL__CATALOG__FILE", String::new())]);
    let browser = Browser::launch().await;
    let page = &browser.client;

    open_shop(page, &server.url).await;
    let buttons = page
        .find_all(Locator::Css("[data-add]"))
        .await
        .expect("find add buttons");
    assert!(buttons.is_empty(), "no catalog, no product cards");
    let form = page
        .find(Locator::Id("add-sku-form"))
        .await
        .expect("the sku form");
    assert!(
        form.is_displayed().await.expect("form visibility"),
        "the sku form is shown"
    );

    let sku = page
        .find(Locator::Id("sku-input"))
        .await
        .expect("the sku field");
    sku.send_keys("ANY-SKU.1").await.expect("type a sku");
    and_rerender(page, "adding ANY-SKU.1", async {
        let submit = page
            .find(Locator::Css("#add-sku-form button[type=submit]"))
            .await
            .expect("the form's button");
        submit.click().await.expect("submit the form");
    })
    .await;
    assert_no_error(page).await;
    set_quantity(page, "ANY-SKU.1", 4).await;
    assert_no_error(page).await;

    assert_eq!(cart_lines(page).await, vec![("ANY-SKU.1".to_owned(), 4)]);
    assert_eq!(text(page, "item-count").await, "4");
    assert_eq!(
        text(page, "subtotal").await,
        "\u{2014}",
        "no catalog, no subtotal"
    );
    assert_eq!(attr(page, "subtotal", "data-minor").await, "");

    page.refresh().await.expect("reload the page");
    wait_ready(page).await;
    assert_eq!(
        cart_lines(page).await,
        vec![("ANY-SKU.1".to_owned(), 4)],
        "kept across a reload"
    );

    browser.quit().await;
}

// ---------------------------------------------------------------------------
// Driving the page
// ---------------------------------------------------------------------------

async fn open_shop(page: &Client, url: &str) {
    page.goto(url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    wait_ready(page).await;
}

async fn wait_ready(page: &Client) {
    wait_for(
        page,
        "the page to render the cart",
        "return document.body.dataset.ready === '1';",
    )
    .await;
}

async fn renders(page: &Client) -> u64 {
    let v = page
        .execute("return document.body.dataset.renders || '0';", vec![])
        .await
        .expect("read render count");
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Runs `act`, then waits until the page has rendered the cart again (after a
/// success or an error alike).
async fn and_rerender<F: std::future::Future<Output = ()>>(page: &Client, what: &str, act: F) {
    let before = renders(page).await;
    act.await;
    let deadline = Instant::now() + PATIENCE;
    while renders(page).await <= before {
        if Instant::now() > deadline {
            panic!("the page did not re-render after {what} within {PATIENCE:?}");
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

async fn add_product(page: &Client, sku: &str) {
    let selector = format!("[data-add=\"{sku}\"]");
    and_rerender(page, &format!("adding {sku}"), async {
        let button = page
            .find(Locator::Css(&selector))
            .await
            .unwrap_or_else(|e| panic!("no add button {selector}: {e}"));
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {selector}: {e}"));
    })
    .await;
}

/// Types into the line's quantity field the way a user does: a new value, then
/// a `change` event (fired on blur or Enter).
async fn set_quantity(page: &Client, sku: &str, quantity: u32) {
    and_rerender(page, &format!("setting {sku} to {quantity}"), async {
        let found = page
            .execute(
                r#"const [sku, qty] = arguments;
                   const row = [...document.querySelectorAll('[data-line]')].find(r => r.dataset.sku === sku);
                   if (!row) return false;
                   const input = row.querySelector('input[data-qty]');
                   input.value = String(qty);
                   input.dispatchEvent(new Event('change', { bubbles: true }));
                   return true;"#,
                vec![json!(sku), json!(quantity)],
            )
            .await
            .expect("set a quantity");
        assert_eq!(found, json!(true), "no cart line for {sku}");
    })
    .await;
}

async fn remove_line(page: &Client, sku: &str) {
    and_rerender(page, &format!("removing {sku}"), async {
        let selector = format!("[data-line][data-sku=\"{sku}\"] button[data-remove]");
        let button = page
            .find(Locator::Css(&selector))
            .await
            .unwrap_or_else(|e| panic!("no remove button {selector}: {e}"));
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {selector}: {e}"));
    })
    .await;
}

/// The cart on screen: (sku, quantity) per line, in display order.
async fn cart_lines(page: &Client) -> Vec<(String, u64)> {
    let v = page
        .execute(
            r#"return [...document.querySelectorAll('[data-line]')].map(row =>
                 [row.dataset.sku, Number(row.querySelector('input[data-qty]').value)]);"#,
            vec![],
        )
        .await
        .expect("read the cart lines");
    v.as_array()
        .expect("an array of lines")
        .iter()
        .map(|l| {
            (
                l[0].as_str().unwrap_or_default().to_owned(),
                l[1].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

async fn text(page: &Client, id: &str) -> String {
    let el = page
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"));
    el.text()
        .await
        .unwrap_or_else(|e| panic!("text of #{id}: {e}"))
        .trim()
        .to_owned()
}

async fn attr(page: &Client, id: &str, name: &str) -> String {
    let el = page
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"));
    el.attr(name)
        .await
        .unwrap_or_else(|e| panic!("{name} of #{id}: {e}"))
        .unwrap_or_default()
}

async fn error_code(page: &Client) -> String {
    attr(page, "error", "data-code").await
}

async fn assert_no_error(page: &Client) {
    let message = text(page, "error").await;
    assert!(
        message.is_empty(),
        "the page shows an error: {message:?} (code {:?})",
        error_code(page).await
    );
}

async fn assert_error_code(page: &Client, code: &str) {
    let message = text(page, "error").await;
    assert_eq!(
        error_code(page).await,
        code,
        "error code on the page (message {message:?})"
    );
    assert!(!message.is_empty(), "the {code} message must be visible");
}

#[derive(Debug)]
struct Gauge {
    length: Option<usize>,
    budget: Option<usize>,
    text: String,
}

async fn gauge(page: &Client) -> Gauge {
    Gauge {
        length: attr(page, "token-gauge", "data-length").await.parse().ok(),
        budget: attr(page, "token-gauge", "data-budget").await.parse().ok(),
        text: text(page, "token-gauge").await,
    }
}

async fn cart_cookie(page: &Client) -> Cookie<'static> {
    let cookies = page.get_all_cookies().await.expect("read the cookie jar");
    let names: Vec<_> = cookies.iter().map(|c| c.name().to_owned()).collect();
    cookies
        .into_iter()
        .find(|c| c.name() == "cart")
        .unwrap_or_else(|| panic!("no `cart` cookie in the browser; cookies: {names:?}"))
}

/// Polls `script` (which returns a boolean) until it is true.
async fn wait_for(page: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match page.execute(script, vec![]).await {
            Ok(Value::Bool(true)) => return,
            Ok(_) => {}
            Err(e) if Instant::now() > deadline => panic!("waiting for {what}: {e}"),
            Err(_) => {}
        }
        if Instant::now() > deadline {
            let body = page.source().await.unwrap_or_default();
            panic!("timed out after {PATIENCE:?} waiting for {what}; page source:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------
// The catalog the server is configured with
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Product {
    sku: String,
    unit_price: u64,
}

fn catalog() -> Vec<Product> {
    let path = manifest_dir().join("catalog/products.json");
    let raw =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let items: Vec<Value> = serde_json::from_str(&raw).expect("catalog is a JSON array");
    let products: Vec<Product> = items
        .iter()
        .map(|p| Product {
            sku: p["sku"].as_str().expect("sku").to_owned(),
            unit_price: p["unit_price"].as_u64().expect("unit_price"),
        })
        .collect();
    assert!(
        products.len() >= 10,
        "the browser tests need a catalog of at least 10 products"
    );
    products
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------
// Processes: cartseal, chromedriver + chromium, nginx
// ---------------------------------------------------------------------------

/// Starts `name` and waits for `on_stdout` to extract a value from a line.
fn spawn_and_wait<T: Send + 'static>(
    name: &str,
    cmd: Command,
    extract: impl Fn(&str) -> Option<T> + Send + 'static,
) -> (Guarded, T) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(Some(tx));
    let mut proc = Guarded::spawn(name, cmd, move |line| {
        if let Some(v) = extract(line)
            && let Some(tx) = tx.lock().unwrap_or_else(|e| e.into_inner()).take()
        {
            let _ = tx.send(v);
        }
    });
    let deadline = Instant::now() + PATIENCE;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(v) => return (proc, v),
            Err(mpsc::RecvTimeoutError::Timeout) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        if let Some(status) = proc.exited() {
            std::thread::sleep(Duration::from_millis(100)); // let the collectors drain
            panic!(
                "{name} exited ({status}) before it was ready; output:\n{}",
                proc.output()
            );
        }
        if Instant::now() > deadline {
            panic!(
                "{name} was not ready within {PATIENCE:?}; output:\n{}",
                proc.output()
            );
        }
    }
}

/// The real `cartseal` binary: `serve --config config.toml --port 0`, cookie
/// transport over plain http (so the cookie is named `cart`).
struct CartsealServer {
    proc: Guarded,
    url: String,
    port: u16,
}

impl CartsealServer {
    fn spawn(env: &[(&str, String)]) -> Self {
        let root = manifest_dir();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cartseal"));
        cmd.current_dir(&root)
            .arg("serve")
            .arg("--config")
            .arg(root.join("config.toml"))
            .args(["--port", "0"]);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CARTSEAL") {
                cmd.env_remove(key);
            }
        }
        cmd.env("CARTSEAL__COOKIE__SECURE", "false");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (proc, url) = spawn_and_wait("cartseal", cmd, |line| {
            line.split_once("cartseal listening on ")
                .map(|(_, url)| url.trim().trim_end_matches('/').to_owned())
        });
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in the listening line: {url}"));
        CartsealServer { proc, url, port }
    }

    /// SIGKILL: the replica dies without draining anything.
    fn kill(&mut self) {
        self.proc.kill();
    }
}

/// chromedriver on a port it picks itself, driving a headless chromium with a
/// fresh profile.
struct Browser {
    client: Client,
    session: Option<String>,
    driver_port: u16,
    driver: Guarded,
    _profile: TempDir,
}

impl Browser {
    async fn launch() -> Self {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: the browser tests need Debian's chromium and chromium-driver \
                 (apt-get install chromium chromium-driver)"
            );
        }
        let profile = tempfile::tempdir().expect("temp profile dir");
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg("--port=0");
        let (driver, driver_port) = spawn_and_wait("chromedriver", cmd, |line| {
            line.split_once("started successfully on port ")
                .and_then(|(_, rest)| rest.trim_end_matches('.').trim().parse::<u16>().ok())
        });

        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": { "pageLoad": 30000, "script": 15000, "implicit": 0 },
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let caps = caps.as_object().unwrap().clone();
        let client = ClientBuilder::rustls()
            .expect("a rustls connector for the WebDriver client")
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start chromium ({CHROMIUM}): {e}"));
        let session = client.session_id().await.ok().flatten();
        Browser {
            client,
            session,
            driver_port,
            driver,
            _profile: profile,
        }
    }

    async fn quit(mut self) {
        if self.client.clone().close().await.is_ok() {
            self.session = None;
        }
    }
}

impl Drop for Browser {
    /// After a panic the async client cannot be awaited any more: end the
    /// WebDriver session with a plain request, so chromedriver closes chromium,
    /// then the guard kills chromedriver's process group.
    fn drop(&mut self) {
        if let Some(session) = self.session.take()
            && let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.driver_port))
        {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(
                s,
                "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n",
                self.driver_port
            );
            let _ = s.read_to_end(&mut Vec::new());
        }
        self.driver.kill();
    }
}

/// nginx round-robin over the replicas, all its files in a temp dir.
struct Nginx {
    proc: Guarded,
    dir: TempDir,
    url: String,
}

impl Nginx {
    fn spawn(upstreams: &[u16]) -> Self {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} is missing: the failover browser test needs Debian's nginx (apt-get install nginx)"
        );
        let mut last_output = String::new();
        // nginx cannot listen on port 0 and report the port, so take a free one
        // from the kernel and retry if another process grabs it first.
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("nginx temp dir");
            let port = free_port();
            let conf = nginx_conf(dir.path(), port, upstreams);
            let conf_path = dir.path().join("nginx.conf");
            std::fs::write(&conf_path, conf).expect("write nginx.conf");
            let mut cmd = Command::new(NGINX);
            cmd.arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf_path)
                .arg("-e")
                .arg(dir.path().join("error.log"));
            let mut proc = Guarded::spawn("nginx", cmd, |_| {});
            let deadline = Instant::now() + PATIENCE;
            loop {
                if proc.exited().is_some() {
                    std::thread::sleep(Duration::from_millis(100));
                    last_output = format!(
                        "{}\n{}",
                        proc.output(),
                        std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
                    );
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Nginx {
                        proc,
                        dir,
                        url: format!("http://127.0.0.1:{port}"),
                    };
                }
                if Instant::now() > deadline {
                    panic!(
                        "nginx did not listen on {port} within {PATIENCE:?}: {}",
                        proc.output()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !last_output.contains("Address already in use") {
                break;
            }
        }
        panic!("nginx did not start; output:\n{last_output}");
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.proc.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- nginx error.log -----\n{}\n----- nginx access.log -----\n{}",
                std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default(),
                self.access_log()
            );
        }
    }
}

fn nginx_conf(dir: &Path, port: u16, upstreams: &[u16]) -> String {
    let d = dir.display();
    let servers: String = upstreams
        .iter()
        .map(|p| format!("        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n"))
        .collect();
    format!(
        r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
    log_format upstreams '$request $status upstream=$upstream_addr';
    access_log {d}/access.log upstreams;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream cartseal {{
{servers}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://cartseal;
            # The browser's Origin names this host: pass it on unchanged.
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_connect_timeout 2s;
            proxy_next_upstream error timeout http_502;
        }}
    }}
}}
"#
    )
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().unwrap().port()
}

// ---------------------------------------------------------------------------
// Second origins: the shop page from an allowed origin, an attacker's page
// ---------------------------------------------------------------------------

enum Site {
    /// The demo page's files, so the page runs from another origin (`?api=`).
    Shop(PathBuf),
    /// One fixed HTML page.
    Fixed(String),
}

impl Site {
    fn respond(&self, path: &str) -> (&'static str, &'static str, Vec<u8>) {
        const HTML: &str = "text/html; charset=utf-8";
        match self {
            Site::Fixed(html) if path == "/" => ("200 OK", HTML, html.clone().into_bytes()),
            Site::Shop(dir) => {
                let file = match path {
                    "/" | "/index.html" => Some(("index.html", HTML)),
                    "/static/app.js" => Some(("app.js", "text/javascript; charset=utf-8")),
                    "/static/style.css" => Some(("style.css", "text/css; charset=utf-8")),
                    _ => None,
                };
                match file.and_then(|(f, t)| std::fs::read(dir.join(f)).ok().map(|b| (t, b))) {
                    Some((t, body)) => ("200 OK", t, body),
                    None => ("404 Not Found", "text/plain", b"not found".to_vec()),
                }
            }
            _ => ("404 Not Found", "text/plain", b"not found".to_vec()),
        }
    }
}

/// A minimal HTTP/1.1 server on the test's runtime: GET only, one response per
/// connection.
fn serve_site(listener: tokio::net::TcpListener, site: Site) {
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
