//! Driving the demo page: what a user does, and what the page shows.

use std::time::{Duration, Instant};

use fantoccini::cookies::Cookie;
use fantoccini::wd::WindowHandle;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::PATIENCE;
use crate::helpers::{Product, shipped_catalog};

pub async fn open_shop(page: &Client, url: &str) {
    page.goto(url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
    wait_ready(page).await;
}

/// Reloads the page and waits until it has rendered the cart.
pub async fn reload(page: &Client) {
    page.refresh().await.expect("reload the page");
    wait_ready(page).await;
}

pub async fn wait_ready(page: &Client) {
    wait_for(
        page,
        "the page to render the cart",
        "return document.body.dataset.ready === '1';",
    )
    .await;
}

pub async fn renders(page: &Client) -> u64 {
    let v = page
        .execute("return document.body.dataset.renders || '0';", vec![])
        .await
        .expect("read render count");
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Runs `act`, then waits until the page has rendered the cart again (after a
/// success or an error alike).
pub async fn and_rerender<F: std::future::Future<Output = ()>>(page: &Client, what: &str, act: F) {
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

pub async fn add_product(page: &Client, sku: &str) {
    let selector = format!("[data-add=\"{sku}\"]");
    click(page, &format!("adding {sku}"), &selector).await;
}

/// Types into the line's quantity field the way a user does: a new value, then
/// a `change` event (fired on blur or Enter).
pub async fn set_quantity(page: &Client, sku: &str, quantity: u32) {
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

pub async fn remove_line(page: &Client, sku: &str) {
    let selector = format!("[data-line][data-sku=\"{sku}\"] button[data-remove]");
    click(page, &format!("removing {sku}"), &selector).await;
}

/// Clicks what `selector` finds, and waits until the page has rendered the
/// cart again.
async fn click(page: &Client, what: &str, selector: &str) {
    and_rerender(page, what, async {
        let button = page
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("nothing to click at {selector}: {e}"));
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {selector}: {e}"));
    })
    .await;
}

/// The cart on screen: (sku, quantity) per line, in display order.
pub async fn cart_lines(page: &Client) -> Vec<(String, u64)> {
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

pub async fn text(page: &Client, id: &str) -> String {
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

pub async fn attr(page: &Client, id: &str, name: &str) -> String {
    let el = page
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"));
    el.attr(name)
        .await
        .unwrap_or_else(|e| panic!("{name} of #{id}: {e}"))
        .unwrap_or_default()
}

pub async fn error_code(page: &Client) -> String {
    attr(page, "error", "data-code").await
}

pub async fn assert_no_error(page: &Client) {
    let message = text(page, "error").await;
    assert!(
        message.is_empty(),
        "the page shows an error: {message:?} (code {:?})",
        error_code(page).await
    );
}

pub async fn assert_error_code(page: &Client, code: &str) {
    let message = text(page, "error").await;
    assert_eq!(
        error_code(page).await,
        code,
        "error code on the page (message {message:?})"
    );
    assert!(!message.is_empty(), "the {code} message must be visible");
}

#[derive(Debug)]
pub struct Gauge {
    pub length: Option<usize>,
    pub budget: Option<usize>,
    pub text: String,
}

pub async fn gauge(page: &Client) -> Gauge {
    Gauge {
        length: attr(page, "token-gauge", "data-length").await.parse().ok(),
        budget: attr(page, "token-gauge", "data-budget").await.parse().ok(),
        text: text(page, "token-gauge").await,
    }
}

pub async fn cart_cookie(page: &Client) -> Cookie<'static> {
    let cookies = page.get_all_cookies().await.expect("read the cookie jar");
    let names: Vec<_> = cookies.iter().map(|c| c.name().to_owned()).collect();
    cookies
        .into_iter()
        .find(|c| c.name() == "cart")
        .unwrap_or_else(|| panic!("no `cart` cookie in the browser; cookies: {names:?}"))
}

/// Polls `script` (which returns a boolean) until it is true.
pub async fn wait_for(page: &Client, what: &str, script: &str) {
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

/// Waits until `script` is true (as [`wait_for`]), then returns what `read`
/// returns.
pub async fn wait_then_read(page: &Client, what: &str, script: &str, read: &str) -> Value {
    wait_for(page, what, script).await;
    page.execute(read, vec![])
        .await
        .unwrap_or_else(|e| panic!("read {read:?} after {what}: {e}"))
}

pub async fn switch(page: &Client, tab: &WindowHandle) {
    page.switch_to_window(tab.clone())
        .await
        .expect("switch to a tab");
}

/// The outcomes of the adds each tab raced (`window.race`, an array once
/// they are all answered), tab after tab.
pub async fn race_outcomes<'a>(
    page: &Client,
    tabs: impl IntoIterator<Item = &'a WindowHandle>,
) -> Vec<Value> {
    let mut outcomes = Vec::new();
    for tab in tabs {
        switch(page, tab).await;
        let answers = wait_then_read(
            page,
            "the tab's adds to be answered",
            "return Array.isArray(window.race);",
            "return window.race;",
        )
        .await;
        outcomes.extend(answers.as_array().expect("an array of outcomes").clone());
    }
    outcomes
}

/// Asserts that the page shows the cart `before` with one more line: one
/// of `sku`.
pub async fn assert_shows_one_more(page: &Client, before: &[(String, u64)], sku: &str, why: &str) {
    let mut after = before.to_vec();
    after.push((sku.to_owned(), 1));
    assert_eq!(cart_lines(page).await, after, "{why}");
}

// ---------------------------------------------------------------------------
// The catalog the server is configured with
// ---------------------------------------------------------------------------

/// The shipped catalog, which the browser tests need ten products of.
pub fn catalog() -> Vec<Product> {
    let products = shipped_catalog();
    assert!(
        products.len() >= 10,
        "the browser tests need a catalog of at least 10 products"
    );
    products
}
