//! Tampered, forged and confused `jwt` tokens. Tokens that need a valid
//! signature to reach the check under test are re-signed with the real
//! signing key, so that the check itself is what refuses them.

use jsonwebtoken::{Algorithm, EncodingKey, Header as JwtHeader};
use serde_json::{Value, json};

use super::super::InvalidReason::{
    Audience, Charset, Crypto, Format as BadFormat, Header, Kid, Payload, TooLong, UnknownKey,
};
use super::super::{Format, JwtAlgorithm, OpenError, TokenConfig};
use super::support::{
    Case, Ring, b64, cart, check_cases, jwt_json, jwt_segments, kid_of, non_canonical, open,
    resigned_jwt, seal, sign_jwt, unb64,
};
use crate::cart::Limits;
use crate::keys::{SigningMaterial, generate_ed25519_paserk};

fn invalid(reason: super::super::InvalidReason) -> OpenError {
    OpenError::Invalid(reason)
}

/// A token of `header` and the genuine claims and signature segments,
/// unsigned: for headers that must be refused before verification.
fn with_header(header: &Value, claims: &str, signature: &str) -> String {
    format!(
        "{}.{claims}.{signature}",
        b64(header.to_string().as_bytes())
    )
}

#[test]
fn the_untouched_token_opens() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Jwt);
    let token = seal(&codec, &cart(3));
    assert_eq!(*open(&codec, &token).cart, cart(3));
}

#[test]
fn tampered_tokens_are_refused() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Jwt);
    let token = seal(&codec, &cart(3));
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

    let cases = vec![
        Case::new(
            "a signature bit flipped",
            flipped_sig,
            invalid(Crypto),
            true,
        ),
        Case::new(
            "the claims edited under the old signature",
            edited_claims,
            invalid(Crypto),
            true,
        ),
        Case::new(
            "the header edited under the old signature",
            edited_header,
            invalid(Crypto),
            true,
        ),
        Case::new(
            "four segments",
            format!("{token}.e30"),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "two segments",
            format!("{h}.{c}"),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "an empty signature",
            format!("{h}.{c}."),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "a signature with non-zero unused bits",
            format!(
                "{h}.{c}.{}",
                non_canonical(s).expect("an Ed25519 signature has unused bits")
            ),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "a '+' in the claims",
            format!("{h}.+{}.{s}", &c[1..]),
            invalid(Charset),
            false,
        ),
        Case::new("padding", format!("{token}=="), invalid(Charset), false),
        Case::new(
            "over the length limit",
            format!("{token}{}", "A".repeat(4000)),
            invalid(TooLong),
            false,
        ),
    ];
    check_cases(&codec, &cases);
}

#[test]
fn forbidden_algorithms_and_headers_are_refused_before_verification() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Jwt);
    let token = seal(&codec, &cart(2));
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

    let cases = vec![
        Case::new(
            "alg none with an empty signature",
            format!(
                "{}.{c}.",
                b64(json!({"alg": "none", "kid": kid}).to_string().as_bytes())
            ),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "alg none with the genuine signature",
            with_header(&json!({"alg": "none", "typ": "JWT", "kid": kid}), c, s),
            invalid(Header),
            false,
        ),
        Case::new(
            "alg None",
            with_header(&json!({"alg": "None", "typ": "JWT", "kid": kid}), c, s),
            invalid(Header),
            false,
        ),
        Case::new(
            "alg NONE",
            with_header(&json!({"alg": "NONE", "typ": "JWT", "kid": kid}), c, s),
            invalid(Header),
            false,
        ),
        Case::new(
            "HS256 signed with the Ed25519 public key",
            confused,
            invalid(Header),
            false,
        ),
        Case::new(
            "RS256 in the header",
            with_header(&json!({"alg": "RS256", "typ": "JWT", "kid": kid}), c, s),
            invalid(Header),
            false,
        ),
        Case::new(
            "a jku header",
            signed_with("jku", json!("https://attacker.example/jwks.json")),
            invalid(Header),
            false,
        ),
        Case::new(
            "a jwk header",
            signed_with("jwk", serde_json::to_value(&jwk).expect("JSON")),
            invalid(Header),
            false,
        ),
        Case::new(
            "an x5u header",
            signed_with("x5u", json!("https://attacker.example/cert.pem")),
            invalid(Header),
            false,
        ),
        Case::new(
            "a cty header",
            signed_with("cty", json!("JWT")),
            invalid(Header),
            false,
        ),
        Case::new(
            "a typ other than cart+jwt (RFC 8725 explicit typing)",
            signed_with("typ", json!("JWT")),
            invalid(Header),
            false,
        ),
        Case::new(
            "no typ",
            signed_with("typ", Value::Null),
            invalid(Header),
            false,
        ),
        Case::new(
            "a header that is not JSON",
            format!("{}.{c}.{s}", b64(b"alg")),
            invalid(Header),
            false,
        ),
    ];
    check_cases(&codec, &cases);
}

