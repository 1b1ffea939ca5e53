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

mod check_config;
mod inspect;
mod keygen;
mod operator;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use cartseal_kit::fixture::{now, rfc3339};
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
