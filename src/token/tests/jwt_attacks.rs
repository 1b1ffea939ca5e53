//! Tampered, forged and confused `jwt` tokens. Tokens that need a valid
//! signature to reach the check under test are re-signed with the real
//! signing key, so that the check itself is what refuses them.

use jsonwebtoken::{Algorithm, EncodingKey, Header as JwtHeader};
use serde_json::{Value, json};

use super::super::InvalidReason::{
    Audience, Charset, Crypto, Format as BadFormat, Header, Kid, Payload, TooLong, UnknownKey,
};
use super::super::{Format, JwtAlgorithm};
use super::support::{
    after_crypto, b64, before_crypto, cart, check_cases, genuine, jwt_json, jwt_segments, kid_of,
    non_canonical, open, resigned_jwt, seal, sign_jwt, unb64, with_claim, with_claims, with_kid,
    without_claim,
};
use crate::fixture::Ring;
use crate::keys::{SigningMaterial, generate_ed25519_paserk};

/// A token of `header` and the genuine claims and signature segments,
/// unsigned: for headers that must be refused before verification.
fn with_header(header: &Value, claims: &str, signature: &str) -> String {
    format!(
        "{}.{claims}.{signature}",
        b64(header.to_string().as_bytes())
    )
}

#[test]
fn tampered_tokens_are_refused() {
    let (codec, token) = genuine(Format::Jwt, 3);
    let [h, c, s] = jwt_segments(&token);
    let (header, claims) = jwt_json(&token);
    let mut sig = unb64(s);
    sig[10] ^= 0x01;
    let flipped_sig = format!("{h}.{c}.{}", b64(&sig));
    let mut more = claims.clone();
    more["rev"] = json!(claims["rev"].as_u64().unwrap() + 1);
    let edited_claims = format!("{h}.{}.{s}", b64(more.to_string().as_bytes()));
    let mut jose = header.clone();
    // The same type in other letters: it passes the type check, and the
    // signature no longer matches.
    jose["typ"] = json!("CART+JWT");
    let edited_header = with_header(&jose, c, s);

    let cases = [
        after_crypto(Crypto).rows([
            ("a signature bit flipped", flipped_sig),
            ("the claims edited under the old signature", edited_claims),
            ("the header edited under the old signature", edited_header),
        ]),
        before_crypto(BadFormat).rows([
            ("four segments", format!("{token}.e30")),
            ("two segments", format!("{h}.{c}")),
            ("an empty signature", format!("{h}.{c}.")),
            (
                "a signature with non-zero unused bits",
                format!(
                    "{h}.{c}.{}",
                    non_canonical(s).expect("an Ed25519 signature has unused bits")
                ),
            ),
        ]),
        before_crypto(Charset).rows([
            ("a '+' in the claims", format!("{h}.+{}.{s}", &c[1..])),
            ("padding", format!("{token}==")),
        ]),
        before_crypto(TooLong).rows([(
            "over the length limit",
            format!("{token}{}", "A".repeat(4000)),
        )]),
    ]
    .concat();
    check_cases(&codec, &cases);
}

