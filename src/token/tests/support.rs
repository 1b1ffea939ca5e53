//! Fixtures shared by the codec tests: keyrings written to temp dirs, carts,
//! token surgery, and forgers that seal arbitrary payloads under the real
//! keys (so that a test changes exactly one thing about a token).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flate2::{Compress, Compression, FlushCompress};
use orion::hazardous::aead::xchacha20poly1305::{Nonce, XChaCha20Poly1305};
use serde_json::Value;
use tempfile::TempDir;

use super::super::{
    Format, JwtAlgorithm, OpenError, Opened, SealInput, TokenCodec, TokenConfig, jwt, paseto,
};
use super::v4local;
use crate::cart::{Cart, Limits, Line, Properties, Quantity, Sku};
use crate::keys::{
    KeyConfig, KeyState, Keyring, KeyringHandle, LocalMaterial, Purpose, SigningMaterial,
    generate_ed25519_paserk, generate_local,
};

/// The clock of every test, in Unix seconds (2027-01-15T08:00:00Z).
pub const NOW: i64 = 1_800_000_000;

/// A cart of `n` realistic lines: skus such as `SKU-10234-BLK`, each with a
/// colour and a size.
pub fn cart(n: usize) -> Cart {
    const COLOURS: [(&str, &str); 4] = [
        ("BLK", "black"),
        ("WHT", "white"),
        ("RED", "red"),
        ("NVY", "navy"),
    ];
    const SIZES: [&str; 5] = ["XS", "S", "M", "L", "XL"];
    let limits = Limits {
        max_lines: n.max(1),
        ..Limits::default()
    };
    let mut cart = Cart::new();
    for i in 0..n {
        let (code, colour) = COLOURS[i % COLOURS.len()];
        let sku = format!("SKU-{}-{code}", 10_234 + 37 * i);
        let mut properties = BTreeMap::new();
        properties.insert("color".to_owned(), colour.to_owned());
        properties.insert("size".to_owned(), SIZES[i % SIZES.len()].to_owned());
        let line = Line::new(
            Sku::parse(&sku, &limits).expect("a valid sku"),
            Quantity::parse(1 + (i as i64 % 3), &limits).expect("a valid quantity"),
            Properties::parse(properties, &limits).expect("valid properties"),
        );
        cart.add(line, &limits).expect("the cart has room");
    }
    cart
}

/// A keyring under construction: key files in a temp dir, and their
/// `[[keys]]` entries.
pub struct Ring {
    dir: TempDir,
    configs: Vec<KeyConfig>,
    alg: JwtAlgorithm,
}

impl Ring {
    /// An empty ring whose signing keys are for `alg`.
    pub fn new(alg: JwtAlgorithm) -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temp dir"),
            configs: Vec::new(),
            alg,
        }
    }

    /// The standard ring: `local-a` active and `local-b` pending; `sign-a`
    /// active and `sign-b` pending.
    pub fn standard(alg: JwtAlgorithm) -> Self {
        let mut ring = Self::new(alg);
        ring.add_local("local-a", KeyState::Active);
        ring.add_local("local-b", KeyState::Pending);
        ring.add_signing("sign-a", KeyState::Active);
        ring.add_signing("sign-b", KeyState::Pending);
        ring
    }

    /// Adds a fresh random local key; returns its kid.
    pub fn add_local(&mut self, id: &str, state: KeyState) -> String {
        let paserk = generate_local().to_paserk();
        self.add_paserk(id, Purpose::Local, state, &paserk)
    }

    /// Adds the local key with these bytes; returns its kid.
    pub fn add_local_bytes(&mut self, id: &str, state: KeyState, bytes: &[u8]) -> String {
        let paserk = LocalMaterial::from_bytes(bytes)
            .expect("32 key bytes")
            .to_paserk();
        self.add_paserk(id, Purpose::Local, state, &paserk)
    }

    /// Adds a fresh signing key for the ring's algorithm; returns its kid.
    pub fn add_signing(&mut self, id: &str, state: KeyState) -> String {
        let paserk = match self.alg {
            JwtAlgorithm::EdDSA => generate_ed25519_paserk(),
            JwtAlgorithm::HS256 => generate_local().to_paserk(),
        };
        self.add_paserk(id, Purpose::Signing, state, &paserk)
    }

    /// Adds a key from its PASERK text; returns its kid.
    pub fn add_paserk(
        &mut self,
        id: &str,
        purpose: Purpose,
        state: KeyState,
        paserk: &str,
    ) -> String {
        let kid = match purpose {
            Purpose::Local => LocalMaterial::from_paserk(paserk).map(|m| m.kid().to_owned()),
            Purpose::Signing => SigningMaterial::from_paserk(paserk).map(|m| m.kid().to_owned()),
        }
        .expect("a valid PASERK");
        let file = format!("{id}.paserk");
        let path = self.dir.path().join(&file);
        std::fs::write(&path, paserk).expect("write a key file");
        // Key files must be private, or the keyring refuses them.
        let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(&path, private).expect("chmod a key file");
        self.configs.push(KeyConfig {
            id: id.to_owned(),
            purpose,
            file: file.into(),
            state,
            kid: Some(kid.clone()),
        });
        kid
    }

    /// Moves key `id` to `state`.
    pub fn set_state(&mut self, id: &str, state: KeyState) {
        self.configs
            .iter_mut()
            .find(|c| c.id == id)
            .expect("a key of that id")
            .state = state;
    }

    /// Loads the keyring as the service would.
    pub fn keyring(&self) -> Keyring {
        let need_signing = self.configs.iter().any(|c| c.purpose == Purpose::Signing);
        Keyring::load(
            &self.configs,
            self.dir.path(),
            self.alg.into(),
            need_signing,
        )
        .expect("a valid keyring")
        .0
    }

    /// The token settings of this ring's codecs: defaults, in `format`.
    pub fn config(&self, format: Format) -> TokenConfig {
        TokenConfig {
            format,
            jwt_algorithm: self.alg,
            ..TokenConfig::default()
        }
    }

    /// A codec in `format` with the default settings and limits.
    pub fn codec(&self, format: Format) -> TokenCodec {
        self.codec_with(self.config(format), Limits::default())
    }

    /// A codec with these settings and limits.
    pub fn codec_with(&self, config: TokenConfig, limits: Limits) -> TokenCodec {
        TokenCodec::new(config, limits, KeyringHandle::new(self.keyring()))
    }
}

