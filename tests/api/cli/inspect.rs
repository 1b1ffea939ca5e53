//! `cartseal inspect`.

use super::*;

#[test]
fn inspect_prints_the_key_lifetimes_and_cart_as_json() {
    let (dir, key) = configured();
    let iat = now() - 60;
    let cart = json!([["TEE-100", 2, {"size": "M"}], ["MUG-104", 1]]);
    let token = paseto_token(
        &dir.path().join(&key.file),
        &key.kid,
        iat,
        iat + 3600,
        &cart,
    );

    for (how, args, stdin) in [
        (
            "as an argument",
            vec!["inspect", token.as_str()],
            String::new(),
        ),
        (
            "on standard input",
            vec!["inspect", "-"],
            format!("{token}\n"),
        ),
    ] {
        let out = cartseal(dir.path(), &args, &stdin);
        assert!(out.status.success(), "{how}: {}", stderr(&out));
        let report: Value =
            serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{how}: JSON: {e}"));
        assert_eq!(report["key_id"], "shop-local-1", "{how}");
        assert_eq!(report["key_state"], "active", "{how}");
        assert_eq!(report["format"], "paseto", "{how}");
        assert_eq!(report["revision"], 3, "{how}");
        assert_eq!(report["lines"], 2, "{how}");
        assert_eq!(report["cart"], cart, "{how}");
        assert_eq!(report["jti"], "AAECAwQFBgcICQoLDA0ODw", "{how}");
        assert_eq!(report["length"], token.len(), "{how}");
        let time = |name: &str| {
            chrono::DateTime::parse_from_rfc3339(report[name].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{how}: {name}: {e}"))
                .timestamp()
        };
        assert_eq!(time("issued_at"), iat, "{how}");
        assert_eq!(time("expires_at"), iat + 3600, "{how}");
        assert_eq!(time("absolute_expiry"), iat + 7200, "{how}");
    }
}

#[test]
fn inspect_exits_non_zero_with_the_error_kind_on_a_bad_token() {
    let (dir, key) = configured();
    let key_file = dir.path().join(&key.file);
    let long_ago = now() - 30 * 24 * 3600;
    let expired = paseto_token(&key_file, &key.kid, long_ago, long_ago + 3600, &json!([]));
    let genuine = paseto_token(&key_file, &key.kid, now(), now() + 3600, &json!([]));
    let mut tampered = genuine.clone().into_bytes();
    let i = "v4.local.".len() + 40;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");

    for (what, token, expect) in [
        (
            "a v3 token",
            "v3.local.AAAA".to_owned(),
            "token invalid (header)",
        ),
        ("a tampered token", tampered, "token invalid (crypto)"),
        (
            "bad characters",
            "v4.local.a+b".to_owned(),
            "token invalid (charset)",
        ),
        ("an expired token", expired, "token expired (expired)"),
    ] {
        let out = cartseal(dir.path(), &["inspect", &token], "");
        assert!(!out.status.success(), "{what}: exit 0");
        let err = stderr(&out);
        assert!(err.contains(expect), "{what}: {err}");
        assert!(stdout(&out).is_empty(), "{what}: nothing on stdout");
    }
}
