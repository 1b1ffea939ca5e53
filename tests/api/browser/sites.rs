//! A shop page on one site (`localhost:P`) and the API on another
//! (`127.0.0.1:Q`): what a browser does with the cart cookie then, and what
//! the client module makes of it. No add may be lost without an error the
//! page sees. Also: reads through the module are simple requests, with no
//! CORS preflight.

use fantoccini::Client;
use serde_json::{Value, json};

use super::Turn;
use super::origins::{Site, bind_site, serve_site};
use super::page::{catalog, wait_for};
use crate::helpers::BinaryServer;

const ADDS: usize = 8;

/// A shop's own page: the client module loaded from the API (whose demo is
/// off), and a cart made with the options in `?opts=` (JSON). Records the
/// outcome of each call in `window.outcomes`.
pub(super) const SHOP_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>A shop</title></head>
<body>
<script>
  const params = new URLSearchParams(location.search);
  window.API = params.get("api");
  const script = document.createElement("script");
  script.src = window.API + "/static/cartseal-client.js";
  script.onload = () => {
    window.cartClient = CartsealClient.create(Object.assign({ api: window.API }, JSON.parse(params.get("opts") || "{}")));
    window.failed = [];
    window.cartClient.on("failed", (e) => window.failed.push(e.error.code));
    window.shown = null;
    window.cartClient.onChange((view) => { window.shown = view.items.map((i) => i.sku); });
    document.body.dataset.ready = "1";
  };
  script.onerror = () => { document.body.dataset.ready = "no script"; };
  document.head.appendChild(script);
</script>
</body></html>
"#;

/// A browser's turn, [`SHOP_PAGE`] served on another port of 127.0.0.1
/// (its origin), and the shipped service that allows that origin.
pub(super) async fn shop_site() -> (Turn, String, BinaryServer) {
    let turn = Turn::take().await;
    let shop = serve_shop("127.0.0.1").await;
    let server = BinaryServer::spawn_shipped(&[("CARTSEAL__CORS__ALLOWED_ORIGINS", &shop)]);
    (turn, shop, server)
}

/// [`SHOP_PAGE`] served on a free port, and its origin with `host` for its
/// host.
pub(super) async fn serve_shop(host: &str) -> String {
    let (site, origin) = bind_site(host).await;
    serve_site(site, Site::Fixed(SHOP_PAGE.to_owned()));
    origin
}

/// Adds each sku through the module, all at once, and returns each add's
/// outcome: "ok", or the error code the page was given.
async fn add_all(page: &Client, skus: &[String]) -> Vec<String> {
    let outcomes = page
        .execute_async(
            r#"const [skus, done] = arguments;
               Promise.all(skus.map((sku) => window.cartClient.add(sku, 1).then(() => "ok", (e) => e.code || String(e))))
                 .then(done);"#,
            vec![json!(skus)],
        )
        .await
        .expect("add through the module");
    strings(&outcomes)
}

