//! `cartseal check-config`.

use super::*;

#[test]
fn check_config_refuses_each_bad_keyring_with_one_line() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let a = keygen(dir.path(), "local", "a", &[]);
    let b = keygen(dir.path(), "local", "b", &[]);
    let s = keygen(dir.path(), "signing", "s", &[]);
    // A key of the wrong length, and a copy of a's material.
    std::fs::write(
        dir.path().join("keys/short.paserk"),
        "k4.local.AAAAAAAAAAAAAAAAAAAAAA",
    )
    .unwrap();
    std::fs::copy(
        dir.path().join(&a.file),
        dir.path().join("keys/a-copy.paserk"),
    )
    .unwrap();
    for name in ["short", "a-copy"] {
        std::fs::set_permissions(
            dir.path().join(format!("keys/{name}.paserk")),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let paseto = "format = \"paseto\"";
    let cases: Vec<(&str, &str, Vec<String>, &str)> = vec![
        (
            "no active key",
            paseto,
            vec![entry("a", "local", &a.file, "pending", None)],
            "no active local key",
        ),
        (
            "two active keys",
            paseto,
            vec![
                entry("a", "local", &a.file, "active", None),
                entry("b", "local", &b.file, "active", None),
            ],
            "two active local keys",
        ),
        (
            "a duplicate id",
            paseto,
            vec![
                entry("a", "local", &a.file, "active", None),
                entry("a", "local", &b.file, "pending", None),
            ],
            "duplicate key id",
        ),
        (
            "the same material twice",
            paseto,
            vec![
                entry("a", "local", &a.file, "active", None),
                entry("a2", "local", "keys/a-copy.paserk", "pending", None),
            ],
            "the same key material",
        ),
        (
            "a key of the wrong length",
            paseto,
            vec![entry("a", "local", "keys/short.paserk", "active", None)],
            "wrong length",
        ),
        (
            "a signing key as a local key",
            paseto,
            vec![entry("a", "local", &s.file, "active", None)],
            "wrong purpose",
        ),
        (
            "a missing key file",
            paseto,
            vec![entry("a", "local", "keys/nope.paserk", "active", None)],
            "cannot read",
        ),
        (
            "a kid that does not match",
            paseto,
            vec![entry("a", "local", &a.file, "active", Some(&b.kid))],
            "does not match the key material",
        ),
        (
            "an Ed25519 key when the algorithm is HS256",
            "format = \"jwt\"\njwt_algorithm = \"HS256\"",
            vec![
                entry("a", "local", &a.file, "active", None),
                entry("s", "signing", &s.file, "active", None),
            ],
            "token.jwt_algorithm is HS256",
        ),
        (
            "no signing key for the jwt format",
            "format = \"jwt\"",
            vec![entry("a", "local", &a.file, "active", None)],
            "no active signing key",
        ),
    ];
    for (what, token, keys, expect) in cases {
        write_config(dir.path(), token, &keys);
        let out = cartseal(dir.path(), &["check-config"], "");
        assert!(!out.status.success(), "{what}: accepted");
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{what}: one line, got {err:?}");
        assert!(lines[0].starts_with("cartseal: "), "{what}: {}", lines[0]);
        assert!(lines[0].contains(expect), "{what}: {}", lines[0]);
    }
}

#[test]
fn check_config_refuses_a_key_file_readable_by_others() {
    let (dir, key) = configured();
    std::fs::set_permissions(
        dir.path().join(&key.file),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = cartseal(dir.path(), &["check-config"], "");
    assert!(!out.status.success(), "a readable key file is refused");
    let err = stderr(&out);
    assert!(
        err.contains("readable by group or others")
            && err.contains("shop-local-1")
            && err.contains("chmod 600"),
        "{err}"
    );
}
