//! The demo page talks only to the API origins configured for it
//! (`demo.api_origins`, apart from CORS), and can be turned off; the client
//! module stays served.

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn the_demo_page_may_connect_only_to_itself_and_the_configured_origins() {
    let app = spawn_app().await;
    let page = app.get("/?api=https://elsewhere.example").send().await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    assert!(!csp.contains('*'), "{csp}");
    assert!(
        page.text
            .contains(r#"<meta name="cartseal-api-origins" content="">"#),
        "no API origin but this one"
    );

    // CORS says which pages may call this API: not what the page may call.
    let app =
        spawn_app_with(|s| s.cors.allowed_origins = vec!["https://shop.example".into()]).await;
    let page = app.get("/").send().await;
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("connect-src 'self';"), "{csp}");

    let shop = "https://cart.shop.example";
    let app = spawn_app_with(|s| s.demo.api_origins = vec![shop.into()]).await;
    let page = app.get("/").send().await;
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains(&format!("connect-src 'self' {shop};")),
        "{csp}"
    );
    assert!(page.text.contains(&format!(
        r#"<meta name="cartseal-api-origins" content="{shop}">"#
    )));
}

#[tokio::test]
async fn the_demo_page_can_be_turned_off() {
    let app = spawn_app_with(|s| s.demo.enabled = false).await;
    for path in ["/", "/static/app.js", "/static/style.css"] {
        app.get(path).send().await.assert_problem(404, "not_found");
    }
    // A shop's own pages load the client module from here.
    assert_eq!(
        app.get("/static/cartseal-client.js").send().await.status,
        200
    );
    assert_eq!(app.get("/cart").send().await.status, 200);
}

#[tokio::test]
async fn the_demo_pages_files_are_served_with_their_type_and_never_sniffed() {
    let app = spawn_app().await;
    for (path, kind) in [
        ("/", "text/html; charset=utf-8"),
        ("/static/app.js", "text/javascript; charset=utf-8"),
        (
            "/static/cartseal-client.js",
            "text/javascript; charset=utf-8",
        ),
        ("/static/style.css", "text/css; charset=utf-8"),
    ] {
        let reply = app.get(path).send().await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some(kind), "{path}");
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-cache"), "{path}");
    }
    let page = app.get("/").send().await;
    let client = page
        .text
        .find("/static/cartseal-client.js")
        .expect("the page loads the cart client");
    let app_js = page
        .text
        .find("/static/app.js")
        .expect("the page loads app.js");
    assert!(
        client < app_js,
        "the cart client loads before the script that uses it"
    );
}