#[test]
fn kids_the_ring_does_not_hold_cost_no_verification() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Jwt);
    let token = seal(&codec, &cart(2));
    let (header, claims) = jwt_json(&token);
    let with_kid = |kid: Value| {
        let mut h = header.clone();
        h["kid"] = kid;
        sign_jwt(&codec, "sign-a", &h, &claims)
    };
    let mut no_kid = header.clone();
    no_kid.as_object_mut().unwrap().remove("kid");
    let [_, c, s] = jwt_segments(&token);
    let other = SigningMaterial::from_paserk(&generate_ed25519_paserk()).expect("a key");

    let cases = vec![
        Case::new("no kid", with_header(&no_kid, c, s), invalid(Kid), false),
        Case::new(
            "the kid of another key",
            with_kid(json!(other.kid())),
            invalid(UnknownKey),
            false,
        ),
        Case::new(
            "a kid that is a path",
            with_kid(json!("../../../../etc/passwd")),
            invalid(UnknownKey),
            false,
        ),
        Case::new(
            "a kid that is SQL",
            with_kid(json!("' OR '1'='1'; DROP TABLE keys; --")),
            invalid(UnknownKey),
            false,
        ),
        Case::new(
            "a kid holding a NUL",
            with_kid(json!("k4.pid.\u{0}")),
            invalid(UnknownKey),
            false,
        ),
        Case::new(
            "a kid of 10 KB",
            with_kid(json!("k".repeat(10 * 1024))),
            invalid(TooLong),
            false,
        ),
        Case::new(
            "the kid of the local key (wrong purpose)",
            with_kid(json!(kid_of(&codec, "local-a"))),
            invalid(UnknownKey),
            false,
        ),
        Case::new(
            "the kid of the pending signing key over sign-a's signature",
            with_kid(json!(kid_of(&codec, "sign-b"))),
            invalid(Crypto),
            true,
        ),
    ];
    check_cases(&codec, &cases);
}

