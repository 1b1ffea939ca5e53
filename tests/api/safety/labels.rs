//! Every metric label comes from a fixed set: a client cannot add series.

use std::collections::BTreeSet;

use crate::helpers::spawn_app;

/// The `method` label of every `cartseal_http_requests_total` series.
fn method_labels(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with("cartseal_http_requests_total{"))
        .filter_map(|l| l.split("method=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_thousand_methods_of_the_clients_choosing_add_no_series() {
    let app = spawn_app().await;
    for i in 0..1000 {
        let method = reqwest::Method::from_bytes(format!("FOOBAR{i}").as_bytes()).unwrap();
        let reply = app.request(method, "/cart").send().await;
        assert_eq!(reply.status, 405, "{}", reply.text);
    }
    let metrics = app.metrics().await;
    let methods = method_labels(&metrics);
    let fixed: BTreeSet<String> = [
        "GET", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS", "PUT", "other",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert!(
        methods.is_subset(&fixed),
        "method labels outside the fixed set: {:?}",
        methods.difference(&fixed).collect::<Vec<_>>()
    );
    assert!(
        methods.contains("other"),
        "the odd methods are counted as other"
    );
    let other_series = metrics
        .lines()
        .filter(|l| {
            l.starts_with("cartseal_http_requests_total{") && l.contains("method=\"other\"")
        })
        .count();
    assert!(
        other_series <= 4,
        "{other_series} series for 1,000 methods:\n{metrics}"
    );
}

#[tokio::test]
async fn the_route_label_is_the_pattern_never_the_path_a_client_chose() {
    let app = spawn_app().await;
    for i in 0..50 {
        let reply = app
            .request(reqwest::Method::DELETE, &format!("/cart/items/made-up-{i}"))
            .send()
            .await;
        assert_eq!(reply.status, 404, "{}", reply.text);
        let reply = app.get(&format!("/nowhere-{i}")).send().await;
        assert_eq!(reply.status, 404, "{}", reply.text);
    }
    let metrics = app.metrics().await;
    let routes: BTreeSet<String> = metrics
        .lines()
        .filter(|l| l.starts_with("cartseal_http_requests_total{"))
        .filter_map(|l| l.split("route=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    assert!(routes.contains("/cart/items/{line}"), "{routes:?}");
    assert!(routes.contains("unmatched"), "{routes:?}");
    assert!(
        routes
            .iter()
            .all(|r| !r.contains("made-up") && !r.contains("nowhere")),
        "{routes:?}"
    );
}

#[tokio::test]
async fn a_preflight_answered_by_the_cors_layer_keeps_its_route_label() {
    let shop = "https://shop.example";
    let app = crate::helpers::spawn_app_with(|s| s.cors.allowed_origins = vec![shop.into()]).await;
    let reply = app
        .request(reqwest::Method::OPTIONS, "/cart/items/some-line")
        .header("Origin", shop)
        .header("Access-Control-Request-Method", "PATCH")
        .send()
        .await;
    assert!(reply.status < 300, "{} {}", reply.status, reply.text);
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("cartseal_http_requests_total{")
                && l.contains("method=\"OPTIONS\"")
                && l.contains("route=\"/cart/items/{line}\"")),
        "{metrics}"
    );
}
