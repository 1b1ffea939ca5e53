//! Fixtures shared by the codec tests, beside the keyring and clock of
//! [`crate::fixture`]: carts, token surgery, and forgers that seal
//! arbitrary payloads under the real keys (so that a test changes exactly
//! one thing about a token).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flate2::{Compress, Compression, FlushCompress};
use orion::hazardous::aead::xchacha20poly1305::{Nonce, XChaCha20Poly1305};
use serde_json::Value;

use super::super::{
    Format, InvalidReason, JwtAlgorithm, OpenError, Opened, SealInput, Sealed, TokenCodec, jwt,
    paseto,
};
use super::v4local;
use crate::cart::{Cart, Limits, Line, Properties, Quantity, Sku};
use crate::fixture::{NOW, Ring};
use crate::keys::Key;

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

/// The key `id` among `keys`, which must hold it.
fn key_by_id<'a, M>(keys: &'a [Key<M>], id: &str) -> &'a Key<M> {
    keys.iter()
        .find(|k| k.id == id)
        .unwrap_or_else(|| panic!("no key {id:?} of that purpose"))
}

/// The raw bytes of the local key `id` of `codec`'s keyring.
pub fn local_key_bytes(codec: &TokenCodec, id: &str) -> Vec<u8> {
    let ring = codec.keys().load();
    let key = key_by_id(ring.local_keys(), id);
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

/// Every format on offer: (label, format, JWT algorithm).
pub const FORMATS: [(&str, Format, JwtAlgorithm); 3] = [
    ("paseto", Format::Paseto, JwtAlgorithm::EdDSA),
    ("jwt EdDSA", Format::Jwt, JwtAlgorithm::EdDSA),
    ("jwt HS256", Format::Jwt, JwtAlgorithm::HS256),
];

/// A codec over a standard ring of its own for each of `formats`, with its
/// label.
pub fn standard_codecs(
    formats: &[(&'static str, Format, JwtAlgorithm)],
) -> impl Iterator<Item = (&'static str, TokenCodec)> {
    formats
        .iter()
        .map(|&(label, format, alg)| (label, Ring::standard(alg).codec(format)))
}

/// A codec of `format` over a standard EdDSA ring, and a genuine token of
/// a cart of `lines` lines: where the attack tests start.
pub fn genuine(format: Format, lines: usize) -> (TokenCodec, String) {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(format);
    let token = seal(&codec, &cart(lines));
    (codec, token)
}

/// Seals `cart` as a new cart at [`NOW`], revision 1.
pub fn sealed(codec: &TokenCodec, cart: &Cart) -> Sealed {
    codec.seal(cart, 1, None, NOW).expect("the cart seals")
}

/// The token of [`sealed`].
pub fn seal(codec: &TokenCodec, cart: &Cart) -> String {
    sealed(codec, cart).token
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

/// A genuine token of `codec` with its kid replaced by `kid`: in the PASETO
/// footer, or in the JWT header, then re-signed with the active signing
/// key.
pub fn with_kid(codec: &TokenCodec, token: &str, kid: &str) -> String {
    match codec.config().format {
        Format::Paseto => PasetoParts {
            body: PasetoParts::of(token).body,
            footer: serde_json::json!({ "kid": kid }).to_string().into_bytes(),
        }
        .token(),
        Format::Jwt => {
            let (mut header, claims) = jwt_json(token);
            header["kid"] = Value::from(kid);
            sign_jwt(codec, "sign-a", &header, &claims)
        }
    }
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
    let key = key_by_id(ring.signing_keys(), key_id);
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
    let key = key_by_id(ring.local_keys(), key_id);
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

/// A token of `cart` from `codec` whose claims `edit` changed, sealed
/// (PASETO) or signed (JWT) under the active keys: a token that only the
/// claim checks after authentication can refuse.
pub fn with_claims(codec: &TokenCodec, cart: &Cart, edit: impl FnOnce(&mut Value)) -> String {
    match codec.config().format {
        Format::Paseto => {
            let mut claims = paseto_claims(codec, cart, NOW);
            edit(&mut claims);
            let id = codec.keys().load().active_local().id.clone();
            forge_paseto(codec, &id, claims.to_string().as_bytes())
        }
        Format::Jwt => resigned_jwt(codec, cart, |_, claims| edit(claims)),
    }
}

/// [`with_claims`] of a 2-line cart, with the claim `name` set to `value`.
pub fn with_claim(codec: &TokenCodec, name: &str, value: Value) -> String {
    with_claims(codec, &cart(2), |claims| claims[name] = value)
}

/// [`with_claims`] of a 2-line cart, without the claim `name`.
pub fn without_claim(codec: &TokenCodec, name: &str) -> String {
    with_claims(codec, &cart(2), |claims| {
        claims
            .as_object_mut()
            .expect("claims are an object")
            .remove(name);
    })
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
#[derive(Clone)]
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

/// What refuses a group of rows of a refusal table: the error
/// `Invalid(reason)`, and whether it comes from (or after) the crypto step.
pub struct Refused {
    reason: InvalidReason,
    crypto: bool,
}

/// Rows refused for `reason` before any decryption or verification.
pub fn before_crypto(reason: InvalidReason) -> Refused {
    Refused {
        reason,
        crypto: false,
    }
}

/// Rows refused for `reason` by the crypto step or a check after it.
pub fn after_crypto(reason: InvalidReason) -> Refused {
    Refused {
        reason,
        crypto: true,
    }
}

impl Refused {
    /// One case a `(what, token)` row, so that a table reads one line a
    /// case, grouped by what refuses it.
    pub fn rows<W: Into<String>, T: Into<String>>(
        &self,
        rows: impl IntoIterator<Item = (W, T)>,
    ) -> Vec<Case> {
        let expect = OpenError::Invalid(self.reason);
        rows.into_iter()
            .map(|(what, token)| Case::new(what, token, expect, self.crypto))
            .collect()
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