/// The cart as the page's module reads it.
async fn read_cart(page: &Client) -> Vec<String> {
    let skus = page
        .execute_async(
            r#"const done = arguments[0];
               window.cartClient.get().then((v) => done(v.items.map((i) => i.sku)), (e) => done("failed: " + e.code));"#,
            vec![],
        )
        .await
        .expect("read the cart");
    let mut skus = strings(&skus);
    skus.sort();
    skus
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn open(page: &Client, url: &str) {
    page.goto(url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    wait_for(
        page,
        "the shop page to load the client module",
        "return document.body.dataset.ready === '1';",
    )
    .await;
}

/// Every add either is kept, or its failure reached the page: the adds
/// answered "ok" are exactly the lines of the cart the browser holds.
fn assert_no_silent_loss(what: &str, skus: &[String], outcomes: &[String], kept: &[String]) {
    let mut ok: Vec<String> = skus
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| *o == "ok")
        .map(|(s, _)| s.clone())
        .collect();
    ok.sort();
    eprintln!(
        "{what}: {} of {} adds succeeded, {} lines kept, outcomes {outcomes:?}",
        ok.len(),
        skus.len(),
        kept.len()
    );
    assert_eq!(
        ok, kept,
        "{what}: every add the page was told succeeded is kept, and no other"
    );
}

#[tokio::test]
async fn browser_a_shop_on_another_site_loses_no_add_silently() {
    let turn = Turn::take().await;
    // localhost and 127.0.0.1 are different sites to a browser.
    let shop = serve_shop("localhost").await;
    let catalog = catalog();
    let skus: Vec<String> = catalog[..ADDS].iter().map(|p| p.sku.clone()).collect();
    let cors = ("CARTSEAL__CORS__ALLOWED_ORIGINS", shop.as_str());
    let demo_off = ("CARTSEAL__DEMO__ENABLED", "false");

    let page = turn.page();

    // The default cookie (SameSite=Lax): the browser refuses it from a
    // cross-site answer. The module sees that and says so on the first add.
    let lax = BinaryServer::spawn_shipped(&[cors, demo_off]);
    open(page, &format!("{shop}/?api={}", lax.url)).await;
    let outcomes = add_all(page, &skus).await;
    let kept = read_cart(page).await;
    assert_no_silent_loss("SameSite=Lax, cross-site", &skus, &outcomes, &kept);
    assert!(
        outcomes.iter().all(|o| o == "cookie_blocked"),
        "every add was refused as cookie_blocked: {outcomes:?}"
    );

    // The same with the bearer transport: the token stays in the page, so
    // nothing depends on the browser keeping a cookie.
    open(
        page,
        &format!("{shop}/?api={}&opts={{\"transport\":\"bearer\"}}", lax.url),
    )
    .await;
    let outcomes = add_all(page, &skus).await;
    let kept = read_cart(page).await;
    assert_no_silent_loss("bearer, cross-site", &skus, &outcomes, &kept);
    assert_eq!(kept.len(), ADDS, "the bearer transport keeps every add");

    // SameSite=None with Partitioned (CHIPS): a cookie the browser keeps for
    // this API under the shop's site.
    let chips = BinaryServer::spawn_shipped(&[
        cors,
        demo_off,
        ("CARTSEAL__COOKIE__SECURE", "true"),
        ("CARTSEAL__COOKIE__SAME_SITE", "none"),
        ("CARTSEAL__COOKIE__PARTITIONED", "true"),
    ]);
    open(page, &format!("{shop}/?api={}", chips.url)).await;
    let outcomes = add_all(page, &skus).await;
    let kept = read_cart(page).await;
    assert_no_silent_loss(
        "SameSite=None; Partitioned, cross-site",
        &skus,
        &outcomes,
        &kept,
    );
    assert_eq!(kept.len(), ADDS, "a partitioned cookie keeps every add");
    turn.end().await;
}

/// The `OPTIONS` requests the server has answered for `/cart` and
/// `/products`, from its metrics.
async fn read_preflights(server: &BinaryServer) -> u64 {
    let metrics = server.metrics().await;
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("cartseal_http_requests_total{") && l.contains("method=\"OPTIONS\"")
        })
        .filter(|l| l.contains("route=\"/cart\"") || l.contains("route=\"/products\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test]
async fn browser_cross_origin_reads_through_the_module_need_no_preflight() {
    let (turn, shop, server) = shop_site().await;
    let page = turn.page();
    open(page, &format!("{shop}/?api={}", server.url)).await;

    let at_start = read_preflights(&server).await;
    // Before: reads as the module used to send them, with a Content-Type.
    let before = page
        .execute_async(
            r#"const done = arguments[0];
               const read = (path) => fetch(window.API + path, { credentials: "include", cache: "no-store",
                 headers: { "Content-Type": "application/json", Accept: "application/json" } });
               Promise.all([read("/cart"), read("/products"), read("/cart"), read("/products")])
                 .then(() => done("ok"), (e) => done("failed: " + e));"#,
            vec![],
        )
        .await
        .expect("read as before");
    assert_eq!(before, json!("ok"));
    let with_content_type = read_preflights(&server).await - at_start;

    // After: the same reads through the module.
    let after = page
        .execute_async(
            r#"const done = arguments[0];
               Promise.all([window.cartClient.get(), window.cartClient.products(), window.cartClient.get(), window.cartClient.products()])
                 .then(() => done("ok"), (e) => done("failed: " + e.code));"#,
            vec![],
        )
        .await
        .expect("read through the module");
    assert_eq!(after, json!("ok"));
    let through_module = read_preflights(&server).await - at_start - with_content_type;
    eprintln!(
        "OPTIONS for 4 cross-origin reads: {with_content_type} with Content-Type, {through_module} through the module"
    );
    assert!(
        with_content_type > 0,
        "a read with Content-Type is preflighted"
    );
    assert_eq!(
        through_module, 0,
        "reads through the module are not preflighted"
    );
    turn.end().await;
}
