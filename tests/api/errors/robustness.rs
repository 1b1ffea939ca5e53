//! A store that does not answer is a prompt 503, and no request gets a 500.

use super::*;

// ---------------------------------------------------------------------------
// 503 store_unavailable
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_store_that_does_not_answer_is_503_store_unavailable_not_a_hang() {
    for kind in [StoreKind::Redis, StoreKind::Memcached] {
        a_dead_store_is_503(kind).await;
    }
}

async fn a_dead_store_is_503(kind: StoreKind) {
    let (app, port) = spawn_app_on_a_dead_store(kind).await;
    let session_id = "AAAAAAAAAAAAAAAAAAAAAA".to_owned();
    let requests: Vec<(&str, Method, &str, Auth, Option<serde_json::Value>)> = vec![
        (
            "first add",
            Method::POST,
            "/cart/items",
            Auth::None,
            Some(json!({ "sku": "TEE-100" })),
        ),
        (
            "bearer read",
            Method::GET,
            "/cart",
            Auth::Bearer(session_id.clone()),
            None,
        ),
        (
            "cookie read",
            Method::GET,
            "/cart",
            Auth::Cookie(session_id.clone()),
            None,
        ),
        (
            "bearer add",
            Method::POST,
            "/cart/items",
            Auth::Bearer(session_id.clone()),
            Some(json!({ "sku": "TEE-100" })),
        ),
    ];
    for (what, method, path, auth, body) in requests {
        // A hang guard only: the store's own timeout is 200 ms.
        let reply =
            tokio::time::timeout(Duration::from_secs(30), app.send(method, path, &auth, body))
                .await
                .unwrap_or_else(|_| panic!("{kind:?}, {what}: the request hung"));
        reply.assert_problem(503, "store_unavailable");
        reply.assert_no_new_credential();
        assert!(
            !reply.text.contains(&port.to_string()),
            "{kind:?}, {what}: no store address in the body: {}",
            reply.text
        );
    }
    let ready = app.send(Method::GET, "/readyz", &Auth::None, None).await;
    assert_eq!(ready.status, 503, "{kind:?}, /readyz: {}", ready.text);
}

// ---------------------------------------------------------------------------
// No 500 anywhere
// ---------------------------------------------------------------------------

/// Throws garbage at every endpoint: nothing may answer 5xx, and every
/// error is a problem.
#[tokio::test]
async fn garbage_at_every_endpoint_never_gets_a_500() {
    let app = spawn_app().await;
    let good = client_with_cart(&app, true).await;
    let good = good.token().unwrap().to_owned();
    let endpoints: &[(Method, &str)] = &[
        (Method::GET, "/cart"),
        (Method::POST, "/cart"),
        (Method::DELETE, "/cart"),
        (Method::POST, "/cart/items"),
        (Method::PATCH, "/cart/items/TEE-100"),
        (Method::DELETE, "/cart/items/TEE-100"),
        (Method::PATCH, "/cart/items/%00%ff%2F..%2F"),
        (Method::DELETE, "/cart/items/%E2%82%AC"),
        (Method::POST, "/cart/merge"),
        (Method::GET, "/products"),
        (Method::GET, "/healthz"),
        (Method::GET, "/readyz"),
        (Method::GET, "/metrics"),
        (Method::GET, "/.well-known/jwks.json"),
        (Method::GET, "/openapi.json"),
        (Method::GET, "/"),
        (Method::OPTIONS, "/cart"),
        (Method::HEAD, "/cart"),
    ];
    let long_line = format!("/cart/items/{}", "L".repeat(4_000));
    let credentials: Vec<Vec<(&'static str, HeaderValue)>> = vec![
        vec![],
        vec![("authorization", HeaderValue::from_static("Bearer "))],
        vec![(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {}", tamper(&good))).unwrap(),
        )],
        vec![(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {good}.{good}")).unwrap(),
        )],
        vec![(
            "authorization",
            HeaderValue::from_static("Bearer v4.local.AAAA.eyJraWQiOiJrNC5saWQuQUFBQSJ9"),
        )],
        vec![(
            "authorization",
            HeaderValue::from_static("Bearer eyJhbGciOiJub25lIn0.eyJleHAiOjF9."),
        )],
        vec![(
            "authorization",
            HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )],
        vec![("cookie", HeaderValue::from_static("cart=%%%; cart=second"))],
        vec![(
            "cookie",
            HeaderValue::from_bytes(b"cart=\xff\xfe\xfd").unwrap(),
        )],
        vec![("cookie", HeaderValue::from_static("cart=\"quoted\""))],
        vec![("cookie", HeaderValue::from_static(";;;=;="))],
        vec![(
            "cookie",
            HeaderValue::from_str(&format!("cart={}", "A".repeat(3_800))).unwrap(),
        )],
    ];
    let bodies: Vec<(Option<&str>, Vec<u8>)> = vec![
        (None, vec![]),
        (Some("application/json"), b"{".to_vec()),
        (Some("application/json"), b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec()),
        (Some("application/json"), br#"{"sku":"TEE-100","quantity":-9223372036854775808}"#.to_vec()),
        (Some("application/json"), br#"{"quantity":99999999999999999999999999}"#.to_vec()),
        (Some("application/json"), br#"{"token":"v4.local.AAAA"}"#.to_vec()),
        (Some("application/json"), br#"{"token":null,"sku":null,"quantity":null}"#.to_vec()),
        (Some("application/json"), b"\xff\xfe\x00\x00".to_vec()),
        (Some("application/json; charset=utf-16"), b"{}".to_vec()),
        (Some("text/plain"), b"hello".to_vec()),
        (Some("multipart/form-data; boundary=x"), b"--x--".to_vec()),
        (Some("application/json"), vec![b' '; 20_000]),
    ];
    let mut failures = Vec::new();
    let mut sent = 0;
    let mut paths: Vec<(Method, String)> = endpoints
        .iter()
        .map(|(m, p)| (m.clone(), (*p).to_owned()))
        .collect();
    paths.push((Method::PATCH, long_line.clone()));
    paths.push((Method::DELETE, long_line));
    for (method, path) in &paths {
        for credential in &credentials {
            for (content_type, body) in &bodies {
                let mut call = app.client.request(method.clone(), path);
                for (name, value) in credential {
                    call = call.header_value(name, value.clone());
                }
                if let Some(content_type) = content_type {
                    call = call.header("content-type", content_type);
                }
                if !body.is_empty() {
                    call = call.body(body.clone());
                }
                let reply = call.send().await;
                sent += 1;
                let problem_ok = reply.status < 400
                    || *method == Method::HEAD
                    || reply
                        .header("content-type")
                        .is_some_and(|c| c.starts_with("application/problem+json"));
                if reply.status >= 500 || !problem_ok {
                    failures.push(format!(
                        "{method} {} cred={:?} ct={content_type:?} body={:?} -> {} {:?} {}",
                        &path[..path.len().min(40)],
                        credential.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                        String::from_utf8_lossy(&body[..body.len().min(30)]),
                        reply.status,
                        reply.header("content-type"),
                        &reply.text[..reply.text.len().min(120)]
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} garbage requests got a 5xx or a non-problem error, for example:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}
