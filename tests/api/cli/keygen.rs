//! `cartseal keygen`.

use super::*;

#[test]
fn keygen_writes_a_private_key_file_and_a_snippet_that_check_config_accepts() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let local = keygen(dir.path(), "local", "shop-local-1", &[]);
    let signing = keygen(dir.path(), "signing", "shop-signing-1", &[]);
    assert_eq!(
        (local.id.as_str(), local.purpose.as_str()),
        ("shop-local-1", "local")
    );
    assert_eq!(signing.purpose, "signing");
    assert!(local.kid.starts_with("k4.lid."), "{}", local.kid);
    assert!(signing.kid.starts_with("k4.pid."), "{}", signing.kid);

    for (key, prefix) in [(&local, "k4.local."), (&signing, "k4.secret.")] {
        let path = dir.path().join(&key.file);
        let mode = std::fs::metadata(&path)
            .expect("the key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}: mode {:o}", key.file, mode & 0o777);
        let text = std::fs::read_to_string(&path).expect("readable");
        assert!(text.starts_with(prefix), "{}", key.file);
        assert!(
            !key.printed.contains(text.trim()),
            "keygen never prints the key"
        );
    }

    write_config(
        dir.path(),
        "format = \"jwt\"",
        &[
            entry(&local.id, "local", &local.file, "active", Some(&local.kid)),
            entry(
                &signing.id,
                "signing",
                &signing.file,
                "active",
                Some(&signing.kid),
            ),
        ],
    );
    let out = cartseal(dir.path(), &["check-config"], "");
    assert!(out.status.success(), "check-config: {}", stderr(&out));
    assert!(stdout(&out).contains("ok"), "{}", stdout(&out));
    assert!(
        !stderr(&out).contains("readable by group"),
        "keygen's files raise no mode warning: {}",
        stderr(&out)
    );
}

#[test]
fn keygen_makes_hs256_secrets_and_refuses_bad_ids_and_overwrites() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let hs = keygen(dir.path(), "signing", "gateway-hs-1", &["--alg", "HS256"]);
    let text = std::fs::read_to_string(dir.path().join(&hs.file)).expect("the key file");
    assert!(
        text.starts_with("k4.local."),
        "an HS256 secret is a 32-byte k4.local key"
    );

    let again = cartseal(
        dir.path(),
        &[
            "keygen",
            "--purpose",
            "signing",
            "--id",
            "gateway-hs-1",
            "--dir",
            "keys",
            "--alg",
            "HS256",
        ],
        "",
    );
    assert!(
        !again.status.success(),
        "an existing key file is never overwritten"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&hs.file)).unwrap(),
        text
    );

    for bad in ["../escape", "a b", "", "ключ"] {
        let out = cartseal(
            dir.path(),
            &["keygen", "--purpose", "local", "--id", bad, "--dir", "keys"],
            "",
        );
        assert!(!out.status.success(), "--id {bad:?} accepted");
    }
    assert!(!dir.path().join("escape.paserk").exists());
}
