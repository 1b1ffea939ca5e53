//! What is inside a validly sealed token: claims of the wrong type,
//! malformed payloads, and compressed carts that are bombs, truncated or
//! followed by garbage. Every token here is sealed under the real key, so
//! that the payload check is the only thing that can refuse it.

use serde_json::{Value, json};

use super::super::InvalidReason::{Crypto, Inflate, Payload, TooLong};
use super::super::{Format, JwtAlgorithm, OpenError, TokenCodec};
use super::support::{
    Case, Ring, b64, cart, check_cases, deflate, deflate_bomb, forge_paseto, open, paseto_claims,
    resigned_jwt, seal_cart_claim,
};
use crate::cart::Limits;

fn invalid(reason: super::super::InvalidReason) -> OpenError {
    OpenError::Invalid(reason)
}

/// A PASETO token of `claims` (JSON text) under the active key.
fn paseto_of(codec: &TokenCodec, claims: &str) -> String {
    forge_paseto(codec, "local-a", claims.as_bytes())
}

/// Genuine claims of a 2-line cart with the cart claim replaced by `cz`.
fn with_cz(codec: &TokenCodec, cz: &str) -> String {
    let mut claims = paseto_claims(codec, &cart(2), super::support::NOW);
    let object = claims.as_object_mut().expect("an object");
    object.remove("c");
    object.insert("cz".into(), json!(cz));
    claims.to_string()
}

#[test]
fn the_forged_control_opens() {
    // Genuine claims through the forger open: so what refuses the rows below
    // is what each row changed.
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    for lines in [0, 2, 20] {
        let claims = paseto_claims(&codec, &cart(lines), super::support::NOW).to_string();
        assert_eq!(*open(&codec, &paseto_of(&codec, &claims)).cart, cart(lines));
    }
    let json = cart(2).to_compact_json();
    assert_eq!(
        open(
            &codec,
            &paseto_of(&codec, &with_cz(&codec, &b64(&deflate(&json))))
        )
        .cart,
        cart(2).into()
    );
}

