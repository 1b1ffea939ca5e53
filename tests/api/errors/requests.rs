//! Requests the service cannot take as they are: 400 `payload_invalid`,
//! 403 `csrf_rejected`, 404 and 405.

use super::*;

/// Bodies that are not the JSON an endpoint takes: 400 payload_invalid in
/// either transport, the cart unchanged.
#[tokio::test]
async fn a_body_that_is_not_the_json_an_endpoint_takes_is_400_payload_invalid() {
    let app = spawn_app().await;
    let cases: &[(&str, &str, &str)] = &[
        ("malformed JSON", "/cart/items", r#"{"sku":"TEE-100","#),
        ("not JSON at all", "/cart/items", "sku=TEE-100"),
        ("empty body", "/cart/items", ""),
        ("null", "/cart/items", "null"),
        ("an array", "/cart/items", r#"["TEE-100",1]"#),
        ("sku of the wrong type", "/cart/items", r#"{"sku":5}"#),
        ("missing sku", "/cart/items", r#"{"quantity":1}"#),
        (
            "quantity as a string",
            "/cart/items",
            r#"{"sku":"TEE-100","quantity":"1"}"#,
        ),
        (
            "fractional quantity",
            "/cart/items",
            r#"{"sku":"TEE-100","quantity":1.5}"#,
        ),
        (
            "quantity null",
            "/cart/items",
            r#"{"sku":"TEE-100","quantity":null}"#,
        ),
        (
            "unknown field",
            "/cart/items",
            r#"{"sku":"TEE-100","quantity":1,"price":0}"#,
        ),
        (
            "properties of the wrong type",
            "/cart/items",
            r#"{"sku":"TEE-100","properties":["size","M"]}"#,
        ),
        (
            "a property value that is not a string",
            "/cart/items",
            r#"{"sku":"TEE-100","properties":{"size":42}}"#,
        ),
        (
            "duplicate JSON after the object",
            "/cart/items",
            r#"{"sku":"TEE-100"}{"sku":"TEE-100"}"#,
        ),
        (
            "patch: quantity as a string",
            "/cart/items/TEE-100",
            r#"{"quantity":"2"}"#,
        ),
        ("patch: no quantity", "/cart/items/TEE-100", r#"{}"#),
        (
            "patch: fractional",
            "/cart/items/TEE-100",
            r#"{"quantity":2.5}"#,
        ),
        (
            "patch: unknown field",
            "/cart/items/TEE-100",
            r#"{"quantity":2,"sku":"MUG-104"}"#,
        ),
        (
            "merge: token of the wrong type",
            "/cart/merge",
            r#"{"token":5}"#,
        ),
        ("merge: no token", "/cart/merge", r#"{}"#),
        ("patch: an array", "/cart/items/TEE-100", "[2]"),
        ("merge: an array", "/cart/merge", r#"["x"]"#),
    ];
    let mut mismatches = Vec::new();
    for bearer in [true, false] {
        for (what, path, body) in cases {
            // A fresh cart per case: a wrongly accepted body must not
            // spoil the next case.
            let auth = client_with_cart(&app, bearer).await;
            let method = if path.starts_with("/cart/items/") {
                Method::PATCH
            } else {
                Method::POST
            };
            let reply = app.send_json_text(method.clone(), path, &auth, *body).await;
            if (reply.status, reply.code()) != (400, "payload_invalid") {
                mismatches.push(format!(
                    "{what} (bearer: {bearer}): {method} {path} {body} -> {} {}",
                    reply.status, reply.text
                ));
                continue;
            }
            let data = ["TEE-100", "MUG-104"];
            assert_refused_without_echo(&app, &auth, &reply, what, &data).await;
        }
    }
    assert!(
        mismatches.is_empty(),
        "expected 400 payload_invalid:\n{}",
        mismatches.join("\n")
    );
}

#[tokio::test]
async fn a_bearer_body_that_does_not_say_json_is_415_unsupported_media_type() {
    let app = spawn_app().await;
    let auth = client_with_cart(&app, true).await;
    let bearer = format!("Bearer {}", auth.token().unwrap());
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut headers = vec![("authorization", bearer.as_str())];
        if let Some(content_type) = content_type {
            headers.push(("content-type", content_type));
        }
        let reply = app.raw_add(&headers, "TEE-100").await;
        reply.assert_problem(415, "unsupported_media_type");
        assert_cart_kept(&app, &auth, &reply, &format!("{content_type:?}")).await;
    }
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_400_payload_invalid() {
    let app = spawn_app().await;
    let token = app.create().await;
    let reply = app
        .client
        .post("/cart/items")
        .auth(&Auth::Bearer(token))
        .header("content-type", "application/json")
        .body(vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'])
        .send()
        .await;
    reply.assert_problem(400, "payload_invalid");
}

// ---------------------------------------------------------------------------
// 403 csrf_rejected (the full rule is in csrf_cors.rs)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_cross_site_cookie_write_is_403_csrf_rejected() {
    let app = spawn_app().await;
    let auth = client_with_cart(&app, false).await;
    let cookie = format!("cart={}", auth.token().unwrap());
    let reply = app
        .raw_add(
            &[
                ("cookie", &cookie),
                ("content-type", "application/json"),
                ("sec-fetch-site", "cross-site"),
            ],
            "CAP-102",
        )
        .await;
    reply.assert_problem(403, "csrf_rejected");
    assert_cart_kept(&app, &auth, &reply, "cross-site").await;
}

// ---------------------------------------------------------------------------
// 404 line_not_found, not_found; 405
// ---------------------------------------------------------------------------

#[tokio::test]
async fn changing_or_removing_a_line_the_cart_lacks_is_404_line_not_found() {
    let app = spawn_app().await;
    for bearer in [true, false] {
        let auth = client_with_cart(&app, bearer).await;
        for line in ["CAP-102", "TEE-100~000000000000", "nope"] {
            let reply = app.set_quantity(&auth, line, 2).await;
            reply.assert_problem(404, "line_not_found");
            assert_cart_kept(&app, &auth, &reply, &format!("PATCH {line}")).await;
            let reply = app.remove(&auth, line).await;
            reply.assert_problem(404, "line_not_found");
            assert_cart_kept(&app, &auth, &reply, &format!("DELETE {line}")).await;
        }
    }
    // With no cart at all.
    let reply = app.set_quantity(&Auth::None, "TEE-100", 1).await;
    reply.assert_problem(404, "line_not_found");
    reply.assert_no_new_credential();
    let reply = app.remove(&Auth::None, "TEE-100").await;
    reply.assert_problem(404, "line_not_found");
    reply.assert_no_new_credential();
}

/// Requests no route takes, with the status each gets: 404 for a path
/// that does not exist, 405 for a method its path does not take.
const NO_ROUTE: [(u16, Method, &str); 20] = [
    (404, Method::GET, "/nope"),
    (404, Method::POST, "/nope"),
    (404, Method::GET, "/cart/items/TEE-100/extra"),
    (404, Method::GET, "/cart/"),
    (404, Method::GET, "/api/v2/cart"),
    (404, Method::DELETE, "/cart/items/"),
    (405, Method::PUT, "/cart"),
    (405, Method::PATCH, "/cart"),
    (405, Method::GET, "/cart/items"),
    (405, Method::DELETE, "/cart/items"),
    (405, Method::GET, "/cart/items/TEE-100"),
    (405, Method::POST, "/cart/items/TEE-100"),
    (405, Method::PUT, "/cart/items/TEE-100"),
    (405, Method::GET, "/cart/merge"),
    (405, Method::POST, "/products"),
    (405, Method::POST, "/healthz"),
    (405, Method::POST, "/readyz"),
    (405, Method::POST, "/.well-known/jwks.json"),
    (405, Method::PUT, "/openapi.json"),
    (405, Method::POST, "/"),
];

/// Every `NO_ROUTE` request listed with `status` gets it, as a problem.
async fn assert_no_route_answers(status: u16) {
    let app = spawn_app().await;
    let mut failures = Vec::new();
    for (_, method, path) in NO_ROUTE.into_iter().filter(|(s, ..)| *s == status) {
        let reply = app.send(method.clone(), path, &Auth::None, None).await;
        if reply.status != status {
            failures.push(format!(
                "{method} {path}: {} {:?}",
                reply.status, reply.text
            ));
            continue;
        }
        reply.assert_problem_shape();
    }
    assert!(
        failures.is_empty(),
        "these must get a {status} problem+json:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    assert_no_route_answers(404).await;
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem() {
    assert_no_route_answers(405).await;
}

/// A quantity is an `integer` as JSON Schema, and so the published
/// contract, has it: any whole number, in any JSON form. One out of range
/// is refused as a cart change (422), not as malformed JSON.
#[tokio::test]
async fn whole_numbers_in_any_json_form_are_quantities() {
    let app = spawn_app().await;
    let add = |form: &str| format!(r#"{{"sku":"TEE-100","quantity":{form}}}"#);
    for (form, expect) in [("2", 2), ("2.0", 2), ("2e0", 2), ("0.2e1", 2)] {
        let auth = Auth::Bearer(app.create().await);
        let reply = app
            .send_json_text(Method::POST, "/cart/items", &auth, add(form))
            .await;
        assert_eq!(reply.status, 200, "{form}: {}", reply.text);
        assert_eq!(
            reply.lines(),
            vec![("TEE-100".to_owned(), expect)],
            "{form}"
        );
    }
    for form in [
        "1e3",
        "9223372036854775808",
        "18446744073709551616",
        "-1e30",
    ] {
        let reply = app
            .send_json_text(Method::POST, "/cart/items", &Auth::None, add(form))
            .await;
        reply.assert_problem(422, "cart_invalid");
    }
}

/// A JSON object that names a key twice is read differently by different
/// parsers (serde keeps the last value, many front ends and WAFs the first),
/// so `{"size":"M","size":"XL"}` would let them see another cart than the one
/// stored. At any depth of any body it is 422 duplicate_key, in either
/// transport, and the cart is kept.
#[tokio::test]
async fn a_key_named_twice_in_a_body_object_is_422_duplicate_key() {
    let app = spawn_app().await;
    let cases: &[(&str, Method, &str, &str)] = &[
        (
            "a property",
            Method::POST,
            "/cart/items",
            r#"{"sku":"TEE-100","properties":{"size":"M","size":"XL"}}"#,
        ),
        (
            "a property, apart",
            Method::POST,
            "/cart/items",
            r#"{"sku":"TEE-100","properties":{"size":"M","colour":"red","size":"M"}}"#,
        ),
        (
            "a property, spelt with an escape",
            Method::POST,
            "/cart/items",
            r#"{"sku":"TEE-100","properties":{"size":"M","\u0073ize":"XL"}}"#,
        ),
        (
            "the sku",
            Method::POST,
            "/cart/items",
            r#"{"sku":"TEE-100","sku":"MUG-104"}"#,
        ),
        (
            "the quantity",
            Method::PATCH,
            "/cart/items/TEE-100",
            r#"{"quantity":1,"quantity":5}"#,
        ),
        (
            "the merged token",
            Method::POST,
            "/cart/merge",
            r#"{"token":"a","token":"b"}"#,
        ),
    ];
    for bearer in [true, false] {
        for (what, method, path, body) in cases {
            let auth = client_with_cart(&app, bearer).await;
            let reply = app.send_json_text(method.clone(), path, &auth, *body).await;
            assert_eq!(
                (reply.status, reply.code()),
                (422, "duplicate_key"),
                "{what} (bearer: {bearer}): {}",
                reply.text
            );
            let data = ["size", "TEE-100"];
            assert_refused_without_echo(&app, &auth, &reply, what, &data).await;
        }
    }
    // The same key in two different objects is no duplicate.
    let auth = client_with_cart(&app, true).await;
    let reply = app
        .send(
            Method::POST,
            "/cart/items",
            &auth,
            Some(json!({ "sku": "CAP-102", "properties": { "sku": "x" } })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}