#[test]
fn claims_that_fail_their_checks_are_refused_after_verification() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Jwt);
    let edit = |f: &dyn Fn(&mut Value)| resigned_jwt(&codec, &cart(2), |_, claims| f(claims));
    let drop_claim =
        |name: &'static str| edit(&move |c| drop(c.as_object_mut().unwrap().remove(name)));
    let set = |name: &'static str, value: Value| edit(&move |c| c[name] = value.clone());

    // The control: re-signed unchanged, it opens.
    assert_eq!(*open(&codec, &edit(&|_| ())).cart, cart(2));

    // A duplicate claim, validly signed: the second "rev" would win.
    let duplicate = {
        let (header, claims) = jwt_json(&seal(&codec, &cart(2)));
        let text = claims.to_string().replacen('{', r#"{"rev":99,"#, 1);
        let raw = serde_json::value::RawValue::from_string(text).expect("JSON text");
        sign_jwt(&codec, "sign-a", &header, &raw)
    };

    let unknown_local = crate::keys::generate_local();
    let cases = vec![
        Case::new("a duplicate claim", duplicate, invalid(Payload), true),
        Case::new(
            "another audience",
            set("aud", json!("another-shop")),
            invalid(Audience),
            true,
        ),
        Case::new(
            "another issuer",
            set("iss", json!("someone-else")),
            invalid(Audience),
            true,
        ),
        Case::new(
            "exp a string",
            set("exp", json!("1800604800")),
            invalid(Payload),
            true,
        ),
        Case::new(
            "exp a float",
            set("exp", json!(1_800_604_800.5)),
            invalid(Payload),
            true,
        ),
        Case::new(
            "nbf a string",
            set("nbf", json!("1800000000")),
            invalid(Payload),
            true,
        ),
        Case::new("no exp", drop_claim("exp"), invalid(Payload), true),
        Case::new("no nbf", drop_claim("nbf"), invalid(Payload), true),
        Case::new("no iss", drop_claim("iss"), invalid(Payload), true),
        Case::new("no aud", drop_claim("aud"), invalid(Payload), true),
        Case::new("no abs", drop_claim("abs"), invalid(Payload), true),
        Case::new(
            "an unknown claim",
            set("admin", json!(true)),
            invalid(Payload),
            true,
        ),
        Case::new(
            "payload version 1, whose cart claim was bound to jti alone",
            set("v", json!(1)),
            invalid(Payload),
            true,
        ),
        Case::new(
            "payload version 3",
            set("v", json!(3)),
            invalid(Payload),
            true,
        ),
        Case::new(
            "an empty jti",
            set("jti", json!("")),
            invalid(Payload),
            true,
        ),
        Case::new(
            "a jti of 65 characters",
            set("jti", json!("j".repeat(65))),
            invalid(Payload),
            true,
        ),
        Case::new(
            "a ckid the ring does not hold",
            set("ckid", json!(unknown_local.kid())),
            invalid(UnknownKey),
            true,
        ),
        Case::new(
            "the ckid of the other local key",
            set("ckid", json!(kid_of(&codec, "local-b"))),
            invalid(Crypto),
            true,
        ),
        Case::new(
            "a new jti: the cart claim is bound to the old one",
            set("jti", json!("AAAAAAAAAAAAAAAAAAAAAA")),
            invalid(Crypto),
            true,
        ),
        Case::new(
            "a ct bit flipped",
            edit(&|c| {
                let mut ct = unb64(c["ct"].as_str().unwrap());
                ct[30] ^= 0x01;
                c["ct"] = json!(b64(&ct));
            }),
            invalid(Crypto),
            true,
        ),
        Case::new(
            "a ct shorter than nonce and tag",
            set("ct", json!(b64(&[0; 39]))),
            invalid(Payload),
            true,
        ),
        Case::new(
            "a ct that is not base64url",
            set("ct", json!("not base64!")),
            invalid(Payload),
            true,
        ),
        Case::new(
            "a ct with non-zero unused bits",
            edit(&|c| {
                let ct = c["ct"].as_str().unwrap().to_owned();
                c["ct"] = json!(non_canonical(&ct).unwrap_or(ct + "A"));
            }),
            invalid(Payload),
            true,
        ),
    ];
    check_cases(&codec, &cases);
}

#[test]
fn a_paseto_token_is_refused_where_a_jwt_is_expected() {
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let paseto = seal(&ring.codec(Format::Paseto), &cart(2));
    check_cases(
        &ring.codec(Format::Jwt),
        &[Case::new(
            "a v4.local token of the same keyring",
            paseto,
            invalid(Header),
            false,
        )],
    );
}

#[test]
fn a_token_of_another_audience_does_not_open() {
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let ours = ring.codec(Format::Jwt);
    let theirs = ring.codec_with(
        TokenConfig {
            audience: "another-shop".into(),
            ..ring.config(Format::Jwt)
        },
        Limits::default(),
    );
    let token = seal(&theirs, &cart(2));
    assert_eq!(*open(&theirs, &token).cart, cart(2));
    check_cases(
        &ours,
        &[Case::new(
            "another audience",
            token,
            invalid(Audience),
            true,
        )],
    );
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
    let cases = vec![
        Case::new(
            "signed with another secret",
            wrong_secret,
            invalid(Crypto),
            true,
        ),
        Case::new("an EdDSA token", eddsa, invalid(Header), false),
    ];
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
        check_cases(
            &codec,
            &[
                Case::new("abs moved later", rewrapped, invalid(Crypto), true),
                Case::new("abs and exp moved later", both, invalid(Crypto), true),
            ],
        );
    }
}
