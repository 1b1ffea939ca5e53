//! Every bad keyring refuses to load, with the reason an operator needs, in
//! one line; a good one loads, warns about loose file modes, and never
//! prints a key.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm::{EdDSA, HS256};

use super::*;
use crate::fixture::KeyDir;

/// The key files every case draws from, written once into a private
/// folder.
struct Files {
    dir: KeyDir,
    /// PASERK text by file name, for the redaction checks.
    secrets: Vec<String>,
}

impl Files {
    fn new() -> Self {
        let mut files = Self {
            dir: KeyDir::new(),
            secrets: Vec::new(),
        };
        let l1 = generate_local().to_paserk().to_string();
        let l2 = generate_local().to_paserk().to_string();
        let s1 = generate_ed25519_paserk().to_string();
        let s2 = generate_ed25519_paserk().to_string();
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        // An Ed25519 key pair whose public half belongs to another seed.
        let mismatched = {
            let a = URL_SAFE_NO_PAD
                .decode(s1.trim_start_matches("k4.secret."))
                .expect("base64");
            let b = URL_SAFE_NO_PAD
                .decode(s2.trim_start_matches("k4.secret."))
                .expect("base64");
            format!("k4.secret.{}", b64(&[&a[..32], &b[32..]].concat()))
        };
        for (name, text) in [
            ("l1", l1.clone()),
            ("l2", l2.clone()),
            ("l1-copy", l1.clone()),
            ("s1", s1.clone()),
            ("s2", s2.clone()),
            ("short", format!("k4.local.{}", b64(&[7; 16]))),
            ("long", format!("k4.local.{}", b64(&[7; 48]))),
            ("short-secret", format!("k4.secret.{}", b64(&[7; 32]))),
            ("public", format!("k4.public.{}", b64(&[7; 32]))),
            ("mismatched", mismatched),
            ("garbage", "hello, key".to_owned()),
        ] {
            files.write(name, text.as_bytes(), 0o600);
        }
        files.write("binary", b"k4.local.\xff\xfe", 0o600);
        files.write("group-readable", l2.as_bytes(), 0o640);
        files.write("world-readable", l2.as_bytes(), 0o604);
        std::fs::create_dir(files.dir.path().join("dir.paserk")).expect("a directory");
        files.secrets = vec![l1, l2, s1, s2];
        files
    }

