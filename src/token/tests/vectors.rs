//! Known-answer vectors: fixed keys, nonces, jti and clock, so that a change
//! to the wire format shows up as a diff in `tests/vectors/`.
//!
//! The vector files are compared, never rewritten, unless the environment
//! says `CARTSEAL_REGEN_VECTORS=1` (do that only for an intended format
//! change, and say so in the commit). The `cz` claim holds raw deflate
//! output, which depends on the deflate implementation (flate2 with
//! zlib-rs; level 1 below 2,048 bytes of cart JSON, else level 6): a change
//! of backend changes those bytes, not the format.

use std::path::PathBuf;

use pasetors::keys::AsymmetricSecretKey;
use pasetors::paserk::FormatAsPaserk;
use pasetors::version4::V4;
use serde_json::{Value, json};

use super::super::{Format, JwtAlgorithm, Opened, SealInput, TokenCodec, TokenConfig, paseto};
use super::support::{
    PasetoParts, cart, hex, jwt_json, open, seal, seal_input, seal_jwt_fixed, unhex,
};
use super::v4local;
use crate::cart::{Cart, Limits};
use crate::fixture::{NOW, Ring};
use crate::keys::{KeyState, Purpose};

const REGEN_ENV: &str = "CARTSEAL_REGEN_VECTORS";
const AUDIENCE: &str = "cartseal-vectors";

/// The local key of every cartseal vector.
fn local_key() -> [u8; 32] {
    std::array::from_fn(|i| 0x70 + i as u8)
}

/// The Ed25519 seed of the EdDSA vectors.
fn ed25519_seed() -> [u8; 32] {
    std::array::from_fn(|i| 0xa0 + i as u8)
}

/// The HS256 secret of the HS256 vectors.
fn hs256_secret() -> [u8; 32] {
    std::array::from_fn(|i| 0xc0 + i as u8)
}

fn vector_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(file)
}

fn read_vectors(file: &str) -> Value {
    let path = vector_path(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with {REGEN_ENV}=1 to create it)",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("a JSON vector file")
}

/// Compares `computed` with the vector file, entry by entry, or rewrites the
/// file when `CARTSEAL_REGEN_VECTORS=1`.
fn check_or_regenerate(file: &str, computed: &Value) {
    if std::env::var(REGEN_ENV).as_deref() == Ok("1") {
        let text = serde_json::to_string_pretty(computed).expect("JSON") + "\n";
        std::fs::write(vector_path(file), text).expect("write the vector file");
        return;
    }
    let stored = read_vectors(file);
    let (stored_tests, computed_tests) = (&stored["tests"], &computed["tests"]);
    let computed_tests = computed_tests.as_array().expect("tests");
    assert_eq!(
        stored_tests.as_array().map(Vec::len),
        Some(computed_tests.len()),
        "{file}: number of vectors"
    );
    for (stored, computed) in stored_tests
        .as_array()
        .into_iter()
        .flatten()
        .zip(computed_tests)
    {
        for (field, value) in computed.as_object().expect("an object") {
            assert_eq!(
                &stored[field], value,
                "{file}, vector {}: field {field:?} no longer matches: the wire format changed \
                 (if that is intended, rerun with {REGEN_ENV}=1 and review the diff)",
                computed["name"]
            );
        }
    }
    assert_eq!(
        &stored, computed,
        "{file}: the file has fields the test does not produce"
    );
}

/// One of cartseal's own vector files: its file name, and the name and
/// note it opens with.
struct VectorFile {
    file: &'static str,
    name: &'static str,
    note: &'static str,
}

impl VectorFile {
    /// Compares the computed vectors `tests` with the file (or rewrites it,
    /// see [`check_or_regenerate`]) and returns the vectors it holds.
    fn check(&self, tests: Vec<Value>) -> Vec<Value> {
        let computed = json!({ "name": self.name, "note": self.note, "tests": tests });
        check_or_regenerate(self.file, &computed);
        match read_vectors(self.file)["tests"].take() {
            Value::Array(tests) => tests,
            other => panic!("{}: tests is not an array: {other}", self.file),
        }
    }
}