#[test]
fn forbidden_algorithms_and_headers_are_refused_before_verification() {
    let (codec, token) = genuine(Format::Jwt, 2);
    let [_, c, s] = jwt_segments(&token);
    let (header, claims) = jwt_json(&token);
    let kid = kid_of(&codec, "sign-a");

    // HS256 with the Ed25519 public key as the HMAC secret: the classic
    // algorithm confusion. The public key is what the JWKS publishes.
    let ring = codec.keys().load();
    let public = match &ring.active_signing().expect("signing key").material {
        SigningMaterial::Ed25519 { public, .. } => *public,
        SigningMaterial::Hs256 { .. } => unreachable!("an EdDSA ring"),
    };
    let mut hs_header = JwtHeader::new(Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    let confused = jsonwebtoken::encode(&hs_header, &claims, &EncodingKey::from_secret(&public))
        .expect("HS256 signs");

    // Headers that point the verifier at a key of the attacker's choosing,
    // each validly signed with the real key.
    let signed_with = |field: &str, value: Value| {
        let mut h = header.clone();
        h[field] = value;
        sign_jwt(&codec, "sign-a", &h, &claims)
    };
    let jwk = {
        let attacker = SigningMaterial::from_paserk(&generate_ed25519_paserk()).expect("a key");
        jsonwebtoken::jwk::Jwk::from_encoding_key(attacker.encoding(), Algorithm::EdDSA)
            .expect("a JWK")
    };

    let alg = |alg: &str| with_header(&json!({"alg": alg, "typ": "JWT", "kid": kid}), c, s);
    let alg_none_unsigned = format!(
        "{}.{c}.",
        b64(json!({"alg": "none", "kid": kid}).to_string().as_bytes())
    );
    let cases = [
        before_crypto(BadFormat).rows([("alg none with an empty signature", alg_none_unsigned)]),
        before_crypto(Header).rows([
            ("alg none with the genuine signature", alg("none")),
            ("alg None", alg("None")),
            ("alg NONE", alg("NONE")),
            ("HS256 signed with the Ed25519 public key", confused),
            ("RS256 in the header", alg("RS256")),
            (
                "a jku header",
                signed_with("jku", json!("https://attacker.example/jwks.json")),
            ),
            (
                "a jwk header",
                signed_with("jwk", serde_json::to_value(&jwk).expect("JSON")),
            ),
            (
                "an x5u header",
                signed_with("x5u", json!("https://attacker.example/cert.pem")),
            ),
            ("a cty header", signed_with("cty", json!("JWT"))),
            (
                "a typ other than cart+jwt (RFC 8725 explicit typing)",
                signed_with("typ", json!("JWT")),
            ),
            ("no typ", signed_with("typ", Value::Null)),
            (
                "a header that is not JSON",
                format!("{}.{c}.{s}", b64(b"alg")),
            ),
        ]),
    ]
    .concat();
    check_cases(&codec, &cases);
}

#[test]
fn kids_the_ring_does_not_hold_cost_no_verification() {
    // The kids of both formats are in both_formats.rs; these are a header's.
    let (codec, token) = genuine(Format::Jwt, 2);
    let (mut no_kid, _) = jwt_json(&token);
    no_kid.as_object_mut().unwrap().remove("kid");
    let [_, c, s] = jwt_segments(&token);
    let with_kid_of = |id: &str| with_kid(&codec, &token, &kid_of(&codec, id));

    let cases = [
        before_crypto(Kid).rows([("no kid", with_header(&no_kid, c, s))]),
        before_crypto(UnknownKey).rows([(
            "the kid of the local key (wrong purpose)",
            with_kid_of("local-a"),
        )]),
        after_crypto(Crypto).rows([(
            "the kid of the pending signing key over sign-a's signature",
            with_kid_of("sign-b"),
        )]),
    ]
    .concat();
    check_cases(&codec, &cases);
}

#[test]
fn claims_that_fail_their_checks_are_refused_after_verification() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Jwt);
    // The claims both formats check alike are in both_formats.rs.
    let edit = |f: &dyn Fn(&mut Value)| with_claims(&codec, &cart(2), f);
    let drop_claim = |name| without_claim(&codec, name);
    let set = |name, value| with_claim(&codec, name, value);

    // The control: re-signed unchanged, it opens.
    assert_eq!(*open(&codec, &edit(&|_| ())).cart, cart(2));

    // A duplicate claim, validly signed: the second "rev" would win.
    let duplicate = {
        let (header, claims) = jwt_json(&seal(&codec, &cart(2)));
        let text = claims.to_string().replacen('{', r#"{"rev":99,"#, 1);
        let raw = serde_json::value::RawValue::from_string(text).expect("JSON text");
        sign_jwt(&codec, "sign-a", &header, &raw)
    };
    let flipped_ct = edit(&|c| {
        let mut ct = unb64(c["ct"].as_str().unwrap());
        ct[30] ^= 0x01;
        c["ct"] = json!(b64(&ct));
    });
    let non_canonical_ct = edit(&|c| {
        let ct = c["ct"].as_str().unwrap().to_owned();
        c["ct"] = json!(non_canonical(&ct).unwrap_or(ct + "A"));
    });

    let unknown_local = crate::keys::generate_local();
    let cases = [
        after_crypto(Payload).rows([("a duplicate claim", duplicate)]),
        after_crypto(Audience).rows([
            ("another audience", set("aud", json!("another-shop"))),
            ("another issuer", set("iss", json!("someone-else"))),
        ]),
        after_crypto(Payload).rows([
            ("exp a string", set("exp", json!("1800604800"))),
            ("exp a float", set("exp", json!(1_800_604_800.5))),
            ("nbf a string", set("nbf", json!("1800000000"))),
            ("no nbf", drop_claim("nbf")),
            ("no iss", drop_claim("iss")),
            ("no aud", drop_claim("aud")),
            (
                "payload version 1, whose cart claim was bound to jti alone",
                set("v", json!(1)),
            ),
        ]),
        after_crypto(UnknownKey).rows([(
            "a ckid the ring does not hold",
            set("ckid", json!(unknown_local.kid())),
        )]),
        after_crypto(Crypto).rows([
            (
                "the ckid of the other local key",
                set("ckid", json!(kid_of(&codec, "local-b"))),
            ),
            (
                "a new jti: the cart claim is bound to the old one",
                set("jti", json!("AAAAAAAAAAAAAAAAAAAAAA")),
            ),
            ("a ct bit flipped", flipped_ct),
        ]),
        after_crypto(Payload).rows([
            (
                "a ct shorter than nonce and tag",
                set("ct", json!(b64(&[0; 39]))),
            ),
            (
                "a ct that is not base64url",
                set("ct", json!("not base64!")),
            ),
            ("a ct with non-zero unused bits", non_canonical_ct),
        ]),
    ]
    .concat();
    check_cases(&codec, &cases);
}