/// The raw bytes of the local key `id` of `codec`'s keyring.
pub fn local_key_bytes(codec: &TokenCodec, id: &str) -> Vec<u8> {
    let ring = codec.keys().load();
    let key = ring
        .local_keys()
        .iter()
        .find(|k| k.id == id)
        .expect("a local key of that id");
    key.material.bytes().to_vec()
}

/// The kid of key `id` of `codec`'s keyring, of either purpose.
pub fn kid_of(codec: &TokenCodec, id: &str) -> String {
    let ring = codec.keys().load();
    let local = ring.local_keys().iter().find(|k| k.id == id);
    let signing = ring.signing_keys().iter().find(|k| k.id == id);
    match (local, signing) {
        (Some(k), _) => k.material.kid().to_owned(),
        (_, Some(k)) => k.material.kid().to_owned(),
        _ => panic!("no key {id:?}"),
    }
}

/// Seals `cart` at [`NOW`], revision 1.
pub fn seal(codec: &TokenCodec, cart: &Cart) -> String {
    codec
        .seal(cart, 1, None, NOW)
        .expect("the cart seals")
        .token
}

/// Opens `token` at [`NOW`] and returns the error.
pub fn refusal(codec: &TokenCodec, token: &str) -> OpenError {
    match codec.open(token, NOW) {
        Ok(opened) => panic!("expected a refusal, but it opened: {:?}", opened.cart),
        Err(e) => e,
    }
}

/// Opens `token` at [`NOW`], which must work.
pub fn open(codec: &TokenCodec, token: &str) -> Opened {
    codec
        .open(token, NOW)
        .unwrap_or_else(|e| panic!("expected the token to open, got {e:?} ({})", e.label()))
}

/// The inputs of a seal with a fixed jti, at `now`.
pub fn seal_input<'a>(codec: &TokenCodec, cart: &'a Cart, jti: &'a str, now: i64) -> SealInput<'a> {
    SealInput {
        cart,
        revision: 1,
        lifetimes: codec
            .config()
            .expiry()
            .on_write(now, None)
            .expect("a new cart"),
        jti,
    }
}

/// Base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes lowercase or uppercase hex.
pub fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "hex of odd length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The same base64url segment with a non-zero bit in the bits that its last
/// character leaves unused, or `None` when it has no unused bits.
pub fn non_canonical(segment: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = *segment.as_bytes().last()?;
    let value = ALPHABET.iter().position(|&c| c == last)?;
    let changed = match segment.len() % 4 {
        2 | 3 => value | 1,
        _ => return None,
    };
    let mut out = segment[..segment.len() - 1].to_owned();
    out.push(char::from(ALPHABET[changed]));
    // The decoder this crate uses would accept it; only the canonical check
    // tells the two apart.
    (out != segment).then_some(out)
}

