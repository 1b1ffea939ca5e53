//! The cart in the browser: kept across reloads in an HttpOnly cookie, across
//! a killed replica behind nginx, at its limits, and without a catalog.

use fantoccini::Locator;

use super::Turn;
use super::page::*;
use crate::helpers::{BinaryServer, repo};
use crate::process::{Nginx, Routing};

/// Scenarios a and b: build a cart through the UI, reload, and find it intact;
/// the token sits in an HttpOnly, SameSite=Lax cookie that scripts cannot read.
#[tokio::test]
async fn browser_cart_survives_reload_in_an_httponly_cookie() {
    let (turn, server) = Turn::with_shop(&[]).await;
    let page = turn.page();

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

    reload(page).await;
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
        let out = repo().join("docs/img/demo.png");
        std::fs::create_dir_all(out.parent().unwrap()).expect("create docs/img");
        std::fs::write(&out, png).expect("write docs/img/demo.png");
        eprintln!("screenshot saved to {}", out.display());
    }

    turn.end().await;
}

/// Scenario c: two replicas behind nginx round-robin; killing one loses no cart.
#[tokio::test]
async fn browser_cart_survives_a_killed_replica_behind_nginx() {
    let turn = Turn::take().await;
    let mut replica_a = BinaryServer::spawn_shipped(&[]);
    let replica_b = BinaryServer::spawn_shipped(&[]);
    let nginx = Nginx::start(&[replica_a.port, replica_b.port], Routing::RoundRobin);
    let page = turn.page();

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
        reload(page).await;
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
    reload(page).await;
    assert_shows_one_more(
        page,
        &expected,
        &catalog[5].sku,
        "a write after the failover is kept",
    )
    .await;

    turn.end().await;
    drop(nginx);
    drop(replica_b);
}

/// Scenario d: a write over a limit gets `cart_too_large`; the page says so and
/// keeps the last accepted cart, on screen and after a reload. Once for the line
/// limit, once for the token budget.
#[tokio::test]
async fn browser_full_cart_is_refused_and_the_last_accepted_cart_kept() {
    let turn = Turn::take().await;
    let catalog = catalog();
    let page = turn.page();

    // The line limit.
    let five_line_token_length = {
        let server = BinaryServer::spawn_shipped(&[("CARTSEAL__LIMITS__MAX_LINES", "5")]);
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

        assert_a_reload_keeps(page, &accepted).await;
        gauge(page)
            .await
            .length
            .expect("a five-line cart has a token")
    };

    // The token budget: a budget just above what five lines took, so the cart
    // fills up a few lines later (the exact count depends on compression).
    let budget = five_line_token_length + 40;
    let server =
        BinaryServer::spawn_shipped(&[("CARTSEAL__LIMITS__TOKEN_MAX_CHARS", &budget.to_string())]);
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

    assert_a_reload_keeps(page, &accepted).await;

    turn.end().await;
}

/// Without a catalog the page offers a form for any sku, and shows the cart
/// without prices.
#[tokio::test]
async fn browser_shop_without_a_catalog_takes_any_sku() {
    let (turn, server) = Turn::with_shop(&[("CARTSEAL__CATALOG__FILE", "")]).await;
    let page = turn.page();

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

    reload(page).await;
    assert_eq!(
        cart_lines(page).await,
        vec![("ANY-SKU.1".to_owned(), 4)],
        "kept across a reload"
    );

    turn.end().await;
}

/// After a reload the page shows no error and the last accepted cart.
async fn assert_a_reload_keeps(page: &fantoccini::Client, accepted: &[(String, u64)]) {
    reload(page).await;
    assert_no_error(page).await;
    assert_eq!(
        cart_lines(page).await,
        accepted,
        "after a reload the cart is the last accepted one"
    );
}
