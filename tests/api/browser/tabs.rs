//! Two tabs of the shop, one cookie jar, each adding ten products as fast as
//! it can. A write starts from the cookie the browser holds when it leaves,
//! and its answer replaces that cookie: writes that leave on the same cookie
//! overwrite each other's answers, and adds are lost although each was
//! answered 200. Through the client module (`/static/cartseal-client.js`), which runs the writes
//! of all tabs one at a time and tells every tab about the new cart, none is
//! lost and both tabs show the whole cart.

use fantoccini::Client;
use fantoccini::wd::WindowHandle;
use serde_json::{Value, json};

use super::Turn;
use super::page::*;

const ADDS_PER_TAB: usize = 10;

/// How often the uncoordinated race is run before the test gives up on
/// seeing a loss.
const RUNS: usize = 5;

/// A tab adds a product by calling the API itself, as a page without the
/// client module does: no serialization on the client's side at all.
const DIRECT_FETCH: &str = r#"(sku) => fetch("/cart/items", {
    method: "POST",
    credentials: "include",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sku, quantity: 1 }),
  }).then((r) => r.status)"#;

/// A tab adds a product through cartseal-client.js, as a shop page does.
const THROUGH_THE_CLIENT: &str = r#"((cart) => (sku) => cart.add(sku, 1).then(() => 200, (e) => e.code))(
    CartsealClient.create({ api: "" }))"#;

/// The same, in a browser without Web Locks.
const THROUGH_THE_CLIENT_WITHOUT_WEB_LOCKS: &str = r#"(() => {
    Object.defineProperty(navigator, "locks", { value: undefined, configurable: true });
    if (navigator.locks) throw new Error("navigator.locks could not be hidden");
    const cart = CartsealClient.create({ api: "" });
    return (sku) => cart.add(sku, 1).then(() => 200, (e) => e.code);
  })()"#;

/// Without coordination between the tabs (or between requests), the cart
/// keeps fewer lines than were added. This is the loss the client module
/// exists to prevent; the test fails if no run of the race loses an add.
#[tokio::test]
async fn browser_two_tabs_writing_at_once_without_coordination_lose_adds() {
    let (turn, server) = Turn::with_shop(&[]).await;
    let page = turn.page();
    let plan = open_two_tabs(page, &server.url).await;
    let added = plan.iter().map(|(_, skus)| skus.len()).sum::<usize>();

    let mut survived = Vec::new();
    for run in 1..=RUNS {
        page.delete_all_cookies()
            .await
            .expect("start the run with no cart");
        race_answered(page, &plan, DIRECT_FETCH, &format!("run {run}: ")).await;
        let lines = server_cart(page).await.len();
        eprintln!("run {run}: {lines} of {added} lines survived without coordination");
        survived.push(lines);
        if lines < added {
            break;
        }
    }
    assert!(
        survived.iter().any(|&lines| lines < added),
        "in {RUNS} runs no add was lost ({survived:?} of {added} lines): the race did not happen"
    );

    turn.end().await;
}

/// The same race through the client module: its Web Lock runs the twenty
/// writes one at a time, each on the cookie the previous one set, so every
/// add is kept; and both tabs, told over the BroadcastChannel, show the
/// whole cart without a reload.
#[tokio::test]
async fn browser_two_tabs_writing_at_once_through_the_client_module_keep_every_add() {
    let (turn, server) = Turn::with_shop(&[]).await;
    let page = turn.page();
    let plan = open_two_tabs(page, &server.url).await;
    for (tab, _) in &plan {
        switch(page, tab).await;
        page.execute("window.sameDocument = true; return true;", vec![])
            .await
            .expect("mark the document");
    }

    race_answered(page, &plan, THROUGH_THE_CLIENT, "").await;
    let expected = all_skus(&plan);
    let kept = sorted(server_cart(page).await);
    eprintln!(
        "{} of {} lines survived through the client module",
        kept.len(),
        expected.len()
    );
    assert_eq!(kept, expected, "every add is kept");

    for (n, (tab, _)) in plan.iter().enumerate() {
        switch(page, tab).await;
        assert_shows(page, &expected, &format!("tab {n}")).await;
        let same = page
            .execute("return window.sameDocument === true;", vec![])
            .await
            .expect("read the mark");
        assert_eq!(same, json!(true), "tab {n} was not reloaded");
    }

    turn.end().await;
}