// ---------------------------------------------------------------------------
// PASETO surgery
// ---------------------------------------------------------------------------

/// A `v4.local.` token taken apart: the decoded body (nonce ‖ ciphertext ‖
/// tag) and the decoded footer.
pub struct PasetoParts {
    pub body: Vec<u8>,
    pub footer: Vec<u8>,
}

impl PasetoParts {
    /// Takes a well-formed token apart.
    pub fn of(token: &str) -> Self {
        let rest = token
            .strip_prefix(paseto::HEADER)
            .expect("a v4.local token");
        let (body, footer) = rest.split_once('.').expect("a footer");
        Self {
            body: unb64(body),
            footer: unb64(footer),
        }
    }

    /// Puts it back together.
    pub fn token(&self) -> String {
        format!(
            "{}{}.{}",
            paseto::HEADER,
            b64(&self.body),
            b64(&self.footer)
        )
    }
}

/// The body segment (base64url) and footer segment of a token.
pub fn paseto_segments(token: &str) -> (&str, &str) {
    let rest = token
        .strip_prefix(paseto::HEADER)
        .expect("a v4.local token");
    rest.split_once('.').expect("a footer")
}

/// The kid named by a PASETO token's footer.
pub fn paseto_kid(token: &str) -> String {
    let footer: Value =
        serde_json::from_slice(&PasetoParts::of(token).footer).expect("JSON footer");
    footer["kid"].as_str().expect("a kid").to_owned()
}

/// The claims a real seal of `cart` at `now` would carry, as JSON to edit.
pub fn paseto_claims(codec: &TokenCodec, cart: &Cart, now: i64) -> Value {
    let input = seal_input(codec, cart, "forged-but-well-formed-jti", now);
    let claims = paseto::claims_json(codec, &input).expect("a cart within the caps");
    serde_json::from_str(&claims).expect("claims are JSON")
}

/// Encrypts `payload` under the local key `key_id` of `codec`, with the real
/// footer and implicit assertion: a token that differs from a genuine one
/// only by its payload. It uses the independent v4.local implementation, so
/// that no check of the production sealer is skipped or relied on.
pub fn forge_paseto(codec: &TokenCodec, key_id: &str, payload: &[u8]) -> String {
    let key = local_key_bytes(codec, key_id);
    let nonce: [u8; 32] = rand::random();
    let footer = paseto::footer(&kid_of(codec, key_id));
    v4local::encrypt(
        &key,
        &nonce,
        payload,
        footer.as_bytes(),
        codec.implicit_assertion(),
    )
}

// ---------------------------------------------------------------------------
// JWT surgery
// ---------------------------------------------------------------------------

/// The three segments of a JWT.
pub fn jwt_segments(token: &str) -> [&str; 3] {
    let mut parts = token.split('.');
    let segments = [parts.next(), parts.next(), parts.next()];
    assert!(parts.next().is_none(), "three segments");
    segments.map(|s| s.expect("three segments"))
}

/// A JWT's header and claims, decoded without verification, to edit.
pub fn jwt_json(token: &str) -> (Value, Value) {
    let [header, claims, _] = jwt_segments(token);
    let parse = |s: &str| serde_json::from_slice(&unb64(s)).expect("JSON segment");
    (parse(header), parse(claims))
}

/// Signs `header` and `claims` with the signing key `key_id` of `codec`,
/// byte for byte as given: a token that differs from a genuine one only by
/// what the test changed.
pub fn sign_jwt<T: serde::Serialize>(
    codec: &TokenCodec,
    key_id: &str,
    header: &Value,
    claims: &T,
) -> String {
    let ring = codec.keys().load();
    let key = ring
        .signing_keys()
        .iter()
        .find(|k| k.id == key_id)
        .expect("a signing key of that id");
    let mut header: jsonwebtoken::Header =
        serde_json::from_value(header.clone()).expect("a header jsonwebtoken can write");
    if header.kid.is_none() {
        header.kid = Some(key.material.kid().to_owned());
    }
    jsonwebtoken::encode(&header, claims, key.material.encoding()).expect("signing works")
}