    fn write(&self, name: &str, contents: &[u8], mode: u32) {
        self.dir.write(&format!("{name}.paserk"), contents, mode);
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The kid of the key in `name`, as config.toml would state it.
    fn kid(&self, name: &str, purpose: Purpose) -> String {
        let text = std::fs::read_to_string(self.path().join(format!("{name}.paserk")))
            .expect("a key file");
        match purpose {
            Purpose::Local => LocalMaterial::from_paserk(&text)
                .expect("a local key")
                .kid()
                .to_owned(),
            Purpose::Signing => SigningMaterial::from_paserk(&text)
                .expect("a signing key")
                .kid()
                .to_owned(),
        }
    }
}

/// A `[[keys]]` entry for `file` (without `.paserk`).
fn key(id: &str, purpose: Purpose, file: &str, state: KeyState) -> KeyConfig {
    KeyConfig {
        id: id.to_owned(),
        purpose,
        file: format!("{file}.paserk").into(),
        state,
        kid: None,
    }
}

fn local(id: &str, file: &str, state: KeyState) -> KeyConfig {
    key(id, Purpose::Local, file, state)
}

fn signing(id: &str, file: &str, state: KeyState) -> KeyConfig {
    key(id, Purpose::Signing, file, state)
}

use KeyState::{Active, DecryptOnly, Pending, Retired};

/// The refusal a bad keyring must get: exactly this error, or one that a
/// check accepts (where the error carries a path or a parser's message).
#[derive(Clone)]
enum Refusal {
    Is(KeyringError),
    Like(fn(&KeyringError) -> bool),
}

impl Refusal {
    fn accepts(&self, error: &KeyringError) -> bool {
        match self {
            Refusal::Is(expected) => error == expected,
            Refusal::Like(check) => check(error),
        }
    }
}

use Refusal::{Is, Like};

/// One bad keyring: its entries, the JWT algorithm, whether the format
/// signs, and the refusal it must get.
#[derive(Clone)]
struct Bad {
    what: &'static str,
    keys: Vec<KeyConfig>,
    alg: jsonwebtoken::Algorithm,
    need_signing: bool,
    expect: Refusal,
}

/// Bad keyrings that all get the refusal `expect`, one `(what, keys)` row
/// each, loaded with EdDSA for a format that does not sign.
fn bad<const N: usize>(expect: Refusal, rows: [(&'static str, Vec<KeyConfig>); N]) -> Vec<Bad> {
    rows.into_iter()
        .map(|(what, keys)| Bad {
            what,
            keys,
            alg: EdDSA,
            need_signing: false,
            expect: expect.clone(),
        })
        .collect()
}

/// `rows` loaded for a format that signs.
fn when_signing(rows: Vec<Bad>) -> Vec<Bad> {
    rows.into_iter()
        .map(|row| Bad {
            need_signing: true,
            ..row
        })
        .collect()
}

/// `rows` loaded with `token.jwt_algorithm = "HS256"`.
fn with_hs256(rows: Vec<Bad>) -> Vec<Bad> {
    rows.into_iter()
        .map(|row| Bad { alg: HS256, ..row })
        .collect()
}

/// The key `a` could not be read.
fn unreadable_a(e: &KeyringError) -> bool {
    matches!(e, KeyringError::Unreadable { id, .. } if id == "a")
}

/// The key `id` has material of the wrong length.
fn wrong_length(e: &KeyringError, key: &str) -> bool {
    matches!(e, KeyringError::Material { id, reason: MaterialError::Length, .. } if id == key)
}

/// A key file is not a PASERK of any kind cartseal reads.
fn not_a_paserk(e: &KeyringError) -> bool {
    matches!(
        e,
        KeyringError::Material {
            reason: MaterialError::Format(_),
            ..
        }
    )
}

#[test]
fn every_bad_keyring_is_refused_with_its_reason_in_one_line() {
    let files = Files::new();
    let kid_l2 = files.kid("l2", Purpose::Local);
    let kid_s1 = files.kid("s1", Purpose::Signing);
    let two_active = |purpose, first: &str, second: &str| {
        Is(KeyringError::TwoActive {
            purpose,
            first: first.into(),
            second: second.into(),
        })
    };
    let wrong_algorithm = |expected, found| {
        Is(KeyringError::WrongAlgorithm {
            id: "s".into(),
            expected,
            found,
        })
    };
    let duplicate_kid = |a: &str, b: &str| Is(KeyringError::DuplicateKid(a.into(), b.into()));
    let mut cases = [
        bad(
            Is(KeyringError::NoActive(Purpose::Local)),
            [
                ("no active local key", vec![local("a", "l1", Pending)]),
                (
                    "only the signing key is active",
                    vec![local("a", "l1", DecryptOnly), signing("s", "s1", Active)],
                ),
            ],
        ),
        when_signing(bad(
            Is(KeyringError::NoActive(Purpose::Signing)),
            [
                (
                    "no active signing key when the format signs",
                    vec![local("a", "l1", Active), signing("s", "s1", Pending)],
                ),
                (
                    "no signing key at all when the format signs",
                    vec![local("a", "l1", Active)],
                ),
            ],
        )),
        bad(
            two_active(Purpose::Local, "a", "b"),
            [(
                "two active local keys",
                vec![local("a", "l1", Active), local("b", "l2", Active)],
            )],
        ),
        bad(
            two_active(Purpose::Signing, "s", "t"),
            [(
                "two active signing keys",
                vec![
                    local("a", "l1", Active),
                    signing("s", "s1", Active),
                    signing("t", "s2", Active),
                ],
            )],
        ),
        bad(
            Is(KeyringError::DuplicateId("a".into())),
            [(
                "a duplicate id",
                vec![local("a", "l1", Active), local("a", "l2", Pending)],
            )],
        ),
        bad(
            duplicate_kid("a", "b"),
            [
                (
                    "the same material in two files",
                    vec![local("a", "l1", Active), local("b", "l1-copy", Pending)],
                ),
                (
                    "the same file twice",
                    vec![local("a", "l1", Active), local("b", "l1", Retired)],
                ),
            ],
        ),
        with_hs256(bad(
            duplicate_kid("a", "h"),
            [(
                "the local key reused as the HS256 secret",
                vec![local("a", "l1", Active), signing("h", "l1", Active)],
            )],
        )),
        bad(
            Like(|e| wrong_length(e, "a")),
            [
                ("a local key of 16 bytes", vec![local("a", "short", Active)]),
                ("a local key of 48 bytes", vec![local("a", "long", Active)]),
            ],
        ),
        bad(
            Like(|e| wrong_length(e, "s")),
            [(
                "an Ed25519 secret of 32 bytes",
                vec![
                    local("a", "l1", Active),
                    signing("s", "short-secret", Active),
                ],
            )],
        ),
        // pasetors refuses the pair while parsing, before cartseal's own
        // consistency check, so the reason reads as a bad length.
        bad(
            Like(|e| matches!(e, KeyringError::Material { id, .. } if id == "s")),
            [(
                "an Ed25519 secret whose public half is another key's",
                vec![local("a", "l1", Active), signing("s", "mismatched", Active)],
            )],
        ),
        bad(
            Like(|e| {
                matches!(
                    e,
                    KeyringError::Material { id, purpose: Purpose::Local, reason: MaterialError::WrongPurpose(_) }
                        if id == "a"
                )
            }),
            [("a k4.secret file as a local key", vec![local("a", "s1", Active)])],
        ),
        bad(
            Like(|e| {
                matches!(
                    e,
                    KeyringError::Material {
                        reason: MaterialError::WrongPurpose(_),
                        ..
                    }
                )
            }),
            [("a k4.public file as a local key", vec![local("a", "public", Active)])],
        ),
        bad(
            wrong_algorithm(EdDSA, HS256),
            [(
                "a k4.local file as an EdDSA signing key",
                vec![local("a", "l1", Active), signing("s", "l2", Active)],
            )],
        ),
        bad(
            Like(not_a_paserk),
            [
                (
                    "a k4.public file as a signing key",
                    vec![local("a", "l1", Active), signing("s", "public", Active)],
                ),
                ("a file that is not a PASERK", vec![local("a", "garbage", Active)]),
            ],
        ),
        bad(
            Like(|e| {
                matches!(e, KeyringError::Unreadable { id, path, .. }
                    if id == "a" && path.ends_with("missing.paserk"))
            }),
            [("a missing file", vec![local("a", "missing", Active)])],
        ),
        bad(
            Like(unreadable_a),
            [
                ("a directory instead of a file", vec![local("a", "dir", Active)]),
                ("a file that is not UTF-8", vec![local("a", "binary", Active)]),
            ],
        ),
        bad(
            Like(|e| matches!(e, KeyringError::KidMismatch { id, .. } if id == "a")),
            [(
                "a kid that belongs to another key",
                vec![KeyConfig {
                    kid: Some(kid_l2.clone()),
                    ..local("a", "l1", Active)
                }],
            )],
        ),
        bad(
            Like(|e| matches!(e, KeyringError::KidMismatch { .. })),
            [(
                "a signing key's kid on a local key",
                vec![KeyConfig {
                    kid: Some(kid_s1.clone()),
                    ..local("a", "l1", Active)
                }],
            )],
        ),
        with_hs256(bad(
            wrong_algorithm(HS256, EdDSA),
            [(
                "an Ed25519 key when token.jwt_algorithm is HS256",
                vec![local("a", "l1", Active), signing("s", "s1", Active)],
            )],
        )),
    ]
    .concat();

    // A file its owner cannot read: only meaningful when the tests do not
    // run as root, which reads it anyway.
    files.write("unreadable", b"k4.local.AAAA", 0o000);
    if std::fs::read(files.path().join("unreadable.paserk")).is_err() {
        cases.extend(bad(
            Like(unreadable_a),
            [(
                "a file without read permission",
                vec![local("a", "unreadable", Active)],
            )],
        ));
    }

    for case in &cases {
        let result = Keyring::load(&case.keys, files.path(), case.alg, case.need_signing);
        let err = match result {
            Ok(_) => panic!("{}: the keyring loaded", case.what),
            Err(e) => e,
        };
        assert!(
            case.expect.accepts(&err),
            "{}: wrong refusal {err:?}",
            case.what
        );
        let line = err.to_string();
        assert!(
            !line.contains('\n'),
            "{}: one line, got {line:?}",
            case.what
        );
        for secret in &files.secrets {
            let body = secret.rsplit('.').next().expect("a PASERK body");
            assert!(
                !line.contains(body),
                "{}: the message shows a key",
                case.what
            );
        }
    }
}

#[test]
fn the_refusal_messages_name_the_key_and_the_fix() {
    let files = Files::new();
    let load = |keys: Vec<KeyConfig>| {
        Keyring::load(&keys, files.path(), EdDSA, false)
            .expect_err("refused")
            .to_string()
    };
    let no_active = load(vec![local("old", "l1", Retired)]);
    assert!(no_active.contains("no active local key"), "{no_active}");
    let two = load(vec![local("old", "l1", Active), local("new", "l2", Active)]);
    assert!(
        two.contains("old") && two.contains("new") && two.contains("exactly one"),
        "{two}"
    );
    let missing = load(vec![local("k1", "missing", Active)]);
    assert!(
        missing.contains("k1") && missing.contains("missing.paserk"),
        "{missing}"
    );
    let purpose = load(vec![local("k1", "s1", Active)]);
    assert!(purpose.contains("wrong purpose"), "{purpose}");
    let length = load(vec![local("k1", "short", Active)]);
    assert!(length.contains("wrong length"), "{length}");
}

/// A good EdDSA keyring: two keys of each purpose, `a` and `s` active,
/// and the second signing key `t` in `t_state`.
fn good_keys(t_state: KeyState) -> Vec<KeyConfig> {
    vec![
        local("a", "l1", Active),
        local("b", "l2", Pending),
        signing("s", "s1", Active),
        signing("t", "s2", t_state),
    ]
}

/// A good HS256 keyring, whose secret is a k4.local file.
fn good_hs256_ring(files: &Files) -> Keyring {
    let hs = vec![local("a", "l1", Active), signing("h", "l2", Active)];
    Keyring::load(&hs, files.path(), HS256, true)
        .expect("loads")
        .0
}

#[test]
fn a_good_keyring_loads_without_warnings() {
    let files = Files::new();
    let keys = good_keys(DecryptOnly);
    let (ring, warnings) = Keyring::load(&keys, files.path(), EdDSA, true).expect("loads");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(ring.active_local().id, "a");
    assert_eq!(ring.active_signing().map(|k| k.id.as_str()), Some("s"));
    let kid_b = files.kid("l2", Purpose::Local);
    assert_eq!(ring.local_by_kid(&kid_b).map(|k| k.id.as_str()), Some("b"));
    // Lookups are exact, and per purpose.
    assert!(ring.signing_by_kid(&kid_b).is_none());
    assert!(ring.local_by_kid(&kid_b[..kid_b.len() - 1]).is_none());
    assert!(ring.local_by_kid(&kid_b.to_uppercase()).is_none());
    assert!(ring.local_by_kid("").is_none());

    // The configured kid is accepted when it matches.
    let with_kid = vec![KeyConfig {
        kid: Some(files.kid("l1", Purpose::Local)),
        ..local("a", "l1", Active)
    }];
    assert!(Keyring::load(&with_kid, files.path(), EdDSA, false).is_ok());

    // HS256: a k4.local file serves as the secret.
    let ring = good_hs256_ring(&files);
    assert_eq!(
        ring.active_signing()
            .expect("a signing key")
            .material
            .algorithm(),
        HS256
    );
}

#[test]
fn a_key_file_readable_by_group_or_others_is_refused() {
    let files = Files::new();
    for file in ["group-readable", "world-readable"] {
        let keys = vec![local("a", "l1", Active), local("loose", file, Pending)];
        let refused = Keyring::load(&keys, files.path(), EdDSA, false)
            .err()
            .unwrap_or_else(|| panic!("{file}: a readable key file loads"))
            .to_string();
        assert!(
            refused.contains("\"loose\"") && refused.contains("chmod 600"),
            "{file}: {refused}"
        );
    }
}

/// The shipped development keys, under names that hide what they are.
fn dev_keys(base: &Path) -> Vec<KeyConfig> {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys");
    vec![
        KeyConfig {
            id: "prod-local".into(),
            purpose: Purpose::Local,
            file: shipped.join("dev-local-1.paserk"),
            state: Active,
            kid: None,
        },
        KeyConfig {
            id: "prod-signing".into(),
            purpose: Purpose::Signing,
            file: shipped.join("dev-signing-1.paserk"),
            state: Active,
            kid: None,
        },
    ]
    .into_iter()
    .map(|mut k| {
        k.file = base.join(&k.file);
        k
    })
    .collect()
}

#[test]
fn development_keys_are_known_by_their_material_not_their_name() {
    let files = Files::new();
    // Git does not keep file modes: the public development keys may be
    // readable, and still load.
    let (ring, warnings) =
        Keyring::load(&dev_keys(files.path()), files.path(), EdDSA, true).expect("loads");
    assert_eq!(ring.dev_keys(), ["prod-local", "prod-signing"]);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("prod-local") && warnings[0].contains("DEVELOPMENT"));
    // DEV_KIDS names exactly the shipped files.
    let kids: Vec<&str> = ring
        .local_keys()
        .iter()
        .map(|k| k.material.kid())
        .chain(ring.signing_keys().iter().map(|k| k.material.kid()))
        .collect();
    assert_eq!(kids, DEV_KIDS);

    // A retired development key is no longer in use.
    let mut retired = dev_keys(files.path());
    retired.push(local("own", "l1", Active));
    retired[0].state = Retired;
    retired.remove(1);
    let (ring, warnings) = Keyring::load(&retired, files.path(), EdDSA, false).expect("loads");
    assert!(
        ring.dev_keys().is_empty() && warnings.is_empty(),
        "{warnings:?}"
    );

    // A key of our own is never taken for a development key.
    let (ring, _) = Keyring::load(
        &[local("dev-local-1", "l1", Active)],
        files.path(),
        EdDSA,
        false,
    )
    .expect("loads");
    assert!(
        ring.dev_keys().is_empty(),
        "the name alone does not make a dev key"
    );
}

#[test]
fn keys_never_print_their_material() {
    let files = Files::new();
    let keys = good_keys(Retired);
    let (ring, _) = Keyring::load(&keys, files.path(), EdDSA, true).expect("loads");
    let hs_ring = good_hs256_ring(&files);

    let mut printed = vec![
        format!("{ring:?}"),
        format!("{ring:#?}"),
        format!("{hs_ring:?}"),
        format!(
            "{:?}",
            KeyringHandle::new(
                Keyring::load(&keys, files.path(), EdDSA, true)
                    .expect("loads")
                    .0
            )
        ),
    ];
    for key in ring.local_keys() {
        printed.push(format!("{key:?}"));
        printed.push(format!("{:?}", key.material));
    }
    for key in ring.signing_keys().iter().chain(hs_ring.signing_keys()) {
        printed.push(format!("{key:?}"));
        printed.push(format!("{:?}", key.material));
    }
    let mut forbidden: Vec<String> = Vec::new();
    for secret in &files.secrets {
        let body = secret.rsplit('.').next().expect("a PASERK body");
        let bytes = URL_SAFE_NO_PAD.decode(body).expect("base64");
        forbidden.push(secret.clone());
        forbidden.push(body.to_owned());
        // The seed or key in hex, in Debug's decimal list, and as base64.
        forbidden.push(bytes[..32].iter().map(|b| format!("{b:02x}")).collect());
        forbidden.push(
            format!("{:?}", &bytes[..8])
                .trim_end_matches(']')
                .to_owned(),
        );
        forbidden.push(URL_SAFE_NO_PAD.encode(&bytes[..32])[..40].to_owned());
    }
    for text in &printed {
        assert!(text.contains("OMITTED"), "redacted explicitly: {text}");
        for secret in &forbidden {
            assert!(!text.contains(secret.as_str()), "{text} shows {secret}");
        }
    }
}