/// A vector of either format: its own `fields`, and what it records of
/// the seal `input` (audience, jti, revision, lifetimes and cart).
fn vector(input: &SealInput<'_>, mut fields: Value) -> Value {
    let t = input.lifetimes;
    let common = json!({
        "audience": AUDIENCE,
        "jti": input.jti,
        "revision": input.revision,
        "iat": t.issued_at,
        "nbf": t.not_before,
        "exp": t.expires_at,
        "abs": t.absolute_expiry,
        "cart": serde_json::from_slice::<Value>(&input.cart.to_compact_json()).expect("JSON"),
    });
    let Value::Object(common) = common else {
        unreachable!("an object literal")
    };
    fields.as_object_mut().expect("an object").extend(common);
    fields
}

fn as_i64(v: &Value) -> i64 {
    v.as_i64().expect("an integer")
}

fn as_str(v: &Value) -> &str {
    v.as_str().expect("a string")
}

/// Checks what the token of the vector `case` opened to: its cart,
/// revision, jti, `exp` and `abs`.
fn assert_opened_as(name: &str, opened: &Opened, case: &Value) {
    let cart_json = serde_json::to_vec(&case["cart"]).expect("JSON");
    assert_eq!(
        *opened.cart,
        Cart::from_compact_json(&cart_json, &Limits::default()).expect("a valid cart"),
        "{name}: cart"
    );
    assert_eq!(
        opened.revision,
        case["revision"].as_u64().expect("u64"),
        "{name}"
    );
    assert_eq!(opened.jti, as_str(&case["jti"]), "{name}");
    assert_eq!(opened.lifetimes.expires_at, as_i64(&case["exp"]), "{name}");
    assert_eq!(
        opened.lifetimes.absolute_expiry,
        as_i64(&case["abs"]),
        "{name}"
    );
}

// ---------------------------------------------------------------------------
// The independent implementation against the official vectors
// ---------------------------------------------------------------------------

#[test]
fn the_independent_v4_local_reproduces_the_official_vectors() {
    let vectors = read_vectors("paseto-v4-official.json");
    let tests = vectors["tests"].as_array().expect("tests");
    assert!(tests.len() >= 3, "three official vectors at least");
    for case in tests {
        let name = as_str(&case["name"]);
        let key = unhex(as_str(&case["key"]));
        let nonce: [u8; 32] = unhex(as_str(&case["nonce"]))
            .try_into()
            .expect("a 32-byte nonce");
        // serde_json writes object keys sorted, which is the order the
        // official payloads were serialized in.
        let message = serde_json::to_string(&case["payload"]).expect("JSON");
        let footer = as_str(&case["footer"]).as_bytes();
        let assertion = as_str(&case["implicit-assertion"]).as_bytes();
        let token = as_str(&case["token"]);

        let encrypted = v4local::encrypt(&key, &nonce, message.as_bytes(), footer, assertion);
        assert_eq!(encrypted, token, "{name}: encrypt");

        let (decrypted, decrypted_footer) =
            v4local::decrypt(&key, token, assertion).unwrap_or_else(|| panic!("{name}: decrypt"));
        assert_eq!(decrypted, message.as_bytes(), "{name}: decrypted message");
        assert_eq!(decrypted_footer, footer, "{name}: decrypted footer");
        assert!(
            v4local::decrypt(&key, token, b"another assertion").is_none(),
            "{name}: the implicit assertion is authenticated"
        );
    }
}

// ---------------------------------------------------------------------------
// cartseal's PASETO vectors
// ---------------------------------------------------------------------------

/// One PASETO vector: its name, cart size, revision, jti and nonce.
const PASETO_CASES: [(&str, usize, u64, &str, u8); 3] = [
    ("cartseal-v4-local-1", 0, 1, "AAECAwQFBgcICQoLDA0ODw", 0x00),
    ("cartseal-v4-local-2", 2, 3, "EBESExQVFhcYGRobHB0eHw", 0x2a),
    (
        "cartseal-v4-local-3",
        20,
        42,
        "ICEiIyQlJicoKSorLC0uLw",
        0x5c,
    ),
];