#[test]
fn malformed_paseto_payloads_are_refused() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let genuine = paseto_claims(&codec, &cart(2), super::support::NOW);
    let text = genuine.to_string();
    let set = |name: &str, value: Value| {
        let mut c = genuine.clone();
        c[name] = value;
        paseto_of(&codec, &c.to_string())
    };
    let without = |name: &str| {
        let mut c = genuine.clone();
        c.as_object_mut().unwrap().remove(name);
        paseto_of(&codec, &c.to_string())
    };
    let mut both = genuine.clone();
    both["cz"] = json!(b64(&deflate(&cart(2).to_compact_json())));
    let duplicate = text.replacen('{', r#"{"rev":99,"#, 1);
    let claims_as_array = json!([
        genuine["v"],
        genuine["iat"],
        genuine["nbf"],
        genuine["exp"],
        genuine["abs"],
        genuine["jti"],
        genuine["rev"],
        genuine["c"],
    ])
    .to_string();
    let duplicate_property = text.replacen(r#"{"color":"#, r#"{"color":"red","color":"#, 1);
    assert_ne!(duplicate_property, text);
    assert!(duplicate.contains(r#""rev":99"#) && duplicate.matches(r#""rev":"#).count() == 2);

    let cases = vec![
        Case::new(
            "exp a number",
            set("exp", json!(1_800_604_800)),
            invalid(Payload),
            true,
        ),
        Case::new(
            "exp not RFC 3339",
            set("exp", json!("next tuesday")),
            invalid(Payload),
            true,
        ),
        Case::new("exp null", set("exp", Value::Null), invalid(Payload), true),
        Case::new(
            "iat a number",
            set("iat", json!(1_800_000_000)),
            invalid(Payload),
            true,
        ),
        Case::new(
            "abs a number",
            set("abs", json!(1_802_592_000)),
            invalid(Payload),
            true,
        ),
        Case::new("no exp", without("exp"), invalid(Payload), true),
        Case::new("no abs", without("abs"), invalid(Payload), true),
        Case::new("no jti", without("jti"), invalid(Payload), true),
        Case::new(
            "rev negative",
            set("rev", json!(-1)),
            invalid(Payload),
            true,
        ),
        Case::new(
            "payload version 2",
            set("v", json!(2)),
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
            "an unknown claim",
            set("admin", json!(true)),
            invalid(Payload),
            true,
        ),
        Case::new(
            "both c and cz",
            paseto_of(&codec, &both.to_string()),
            invalid(Payload),
            true,
        ),
        Case::new("neither c nor cz", without("c"), invalid(Payload), true),
        Case::new(
            "c not an array",
            set("c", json!({"SKU-1": 1})),
            invalid(Payload),
            true,
        ),
        Case::new(
            "c with a quantity of 0",
            set("c", json!([["SKU-1", 0]])),
            invalid(Payload),
            true,
        ),
        Case::new(
            "c with a quantity over the limit",
            set("c", json!([["SKU-1", 1000]])),
            invalid(Payload),
            true,
        ),
        Case::new(
            "c with a bad sku",
            set("c", json!([["SKU 1", 1]])),
            invalid(Payload),
            true,
        ),
        Case::new(
            "c with a duplicate line",
            set("c", json!([["SKU-1", 1], ["SKU-1", 2]])),
            invalid(Payload),
            true,
        ),
        Case::new(
            "a duplicate key",
            paseto_of(&codec, &duplicate),
            invalid(Payload),
            true,
        ),
        Case::new(
            "a duplicate property key inside c",
            paseto_of(&codec, &duplicate_property),
            invalid(Payload),
            true,
        ),
        Case::new(
            "not JSON",
            paseto_of(&codec, "hello, cart"),
            invalid(Payload),
            true,
        ),
        Case::new(
            "a top-level array",
            paseto_of(&codec, &format!("[{text}]")),
            invalid(Payload),
            true,
        ),
        // serde would read a struct from an array of its fields in order:
        // only the check that the payload is an object refuses this one.
        Case::new(
            "the claims as a top-level array of their values",
            paseto_of(&codec, &claims_as_array),
            invalid(Payload),
            true,
        ),
        Case::new(
            "a top-level string",
            paseto_of(&codec, r#""claims""#),
            invalid(Payload),
            true,
        ),
        Case::new(
            "JSON followed by text",
            paseto_of(&codec, &format!("{text} trailing")),
            invalid(Payload),
            true,
        ),
        Case::new(
            "two JSON objects",
            paseto_of(&codec, &format!("{text}{text}")),
            invalid(Payload),
            true,
        ),
        Case::new(
            "truncated JSON",
            paseto_of(&codec, &text[..text.len() - 1]),
            invalid(Payload),
            true,
        ),
        // pasetors refuses a payload that is not UTF-8 as part of decrypt.
        Case::new(
            "a payload that is not UTF-8",
            forge_paseto(&codec, "local-a", b"{\"v\":1,\"x\":\"\xff\xfe\"}"),
            invalid(Crypto),
            true,
        ),
    ];
    check_cases(&codec, &cases);
}

#[test]
fn malformed_compressed_carts_are_refused_after_authentication() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let json = cart(20).to_compact_json();
    let packed = deflate(&json);
    let mut trailing = packed.clone();
    trailing.extend_from_slice(b"garbage");
    let truncated = &packed[..packed.len() - 4];
    let small_bomb = deflate(&vec![b'['; 1 << 20]);
    let ratio_bomb = deflate(&vec![b'['; 40 * 1024]);
    // 100 KiB at a ratio well under 200: only the output cap stops it.
    let noise: Vec<u8> = (0..1000).map(|_| rand::random::<u8>()).collect();
    let mut text = b64(&noise).into_bytes();
    text = text.repeat(80 * 1024 / text.len() + 1);
    let wide = deflate(&text[..80 * 1024]);
    assert!(wide.len() * 200 > 80 * 1024, "a ratio under the ratio cap");
    let invalid_cart = deflate(br#"[["SKU-1",0]]"#);
    let cz = |bytes: &[u8]| paseto_of(&codec, &with_cz(&codec, &b64(bytes)));
    let non_canonical =
        super::support::non_canonical(&b64(&packed)).unwrap_or_else(|| b64(&packed) + "A");

    let cases = vec![
        Case::new(
            "deflate followed by garbage",
            cz(&trailing),
            invalid(Inflate),
            true,
        ),
        Case::new(
            "a truncated deflate stream",
            cz(truncated),
            invalid(Inflate),
            true,
        ),
        Case::new(
            "bytes that are not deflate",
            cz(b"\xff\xff\xff\xff not deflate"),
            invalid(Inflate),
            true,
        ),
        Case::new("an empty deflate stream", cz(b""), invalid(Inflate), true),
        Case::new(
            format!(
                "a bomb of {} bytes inflating to 1 MiB (both caps)",
                small_bomb.len()
            ),
            cz(&small_bomb),
            invalid(Inflate),
            true,
        ),
        Case::new(
            format!("{} bytes inflating to 80 KiB (output cap)", wide.len()),
            cz(&wide),
            invalid(Inflate),
            true,
        ),
        Case::new(
            format!("{} bytes inflating to 40 KiB (ratio cap)", ratio_bomb.len()),
            cz(&ratio_bomb),
            invalid(Inflate),
            true,
        ),
        Case::new(
            "deflate of an invalid cart",
            cz(&invalid_cart),
            invalid(Payload),
            true,
        ),
        Case::new(
            "cz with non-zero unused bits",
            paseto_of(&codec, &with_cz(&codec, &non_canonical)),
            invalid(Payload),
            true,
        ),
        Case::new(
            "cz not base64url",
            paseto_of(&codec, &with_cz(&codec, "!!!!")),
            invalid(Payload),
            true,
        ),
    ];
    check_cases(&codec, &cases);
}

/// A codec whose token budget admits a 100 KB bomb, so that inflation (and
/// not the length check) is what must stop it.
fn roomy(ring: &Ring, format: Format) -> TokenCodec {
    ring.codec_with(
        ring.config(format),
        Limits {
            token_max_chars: 1 << 20,
            ..Limits::default()
        },
    )
}

#[test]
fn a_100_mb_deflate_bomb_in_a_valid_paseto_token_is_refused() {
    let bomb = deflate_bomb();
    assert!(bomb.len() < 110_000, "about 100 KB: {}", bomb.len());
    let ring = Ring::standard(JwtAlgorithm::EdDSA);

    // Under the real limits it never reaches decryption.
    let codec = ring.codec(Format::Paseto);
    let token = paseto_of(&codec, &with_cz(&codec, &b64(bomb)));
    check_cases(
        &codec,
        &[Case::new("a 100 MiB bomb", token, invalid(TooLong), false)],
    );

    // With room for it, it decrypts, then stops at the inflate cap: memory
    // is bounded by max_inflated_bytes (64 KiB) by construction.
    let codec = roomy(&ring, Format::Paseto);
    let token = paseto_of(&codec, &with_cz(&codec, &b64(bomb)));
    check_cases(
        &codec,
        &[Case::new(
            "a 100 MiB bomb, roomy limits",
            token,
            invalid(Inflate),
            true,
        )],
    );
}

#[test]
fn a_100_mb_deflate_bomb_in_a_valid_jwt_is_refused() {
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let codec = roomy(&ring, Format::Jwt);
    let token = resigned_jwt(&codec, &cart(1), |_, claims| {
        claims["ct"] = json!(seal_cart_claim(&codec, "local-a", claims, deflate_bomb()));
    });
    check_cases(
        &codec,
        &[Case::new(
            "a 100 MiB bomb in ct",
            token,
            invalid(Inflate),
            true,
        )],
    );
}

#[test]
fn malformed_jwt_cart_claims_are_refused_after_verification() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Jwt);
    let packed = deflate(&cart(2).to_compact_json());
    let with_ct = |bytes: &[u8]| {
        let bytes = bytes.to_vec();
        resigned_jwt(&codec, &cart(1), |_, claims| {
            claims["ct"] = json!(seal_cart_claim(&codec, "local-a", claims, &bytes));
        })
    };
    // The control: a cart claim made this way opens.
    assert_eq!(*open(&codec, &with_ct(&packed)).cart, cart(2));

    let mut trailing = packed.clone();
    trailing.extend_from_slice(b"garbage");
    let cases = vec![
        Case::new(
            "deflate followed by garbage",
            with_ct(&trailing),
            invalid(Inflate),
            true,
        ),
        Case::new(
            "a truncated deflate stream",
            with_ct(&packed[..packed.len() - 4]),
            invalid(Inflate),
            true,
        ),
        Case::new(
            "bytes that are not deflate",
            with_ct(b"\xff\xff\xff\xff"),
            invalid(Inflate),
            true,
        ),
        Case::new(
            "a bomb inflating to 1 MiB",
            with_ct(&deflate(&vec![b'['; 1 << 20])),
            invalid(Inflate),
            true,
        ),
        Case::new(
            "deflate of an invalid cart",
            with_ct(&deflate(br#"[["SKU-1",0]]"#)),
            invalid(Payload),
            true,
        ),
        Case::new(
            "deflate of a top-level object",
            with_ct(&deflate(br#"{"SKU-1":1}"#)),
            invalid(Payload),
            true,
        ),
        Case::new(
            "deflate of bytes that are not UTF-8",
            with_ct(&deflate(b"[\xff]")),
            invalid(Payload),
            true,
        ),
    ];
    check_cases(&codec, &cases);
}
