//! The command line as an operator meets it: the real `cartseal` binary,
//! a private directory per test, and nothing shared.
//!
//! - `keygen` writes a mode-0600 key file and prints a config snippet whose
//!   kid `check-config` accepts;
//! - `inspect` opens a token and prints what it holds as JSON, or exits
//!   non-zero with the error kind;
//! - `check-config` refuses each bad keyring with one line.
//!
//! The tokens given to `inspect` are made here with pasetors directly, from
//! the format that docs/token-format.md describes, so that the binary is
//! checked against the documented format rather than against itself.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use pasetors::keys::SymmetricKey;
use pasetors::version4::{LocalToken, V4};
use serde_json::{Value, json};
use tempfile::TempDir;

const AUDIENCE: &str = "cli-test";

/// Runs the binary in `dir` with `args`, with a clean environment (no
/// `CARTSEAL__*` overrides leak in), feeding `stdin`.
fn cartseal(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cartseal"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the cartseal binary starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("cartseal exits")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A key made by `cartseal keygen`: its snippet, parsed.
struct Generated {
    id: String,
    purpose: String,
    file: String,
    kid: String,
    /// Everything keygen printed.
    printed: String,
}

/// Runs `keygen` in `dir` and parses the snippet it prints.
fn keygen(dir: &Path, purpose: &str, id: &str, extra: &[&str]) -> Generated {
    let mut args = vec!["keygen", "--purpose", purpose, "--id", id, "--dir", "keys"];
    args.extend_from_slice(extra);
    let out = cartseal(dir, &args, "");
    assert!(out.status.success(), "keygen failed: {}", stderr(&out));
    let text = stdout(&out);
    let snippet: toml::Table =
        toml::from_str(&text).unwrap_or_else(|e| panic!("a TOML snippet: {e}\n{text}"));
    let key = &snippet["keys"].as_array().expect("[[keys]]")[0];
    let field = |name: &str| {
        key[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} in\n{text}"))
            .to_owned()
    };
    assert_eq!(field("state"), "pending", "a new key starts as pending");
    Generated {
        id: field("id"),
        purpose: field("purpose"),
        file: field("file"),
        kid: field("kid"),
        printed: text.clone(),
    }
}

/// A `[[keys]]` entry.
fn entry(id: &str, purpose: &str, file: &str, state: &str, kid: Option<&str>) -> String {
    let kid = kid.map(|k| format!("kid = \"{k}\"\n")).unwrap_or_default();
    format!(
        "[[keys]]\nid = \"{id}\"\npurpose = \"{purpose}\"\nfile = \"{file}\"\nstate = \"{state}\"\n{kid}\n"
    )
}

/// Writes `config.toml` in `dir`: the token section, no catalog, `keys`.
fn write_config(dir: &Path, token: &str, keys: &[String]) {
    let text = format!(
        "[token]\naudience = \"{AUDIENCE}\"\n{token}\n\n[catalog]\nfile = \"\"\n\n{}",
        keys.concat()
    );
    std::fs::write(dir.join("config.toml"), text).expect("write config.toml");
}

/// A directory with one active local key made by keygen, configured.
fn configured() -> (TempDir, Generated) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let key = keygen(dir.path(), "local", "shop-local-1", &[]);
    write_config(
        dir.path(),
        "format = \"paseto\"",
        &[entry(&key.id, "local", &key.file, "active", Some(&key.kid))],
    );
    (dir, key)
}

fn rfc3339(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .expect("in range")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A `paseto` token as docs/token-format.md describes it, made with
/// pasetors under the key in `key_file`.
fn paseto_token(key_file: &Path, kid: &str, iat: i64, exp: i64, cart: &Value) -> String {
    let paserk = std::fs::read_to_string(key_file).expect("the key file");
    let key = SymmetricKey::<V4>::try_from(paserk.trim()).expect("a k4.local key");
    let claims = json!({
        "v": 1,
        "iat": rfc3339(iat),
        "nbf": rfc3339(iat),
        "exp": rfc3339(exp),
        "abs": rfc3339(exp + 3600),
        "jti": "AAECAwQFBgcICQoLDA0ODw",
        "rev": 3,
        "c": cart,
    });
    let footer = json!({ "kid": kid }).to_string();
    LocalToken::encrypt(
        &key,
        claims.to_string().as_bytes(),
        Some(footer.as_bytes()),
        Some(format!("cartseal:v1:{AUDIENCE}").as_bytes()),
    )
    .expect("pasetors encrypts")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

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
fn check_config_warns_about_a_key_file_readable_by_others() {
    let (dir, key) = configured();
    std::fs::set_permissions(
        dir.path().join(&key.file),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = cartseal(dir.path(), &["check-config"], "");
    assert!(out.status.success(), "a warning only: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("readable by group or others") && err.contains("shop-local-1"),
        "{err}"
    );
}