/// cartseal's PASETO vector file.
const PASETO_FILE: VectorFile = VectorFile {
    file: "paseto-v4-local.json",
    name: "cartseal paseto format (PASETO v4.local) known-answer vectors",
    note: "payload is the exact claims JSON that is encrypted; the implicit assertion is \
             cartseal:v1:<audience>; cz holds raw deflate (flate2/zlib-rs, level 1 below 2048 bytes of cart JSON, else level 6). \
             Regenerate with CARTSEAL_REGEN_VECTORS=1 cargo test --lib vectors.",
};

fn paseto_vectors() -> Vec<Value> {
    let mut ring = Ring::new(JwtAlgorithm::EdDSA);
    let kid = ring.add_local_bytes("vector-key", KeyState::Active, &local_key());
    let config = TokenConfig {
        audience: AUDIENCE.into(),
        ..ring.config(Format::Paseto)
    };
    let codec = ring.codec_with(config, Limits::default());
    let mut tests = Vec::new();
    for (name, lines, revision, jti, nonce_seed) in PASETO_CASES {
        let cart = cart(lines);
        let nonce: [u8; 32] = std::array::from_fn(|i| nonce_seed.wrapping_add(7 * i as u8));
        let mut input = seal_input(&codec, &cart, jti, NOW);
        input.revision = revision;
        let claims = paseto::claims_json(&codec, &input).expect("a small cart");
        let footer = paseto::footer(&kid);
        let assertion = codec.implicit_assertion();
        let token = v4local::encrypt(
            &local_key(),
            &nonce,
            claims.as_bytes(),
            footer.as_bytes(),
            assertion,
        );
        tests.push(vector(
            &input,
            json!({
                "name": name,
                "key": hex(&local_key()),
                "kid": kid,
                "nonce": hex(&nonce),
                "implicit-assertion": String::from_utf8(assertion.to_vec()).expect("UTF-8"),
                "payload": claims,
                "footer": footer,
                "token": token,
            }),
        ));
    }
    tests
}

#[test]
fn paseto_vectors_match_and_open() {
    let tests = PASETO_FILE.check(paseto_vectors());
    let forms: Vec<bool> = tests
        .iter()
        .map(|t| as_str(&t["payload"]).contains("\"cz\":"))
        .collect();
    assert!(
        forms.contains(&true) && forms.contains(&false),
        "the vectors cover both the c and the cz cart claim"
    );
    for case in &tests {
        let name = as_str(&case["name"]);
        let key = unhex(as_str(&case["key"]));
        let token = as_str(&case["token"]);
        let assertion = as_str(&case["implicit-assertion"]);

        // The independent implementation opens it into the stored payload.
        let (payload, footer) =
            v4local::decrypt(&key, token, assertion.as_bytes()).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            payload,
            as_str(&case["payload"]).as_bytes(),
            "{name}: payload"
        );
        assert_eq!(footer, as_str(&case["footer"]).as_bytes(), "{name}: footer");

        // And so does the production codec, into the stored cart.
        let mut ring = Ring::new(JwtAlgorithm::EdDSA);
        let kid = ring.add_local_bytes("vector-key", KeyState::Active, &key);
        assert_eq!(
            kid,
            as_str(&case["kid"]),
            "{name}: kid derived from the key"
        );
        let config = TokenConfig {
            audience: as_str(&case["audience"]).into(),
            ..ring.config(Format::Paseto)
        };
        let codec = ring.codec_with(config, Limits::default());
        let opened = codec
            .open(token, as_i64(&case["iat"]))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_opened_as(name, &opened, case);
        assert_eq!(opened.lifetimes.issued_at, as_i64(&case["iat"]), "{name}");
        assert_eq!(opened.lifetimes.not_before, as_i64(&case["nbf"]), "{name}");
    }
}

