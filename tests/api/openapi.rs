//! The served OpenAPI document against the running service: every
//! operation it lists is answered (never 404 `not_found` or 405), and each
//! documented path's `Allow` lists exactly the methods the document gives
//! it (plus HEAD, which every GET answers). src/http/openapi.rs checks the
//! document against the route table itself.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn the_document_and_the_service_agree_on_every_path_and_method() {
    let app = spawn_app_with(|s| s.demo.enabled = true).await;
    let first = app.client.get("/openapi.json").send().await;
    assert_eq!(first.status, 200);
    let again = app.client.get("/openapi.json").send().await;
    assert_eq!(first.text, again.text, "the same bytes on every request");
    let paths = first.body["paths"].as_object().expect("paths");
    assert!(paths.len() >= 10, "{}", first.text);
    for (path, item) in paths {
        let concrete = path.replace("{line}", "TEE-100");
        let mut documented = BTreeSet::new();
        for method in item.as_object().expect("a path item").keys() {
            if method == "parameters" {
                continue;
            }
            let method = method.to_uppercase();
            let reply = app
                .client
                .request(Method::from_bytes(method.as_bytes()).unwrap(), &concrete)
                .send()
                .await;
            let code = reply.body["code"].as_str().unwrap_or_default();
            assert!(
                reply.status != 405 && code != "not_found",
                "{method} {path} is documented but answers {}: {}",
                reply.status,
                reply.text
            );
            if method == "GET" {
                documented.insert("HEAD".to_owned());
            }
            documented.insert(method);
        }
        let refused = app.client.request(Method::PUT, &concrete).send().await;
        assert_eq!(refused.status, 405, "PUT {path}");
        let allow: BTreeSet<String> = refused.headers["allow"]
            .to_str()
            .unwrap()
            .split(", ")
            .map(str::to_owned)
            .collect();
        assert_eq!(allow, documented, "{path}: Allow against the document");
    }
    assert_eq!(
        first.body["components"]["schemas"]["CartView"]["type"],
        Value::from("object")
    );
}
