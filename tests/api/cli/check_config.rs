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
    // The keyring entries the cases combine.
    let a_active = &entry("a", "local", &a.file, "active", None);
    let a_pending = &entry("a", "local", &a.file, "pending", None);
    let b_active = &entry("b", "local", &b.file, "active", None);
    let b_pending_as_a = &entry("a", "local", &b.file, "pending", None);
    let a_copy = &entry("a2", "local", "keys/a-copy.paserk", "pending", None);
    let short = &entry("a", "local", "keys/short.paserk", "active", None);
    let signing_as_local = &entry("a", "local", &s.file, "active", None);
    let missing = &entry("a", "local", "keys/nope.paserk", "active", None);
    let wrong_kid = &entry("a", "local", &a.file, "active", Some(&b.kid));
    let s_active = &entry("s", "signing", &s.file, "active", None);
    let paseto = "format = \"paseto\"";
    let jwt = "format = \"jwt\"";
    let hs256 = "format = \"jwt\"\njwt_algorithm = \"HS256\"";
    // (token section, keyring, what the one line says)
    let cases: [(&str, &[&String], &str); 10] = [
        // No active key.
        (paseto, &[a_pending], "no active local key"),
        (paseto, &[a_active, b_active], "two active local keys"),
        // A duplicate id.
        (paseto, &[a_active, b_pending_as_a], "duplicate key id"),
        // The same material twice.
        (paseto, &[a_active, a_copy], "the same key material"),
        (paseto, &[short], "wrong length"),
        // A signing key as a local key.
        (paseto, &[signing_as_local], "wrong purpose"),
        // A missing key file.
        (paseto, &[missing], "cannot read"),
        // A kid that does not match.
        (paseto, &[wrong_kid], "does not match the key material"),
        // An Ed25519 key when the algorithm is HS256.
        (hs256, &[a_active, s_active], "token.jwt_algorithm is HS256"),
        // No signing key for the jwt format.
        (jwt, &[a_active], "no active signing key"),
    ];
    for (token, keys, expect) in cases {
        let keys: Vec<String> = keys.iter().map(|&k| k.clone()).collect();
        write_config(dir.path(), token, &keys);
        let out = cartseal(dir.path(), &["check-config"], "");
        assert!(!out.status.success(), "{expect}: accepted");
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{expect}: one line, got {err:?}");
        assert!(lines[0].starts_with("cartseal: "), "{expect}: {}", lines[0]);
        assert!(lines[0].contains(expect), "{expect}: {}", lines[0]);
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

/// `check-config`'s lines, each marked `cartseal: `.
fn refusal_lines(dir: &Path) -> Vec<String> {
    let out = cartseal(dir, &["check-config"], "");
    assert!(!out.status.success(), "accepted: {}", stdout(&out));
    let err = stderr(&out);
    err.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.strip_prefix("cartseal: ")
                .unwrap_or_else(|| panic!("every line is marked: {err}"))
                .to_owned()
        })
        .collect()
}

/// The line of config.toml that starts with `needle`.
fn line_of(dir: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    text.lines()
        .position(|l| l.trim_start().starts_with(needle))
        .unwrap_or_else(|| panic!("{needle} in\n{text}"))
        + 1
}

/// docs/key-rotation.md, "When a config is refused": every problem at
/// once, one line each, with the file and line and the field as config.toml
/// writes it.
#[test]
fn check_config_reports_every_problem_at_once_one_line_each() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let a = keygen(dir.path(), "local", "a", &[]);
    let b = keygen(dir.path(), "local", "b", &[]);

    // A missing key file and a wrong kid: two keys, two lines.
    write_config(
        dir.path(),
        "format = \"paseto\"",
        &[
            entry("a", "local", &a.file, "active", Some(&b.kid)),
            entry("gone", "local", "keys/nope.paserk", "pending", None),
        ],
    );
    let lines = refusal_lines(dir.path());
    assert_eq!(lines.len(), 2, "{lines:?}");
    let kid_line = line_of(dir.path(), &format!("kid = \"{}\"", b.kid));
    assert!(
        lines[0].starts_with(&format!("config.toml:{kid_line}: key \"a\""))
            && lines[0].contains("does not match"),
        "{lines:?}"
    );
    let file_line = line_of(dir.path(), "file = \"keys/nope.paserk\"");
    assert!(
        lines[1].starts_with(&format!("config.toml:{file_line}: key \"gone\""))
            && lines[1].contains("cannot read"),
        "{lines:?}"
    );

    // A negative max_lines and workers = "two": two lines, with the valid
    // values.
    write_config(
        dir.path(),
        "format = \"paseto\"",
        &[entry("a", "local", &a.file, "active", None)],
    );
    let config = dir.path().join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[limits]\nmax_lines = -1\n\n[server]\nworkers = \"two\"\n"),
    )
    .unwrap();
    let lines = refusal_lines(dir.path());
    assert_eq!(
        lines,
        [
            format!(
                "config.toml:{}: limits.max_lines = -1: must be a whole number, 0 or more",
                line_of(dir.path(), "max_lines")
            ),
            format!(
                "config.toml:{}: server.workers = \"two\": must be a whole number",
                line_of(dir.path(), "workers")
            ),
        ]
    );

    // A state that is not one: the valid ones, and the entry by its place
    // (counted from 1) and its id.
    write_config(
        dir.path(),
        "format = \"paseto\"",
        &[
            entry("a", "local", &a.file, "active", None),
            entry("b", "local", &b.file, "decrypt_only", None),
        ],
    );
    assert_eq!(
        refusal_lines(dir.path()),
        [format!(
            "config.toml:{}: keys[2].state (key \"b\") = \"decrypt_only\": must be one of \"pending\", \"active\", \"decrypt-only\", \"retired\"",
            line_of(dir.path(), "state = \"decrypt_only\"")
        )]
    );

    // A TOML syntax error keeps its reason and its place.
    std::fs::write(&config, "[server]\nhost = \"127.0.0.1\nport = 1\n").unwrap();
    let lines = refusal_lines(dir.path());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("config.toml:2:") && lines[0].contains("invalid basic string"),
        "{lines:?}"
    );
}