#[test]
fn production_paseto_tokens_follow_the_specification() {
    // The production sealer's output (random nonce) opens with the
    // independent implementation, under the implicit assertion and footer
    // that docs/token-format.md describes.
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let codec = ring.codec(Format::Paseto);
    for lines in [0, 3, 20] {
        let token = seal(&codec, &cart(lines));
        let key = super::support::local_key_bytes(&codec, "local-a");
        let assertion = format!("cartseal:v1:{}", codec.config().audience);
        let (payload, footer) = v4local::decrypt(&key, &token, assertion.as_bytes())
            .unwrap_or_else(|| panic!("{lines} lines: a spec-conformant v4.local token"));
        assert_eq!(
            footer,
            format!(
                r#"{{"kid":"{}"}}"#,
                super::support::kid_of(&codec, "local-a")
            )
            .as_bytes()
        );
        let claims: Value = serde_json::from_slice(&payload).expect("JSON claims");
        let mut keys: Vec<&str> = claims
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let cart_claim = if claims.get("cz").is_some() {
            "cz"
        } else {
            "c"
        };
        let mut expected = vec!["abs", "exp", "iat", "jti", "nbf", "rev", "v", cart_claim];
        expected.sort_unstable();
        assert_eq!(keys, expected, "{lines} lines: the claims");
        assert_eq!(
            PasetoParts::of(&token).body.len() - payload.len(),
            64,
            "nonce and tag"
        );
    }
}

// ---------------------------------------------------------------------------
// cartseal's JWT vectors
// ---------------------------------------------------------------------------

/// The `k4.secret.` PASERK of an Ed25519 seed.
fn ed25519_paserk(seed: &[u8; 32]) -> String {
    let public = ed25519_dalek::SigningKey::from_bytes(seed)
        .verifying_key()
        .to_bytes();
    let keypair = [&seed[..], &public[..]].concat();
    let secret = AsymmetricSecretKey::<V4>::from(&keypair).expect("a 64-byte key pair");
    let mut out = String::new();
    secret.fmt(&mut out).expect("format a PASERK");
    out
}

/// The `k4.local.` PASERK of raw bytes.
fn local_paserk(bytes: &[u8]) -> String {
    crate::keys::LocalMaterial::from_bytes(bytes)
        .expect("32 bytes")
        .to_paserk()
        .to_string()
}

/// A ring and codec for the JWT vectors.
fn jwt_codec(
    alg: JwtAlgorithm,
    local: &[u8],
    signing: &[u8],
    audience: &str,
    issuer: &str,
) -> (Ring, TokenCodec) {
    let mut ring = Ring::new(alg);
    ring.add_local_bytes("vector-local", KeyState::Active, local);
    let signing_paserk = match alg {
        JwtAlgorithm::EdDSA => ed25519_paserk(signing.try_into().expect("a 32-byte seed")),
        JwtAlgorithm::HS256 => local_paserk(signing),
    };
    ring.add_paserk(
        "vector-signing",
        Purpose::Signing,
        KeyState::Active,
        &signing_paserk,
    );
    let config = TokenConfig {
        audience: audience.into(),
        issuer: issuer.into(),
        ..ring.config(Format::Jwt)
    };
    let codec = ring.codec_with(config, Limits::default());
    (ring, codec)
}

/// One JWT vector: name, algorithm, cart size, revision, jti.
const JWT_CASES: [(&str, JwtAlgorithm, usize, u64, &str); 3] = [
    (
        "cartseal-jwt-EdDSA-1",
        JwtAlgorithm::EdDSA,
        2,
        3,
        "MDEyMzQ1Njc4OTo7PD0-Pw",
    ),
    (
        "cartseal-jwt-EdDSA-2",
        JwtAlgorithm::EdDSA,
        20,
        42,
        "QEFCQ0RFRkdISUpLTE1OTw",
    ),
    (
        "cartseal-jwt-HS256-1",
        JwtAlgorithm::HS256,
        20,
        42,
        "UFFSU1RVVldYWVpbXF1eXw",
    ),
];

