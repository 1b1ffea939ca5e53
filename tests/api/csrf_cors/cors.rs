//! CORS: exact configured origins, with credentials, never a wildcard.

use super::*;

#[tokio::test]
async fn the_allowed_origin_gets_exact_cors_headers_with_credentials() {
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![SHOP.into()]).await;
    let token = app.create().await;
    for (what, method, path, body) in [
        ("read", Method::GET, "/cart", None),
        (
            "write",
            Method::POST,
            "/cart/items",
            Some(r#"{"sku":"TEE-100"}"#),
        ),
        ("catalog", Method::GET, "/products", None),
    ] {
        let bearer = format!("Bearer {token}");
        let reply = app
            .raw(
                method,
                path,
                &[
                    ("origin", SHOP),
                    ("authorization", &bearer),
                    ("content-type", "application/json"),
                ],
                body,
            )
            .await;
        assert_eq!(reply.status, 200, "{what}: {}", reply.text);
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some(SHOP),
            "{what}: the exact origin"
        );
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            Some("true"),
            "{what}"
        );
        reply.assert_header_lists("vary", &["origin"], what);
        let exposed = ["cart-token", "cart-revision"];
        reply.assert_header_lists("access-control-expose-headers", &exposed, what);
    }
}

#[tokio::test]
async fn an_error_to_the_allowed_origin_is_readable_too() {
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![SHOP.into()]).await;
    let reply = app
        .raw(
            Method::GET,
            "/cart",
            &[("origin", SHOP), ("authorization", "Bearer garbage")],
            None,
        )
        .await;
    reply.assert_problem(401, "token_invalid");
    assert_eq!(reply.header("access-control-allow-origin"), Some(SHOP));
    reply.assert_header_lists("vary", &["origin"], "401");
}

#[tokio::test]
async fn a_preflight_from_the_allowed_origin_is_answered() {
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![SHOP.into()]).await;
    for (method, path) in [
        ("POST", "/cart/items"),
        ("PATCH", "/cart/items/TEE-100"),
        ("DELETE", "/cart"),
        ("GET", "/cart"),
    ] {
        let reply = app
            .raw(
                Method::OPTIONS,
                path,
                &[
                    ("origin", SHOP),
                    ("access-control-request-method", method),
                    (
                        "access-control-request-headers",
                        "content-type, authorization",
                    ),
                ],
                None,
            )
            .await;
        assert!(
            (200..300).contains(&reply.status),
            "preflight {method} {path}: {} {}",
            reply.status,
            reply.text
        );
        assert_eq!(reply.header("access-control-allow-origin"), Some(SHOP));
        assert_eq!(
            reply.header("access-control-allow-credentials"),
            Some("true")
        );
        let what = format!("preflight {method} {path}");
        reply.assert_header_lists("access-control-allow-methods", &[method], &what);
        let needed = ["content-type", "authorization"];
        reply.assert_header_lists("access-control-allow-headers", &needed, &what);
        reply.assert_header_lists("vary", &["origin"], &what);
    }
}

#[tokio::test]
async fn a_foreign_or_null_origin_gets_no_cors_grant_and_never_a_wildcard() {
    let app = spawn_app_with(|s| s.cors.allowed_origins = vec![SHOP.into()]).await;
    let token = app.create().await;
    let bearer = format!("Bearer {token}");
    for origin in [
        "https://evil.example",
        "null",
        "http://shop.example.evil.example",
        "https://shop.example",
        "http://SHOP.EXAMPLE",
    ] {
        let reply = app
            .raw(
                Method::GET,
                "/cart",
                &[("origin", origin), ("authorization", &bearer)],
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "{origin}: {}", reply.text);
        assert!(
            reply.header("access-control-allow-origin").is_none(),
            "{origin}: no Access-Control-Allow-Origin, got {:?}",
            reply.header("access-control-allow-origin")
        );
        reply.assert_header_lists("vary", &["origin"], origin);

        let preflight = app
            .raw(
                Method::OPTIONS,
                "/cart/items",
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    ("access-control-request-headers", "content-type"),
                ],
                None,
            )
            .await;
        assert!(
            preflight.header("access-control-allow-origin").is_none(),
            "{origin}: a preflight grants nothing, got {:?}",
            preflight.header("access-control-allow-origin")
        );
        assert!(preflight.status < 500, "{origin}: {}", preflight.status);
        if preflight.status >= 400 {
            preflight.assert_problem_shape();
        }
    }
}

#[tokio::test]
async fn with_no_configured_origins_nobody_gets_a_cors_grant() {
    let app = spawn_app().await;
    for origin in ["https://evil.example", "null", SHOP] {
        let reply = app
            .raw(Method::GET, "/products", &[("origin", origin)], None)
            .await;
        assert_eq!(reply.status, 200);
        let allow = reply.header("access-control-allow-origin");
        assert!(allow.is_none(), "{origin}: got {allow:?}");
    }
    let reply = app.raw(Method::GET, "/products", &[], None).await;
    assert_ne!(reply.header("access-control-allow-origin"), Some("*"));
}