#[test]
fn hs256_pins_its_algorithm_and_its_secret() {
    let hs = Ring::standard(JwtAlgorithm::HS256);
    let codec = hs.codec(Format::Jwt);
    let token = seal(&codec, &cart(2));
    assert_eq!(*open(&codec, &token).cart, cart(2));

    let (header, claims) = jwt_json(&token);
    // Signed with the pending secret under the active secret's kid.
    let wrong_secret = sign_jwt(&codec, "sign-b", &header, &claims);
    let eddsa = seal(
        &Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Jwt),
        &cart(2),
    );
    let cases = [
        after_crypto(Crypto).rows([("signed with another secret", wrong_secret)]),
        before_crypto(Header).rows([("an EdDSA token", eddsa)]),
    ]
    .concat();
    check_cases(&codec, &cases);
}

#[test]
fn a_captured_cart_claim_rewrapped_with_a_later_absolute_expiry_is_refused() {
    // Every HS256 verifier holds the signing secret, so it can re-sign any
    // claims it likes. The cart claim is bound to abs, ckid, jti, aud, iss
    // and the version: moving abs (to replay a cart past its absolute
    // expiry) breaks the cart claim's tag, whoever signs.
    for alg in [JwtAlgorithm::HS256, JwtAlgorithm::EdDSA] {
        let codec = Ring::standard(alg).codec(Format::Jwt);
        let later = |claims: &mut Value, field: &str| {
            claims[field] = json!(claims[field].as_i64().unwrap() + 30 * 24 * 3600);
        };
        let rewrapped = resigned_jwt(&codec, &cart(2), |_, claims| later(claims, "abs"));
        let both = resigned_jwt(&codec, &cart(2), |_, claims| {
            later(claims, "abs");
            later(claims, "exp");
        });
        let control = resigned_jwt(&codec, &cart(2), |_, _| {});
        assert_eq!(
            *open(&codec, &control).cart,
            cart(2),
            "{alg:?}: re-signing alone"
        );
        let cases = after_crypto(Crypto).rows([
            ("abs moved later", rewrapped),
            ("abs and exp moved later", both),
        ]);
        check_cases(&codec, &cases);
    }
}