/// cartseal's JWT vector file.
const JWT_FILE: VectorFile = VectorFile {
    file: "jwt.json",
    name: "cartseal jwt format known-answer vectors",
    note: "signing-key is the Ed25519 seed (EdDSA) or the HS256 secret; ct is \
             base64url(cart-nonce || XChaCha20-Poly1305(raw deflate of cart)) under a BLAKE2b \
             subkey of local-key, with associated data PAE(\"cartseal:jwt-cart\", v, aud, iss, jti, \
             abs, ckid) (PASETO's pre-authentication encoding; numbers in decimal). \
             The header's typ is cart+jwt. \
             Regenerate with CARTSEAL_REGEN_VECTORS=1 cargo test --lib vectors.",
};

fn jwt_vectors() -> Vec<Value> {
    let nonce: [u8; 24] = std::array::from_fn(|i| 0x10 + i as u8);
    let mut tests = Vec::new();
    for (name, alg, lines, revision, jti) in JWT_CASES {
        let signing = match alg {
            JwtAlgorithm::EdDSA => ed25519_seed(),
            JwtAlgorithm::HS256 => hs256_secret(),
        };
        let (_ring, codec) = jwt_codec(
            alg,
            &local_key(),
            &signing,
            AUDIENCE,
            "cartseal-vectors-issuer",
        );
        let ring = codec.keys().load();
        let cart = cart(lines);
        let mut input = seal_input(&codec, &cart, jti, NOW);
        input.revision = revision;
        let token = seal_jwt_fixed(&codec, &input, nonce);
        let (header, claims) = jwt_json(&token);
        let signing_key = ring.active_signing().expect("a signing key");
        let public = match &signing_key.material {
            crate::keys::SigningMaterial::Ed25519 { public, .. } => Value::String(hex(public)),
            crate::keys::SigningMaterial::Hs256 { .. } => Value::Null,
        };
        tests.push(vector(
            &input,
            json!({
                "name": name,
                "alg": format!("{alg:?}"),
                "local-key": hex(&local_key()),
                "local-kid": ring.active_local().material.kid(),
                "signing-key": hex(&signing),
                "signing-public-key": public,
                "signing-kid": signing_key.material.kid(),
                "cart-nonce": hex(&nonce),
                "issuer": codec.config().issuer,
                "header": header,
                "claims": claims,
                "token": token,
            }),
        ));
    }
    tests
}

#[test]
fn jwt_vectors_match_and_open() {
    for case in &JWT_FILE.check(jwt_vectors()) {
        let name = as_str(&case["name"]);
        let alg = match as_str(&case["alg"]) {
            "EdDSA" => JwtAlgorithm::EdDSA,
            "HS256" => JwtAlgorithm::HS256,
            other => panic!("{name}: unknown alg {other}"),
        };
        let (_ring, codec) = jwt_codec(
            alg,
            &unhex(as_str(&case["local-key"])),
            &unhex(as_str(&case["signing-key"])),
            as_str(&case["audience"]),
            as_str(&case["issuer"]),
        );
        let opened = codec
            .open(as_str(&case["token"]), as_i64(&case["iat"]))
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_opened_as(name, &opened, case);
        assert_eq!(
            case["header"]["alg"], case["alg"],
            "{name}: alg in the header"
        );
        assert_eq!(
            case["header"]["kid"], case["signing-kid"],
            "{name}: kid in the header"
        );
        assert_eq!(case["claims"]["ckid"], case["local-kid"], "{name}: ckid");
    }
}

#[test]
fn jwt_sealing_is_deterministic_given_the_nonce() {
    // The seam the vectors rely on: same inputs, same token; another nonce,
    // another token.
    let (_ring, codec) = jwt_codec(
        JwtAlgorithm::EdDSA,
        &local_key(),
        &ed25519_seed(),
        AUDIENCE,
        "iss",
    );
    let cart = cart(3);
    let input = seal_input(&codec, &cart, "fixed-jti", NOW);
    let a = seal_jwt_fixed(&codec, &input, [1; 24]);
    assert_eq!(a, seal_jwt_fixed(&codec, &input, [1; 24]));
    assert_ne!(a, seal_jwt_fixed(&codec, &input, [2; 24]));
    assert_eq!(*open(&codec, &a).cart, cart);
}