/// A JWT cart claim (`ct`) over `packed` (already deflated, or not: the
/// test decides), sealed under the local key `key_id` and bound to the
/// `jti`, `abs` and `ckid` of `claims` as the format requires.
pub fn seal_cart_claim(codec: &TokenCodec, key_id: &str, claims: &Value, packed: &[u8]) -> String {
    let ring = codec.keys().load();
    let key = ring
        .local_keys()
        .iter()
        .find(|k| k.id == key_id)
        .expect("a local key of that id");
    let nonce: [u8; 24] = rand::random();
    let ad = jwt::Binding {
        audience: &codec.config().audience,
        issuer: &codec.config().issuer,
        jti: claims["jti"].as_str().expect("a jti"),
        absolute_expiry: claims["abs"].as_i64().expect("an abs"),
        ckid: claims["ckid"].as_str().expect("a ckid"),
    }
    .associated_data();
    let mut out = vec![0u8; 24 + packed.len() + 16];
    out[..24].copy_from_slice(&nonce);
    XChaCha20Poly1305::seal(
        &key.material.jwt_cart,
        &Nonce::try_from(&nonce).expect("24 bytes"),
        packed,
        Some(&ad),
        &mut out[24..],
    )
    .expect("AEAD seal");
    b64(&out)
}

/// A genuine JWT of `cart` from `codec` with its claims rewritten by `edit`
/// and re-signed with the active signing key.
pub fn resigned_jwt(
    codec: &TokenCodec,
    cart: &Cart,
    edit: impl FnOnce(&mut Value, &mut Value),
) -> String {
    let (mut header, mut claims) = jwt_json(&seal(codec, cart));
    edit(&mut header, &mut claims);
    let id = codec
        .keys()
        .load()
        .active_signing()
        .expect("an active signing key")
        .id
        .clone();
    sign_jwt(codec, &id, &header, &claims)
}

// ---------------------------------------------------------------------------
// Compression
// ---------------------------------------------------------------------------

/// Raw deflate of `data`, independent of the production deflater.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("in-memory write");
    encoder.finish().expect("in-memory deflate")
}

/// A raw deflate stream of about 100 KB that inflates to 100 MiB of one
/// byte. Deflating 100 MiB takes seconds in a debug build, so the stream is
/// assembled from three pieces: after a sync flush, every further MiB of the
/// same byte compresses to the same bytes, so the middle piece repeats.
pub fn deflate_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        const MIB: usize = 1 << 20;
        let chunk = vec![b'a'; MIB];
        let mut compress = Compress::new(Compression::best(), false);
        let mut piece = |flush| {
            let mut out = Vec::with_capacity(64 * 1024);
            let before = compress.total_in();
            compress
                .compress_vec(&chunk, &mut out, flush)
                .expect("in-memory deflate");
            assert_eq!(
                compress.total_in() - before,
                MIB as u64,
                "the whole MiB went in"
            );
            out
        };
        let first = piece(FlushCompress::Sync);
        let middle = piece(FlushCompress::Sync);
        assert_eq!(
            piece(FlushCompress::Sync),
            middle,
            "a repeated MiB compresses the same"
        );
        let last = piece(FlushCompress::Finish);
        // first + 98 × middle + last = 100 MiB.
        let mut bomb = first;
        for _ in 0..98 {
            bomb.extend_from_slice(&middle);
        }
        bomb.extend_from_slice(&last);
        bomb
    })
}

/// Seals a JWT with a fixed nonce (the known-answer seam).
pub fn seal_jwt_fixed(codec: &TokenCodec, input: &SealInput<'_>, nonce: [u8; 24]) -> String {
    jwt::seal(codec, &codec.keys().load(), input, Some(nonce)).expect("the cart seals")
}

// ---------------------------------------------------------------------------
// Table-driven refusals
// ---------------------------------------------------------------------------

/// One row of a refusal table: a token, the error it must get, and whether
/// opening it may reach decryption or verification at all.
pub struct Case {
    /// What is wrong with the token, as the failure message.
    pub what: String,
    /// The token.
    pub token: String,
    /// The error.
    pub expect: OpenError,
    /// True when the refusal comes from (or after) the crypto step; false
    /// when it must come before any decryption or verification.
    pub crypto: bool,
}

impl Case {
    /// A row.
    pub fn new(
        what: impl Into<String>,
        token: impl Into<String>,
        expect: OpenError,
        crypto: bool,
    ) -> Self {
        Self {
            what: what.into(),
            token: token.into(),
            expect,
            crypto,
        }
    }
}

/// Opens every row's token at [`NOW`] and checks its error and how many
/// decryptions it cost.
pub fn check_cases(codec: &TokenCodec, cases: &[Case]) {
    for case in cases {
        let before = super::decrypt_attempts();
        let result = codec.open(&case.token, NOW);
        let attempts = super::decrypt_attempts() - before;
        assert_eq!(
            result.as_ref().err(),
            Some(&case.expect),
            "{}: wrong outcome (opened: {})",
            case.what,
            result.is_ok()
        );
        assert_eq!(
            attempts,
            u64::from(case.crypto),
            "{}: {attempts} decryption attempts",
            case.what
        );
    }
}