/// Without Web Locks the client still sends the writes of its tab one at a
/// time, and still tells the page about the new cart.
#[tokio::test]
async fn browser_without_web_locks_the_client_module_keeps_every_add_of_its_tab() {
    let (turn, server) = Turn::with_shop(&[]).await;
    let page = turn.page();
    open_shop(page, &server.url).await;
    let tab = page.window().await.expect("the tab");
    let plan = plan(&[tab]);

    race_answered(page, &plan, THROUGH_THE_CLIENT_WITHOUT_WEB_LOCKS, "").await;
    let expected = all_skus(&plan);
    assert_eq!(
        sorted(server_cart(page).await),
        expected,
        "every add is kept"
    );
    assert_shows(page, &expected, "the tab").await;

    turn.end().await;
}

/// Runs the race, and asserts that every add was answered 200 (`which`
/// starts the message).
async fn race_answered(
    page: &Client,
    plan: &[(WindowHandle, Vec<String>)],
    add: &str,
    which: &str,
) {
    let answers = race(page, plan, add).await;
    assert!(
        answers.iter().all(|a| *a == json!(200)),
        "{which}every add is answered 200: {answers:?}"
    );
}

/// Waits until the page shows as many lines as `skus`, then checks they are
/// those, one of each, and no error.
async fn assert_shows(page: &Client, skus: &[String], which: &str) {
    wait_for(
        page,
        &format!("{which} to show all {} lines", skus.len()),
        &format!(
            "return document.querySelectorAll('[data-line]').length === {};",
            skus.len()
        ),
    )
    .await;
    let mut shown = cart_lines(page).await;
    shown.sort();
    let expected: Vec<(String, u64)> = skus.iter().map(|s| (s.clone(), 1)).collect();
    assert_eq!(shown, expected, "{which} shows the whole cart");
    assert_no_error(page).await;
}

fn all_skus(plan: &[(WindowHandle, Vec<String>)]) -> Vec<String> {
    sorted(plan.iter().flat_map(|(_, skus)| skus.clone()).collect())
}

fn sorted(mut skus: Vec<String>) -> Vec<String> {
    skus.sort();
    skus
}

/// The shop in the current tab and in a second one.
async fn open_two_tabs(page: &Client, url: &str) -> Vec<(WindowHandle, Vec<String>)> {
    open_shop(page, url).await;
    let first = page.window().await.expect("the first tab");
    let second = page.new_window(true).await.expect("a second tab").handle;
    page.switch_to_window(second.clone())
        .await
        .expect("switch to the second tab");
    open_shop(page, url).await;
    plan(&[first, second])
}

/// Ten different products for each tab, twenty in all.
pub(super) fn plan(tabs: &[WindowHandle]) -> Vec<(WindowHandle, Vec<String>)> {
    let catalog = catalog();
    assert!(
        catalog.len() >= tabs.len() * ADDS_PER_TAB,
        "the catalog has a product for every add"
    );
    tabs.iter()
        .zip(catalog.chunks(ADDS_PER_TAB))
        .map(|(tab, products)| {
            (
                tab.clone(),
                products.iter().map(|p| p.sku.clone()).collect(),
            )
        })
        .collect()
}

/// Arms every tab to add its products with `add` (a JavaScript function of a
/// sku that returns a promise of its outcome) as soon as the race starts,
/// all at once and without waiting for an answer; starts the race in every
/// tab at once with one BroadcastChannel message; and returns the outcomes.
pub(super) async fn race(
    page: &Client,
    plan: &[(WindowHandle, Vec<String>)],
    add: &str,
) -> Vec<Value> {
    let arm = format!(
        r#"const skus = arguments[0];
           const add = {add};
           window.race = null;
           const start = new BroadcastChannel("race-start");
           start.onmessage = () => {{
             start.close();
             const outcomes = skus.map((sku) =>
               Promise.resolve().then(() => add(sku)).catch((e) => "failed: " + e));
             Promise.all(outcomes).then((all) => {{ window.race = all; }});
           }};
           return true;"#
    );
    for (tab, skus) in plan {
        switch(page, tab).await;
        let armed = page
            .execute(&arm, vec![json!(skus)])
            .await
            .expect("arm the tab");
        assert_eq!(armed, json!(true));
    }
    page.execute(
        r#"new BroadcastChannel("race-start").postMessage("go"); return true;"#,
        vec![],
    )
    .await
    .expect("start the race");

    race_outcomes(page, plan.iter().map(|(tab, _)| tab)).await
}

/// The skus of the cart the browser's cookie holds, as the server reads it.
async fn server_cart(page: &Client) -> Vec<String> {
    let skus = page
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               fetch("/cart", { credentials: "include", cache: "no-store" })
                 .then((r) => r.json())
                 .then((view) => done(view.items.map((item) => item.sku)))
                 .catch((e) => done("failed: " + e));"#,
            vec![],
        )
        .await
        .expect("read the cart");
    skus.as_array()
        .unwrap_or_else(|| panic!("GET /cart: {skus}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_owned())
        .collect()
}
