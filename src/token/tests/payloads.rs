//! What is inside a validly sealed token: claims of the wrong type,
//! malformed payloads, and compressed carts that are bombs, truncated or
//! followed by garbage. Every token here is sealed under the real key, so
//! that the payload check is the only thing that can refuse it.

use serde_json::{Value, json};

use super::super::InvalidReason::{Crypto, Inflate, Payload, TooLong};
use super::super::{Format, JwtAlgorithm, TokenCodec};
use super::support::{
    after_crypto, b64, before_crypto, cart, check_cases, deflate, deflate_bomb, forge_paseto, open,
    paseto_claims, resigned_jwt, seal_cart_claim, with_claim, without_claim,
};
use crate::cart::Limits;
use crate::fixture::{NOW, Ring};

/// A PASETO token of `claims` (JSON text) under the active key.
fn paseto_of(codec: &TokenCodec, claims: &str) -> String {
    forge_paseto(codec, "local-a", claims.as_bytes())
}

/// Genuine claims of a 2-line cart with the cart claim replaced by `cz`.
fn with_cz(codec: &TokenCodec, cz: &str) -> String {
    let mut claims = paseto_claims(codec, &cart(2), NOW);
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
        let claims = paseto_claims(&codec, &cart(lines), NOW).to_string();
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
    // The claim checks both formats make alike are in both_formats.rs.
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let genuine = paseto_claims(&codec, &cart(2), NOW);
    let text = genuine.to_string();
    let set = |name, value| with_claim(&codec, name, value);
    let paseto = |claims: &str| paseto_of(&codec, claims);
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

    let cases = [
        after_crypto(Payload).rows([
            ("exp a number", set("exp", json!(1_800_604_800))),
            ("exp not RFC 3339", set("exp", json!("next tuesday"))),
            ("exp null", set("exp", Value::Null)),
            ("iat a number", set("iat", json!(1_800_000_000))),
            ("abs a number", set("abs", json!(1_802_592_000))),
            ("no jti", without_claim(&codec, "jti")),
            ("rev negative", set("rev", json!(-1))),
            ("both c and cz", paseto(&both.to_string())),
            ("neither c nor cz", without_claim(&codec, "c")),
            ("c not an array", set("c", json!({"SKU-1": 1}))),
            ("c with a quantity of 0", set("c", json!([["SKU-1", 0]]))),
            (
                "c with a quantity over the limit",
                set("c", json!([["SKU-1", 1000]])),
            ),
            ("c with a bad sku", set("c", json!([["SKU 1", 1]]))),
            (
                "c with a duplicate line",
                set("c", json!([["SKU-1", 1], ["SKU-1", 2]])),
            ),
            ("a duplicate key", paseto(&duplicate)),
            (
                "a duplicate property key inside c",
                paseto(&duplicate_property),
            ),
            ("not JSON", paseto("hello, cart")),
            ("a top-level array", paseto(&format!("[{text}]"))),
            // serde would read a struct from an array of its fields in
            // order: only the check that the payload is an object refuses
            // this one.
            (
                "the claims as a top-level array of their values",
                paseto(&claims_as_array),
            ),
            ("a top-level string", paseto(r#""claims""#)),
            ("JSON followed by text", paseto(&format!("{text} trailing"))),
            ("two JSON objects", paseto(&format!("{text}{text}"))),
            ("truncated JSON", paseto(&text[..text.len() - 1])),
        ]),
        // pasetors refuses a payload that is not UTF-8 as part of decrypt.
        after_crypto(Crypto).rows([(
            "a payload that is not UTF-8",
            forge_paseto(&codec, "local-a", b"{\"v\":1,\"x\":\"\xff\xfe\"}"),
        )]),
    ]
    .concat();
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

    let cases = [
        after_crypto(Inflate).rows([
            ("deflate followed by garbage".to_owned(), cz(&trailing)),
            ("a truncated deflate stream".to_owned(), cz(truncated)),
            (
                "bytes that are not deflate".to_owned(),
                cz(b"\xff\xff\xff\xff not deflate"),
            ),
            ("an empty deflate stream".to_owned(), cz(b"")),
            (
                format!(
                    "a bomb of {} bytes inflating to 1 MiB (both caps)",
                    small_bomb.len()
                ),
                cz(&small_bomb),
            ),
            (
                format!("{} bytes inflating to 80 KiB (output cap)", wide.len()),
                cz(&wide),
            ),
            (
                format!("{} bytes inflating to 40 KiB (ratio cap)", ratio_bomb.len()),
                cz(&ratio_bomb),
            ),
        ]),
        after_crypto(Payload).rows([
            ("deflate of an invalid cart", cz(&invalid_cart)),
            (
                "cz with non-zero unused bits",
                paseto_of(&codec, &with_cz(&codec, &non_canonical)),
            ),
            (
                "cz not base64url",
                paseto_of(&codec, &with_cz(&codec, "!!!!")),
            ),
        ]),
    ]
    .concat();
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
    let case = before_crypto(TooLong).rows([("a 100 MiB bomb", token)]);
    check_cases(&codec, &case);

    // With room for it, it decrypts, then stops at the inflate cap: memory
    // is bounded by max_inflated_bytes (64 KiB) by construction.
    let codec = roomy(&ring, Format::Paseto);
    let token = paseto_of(&codec, &with_cz(&codec, &b64(bomb)));
    let case = after_crypto(Inflate).rows([("a 100 MiB bomb, roomy limits", token)]);
    check_cases(&codec, &case);
}

#[test]
fn a_100_mb_deflate_bomb_in_a_valid_jwt_is_refused() {
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let codec = roomy(&ring, Format::Jwt);
    let token = resigned_jwt(&codec, &cart(1), |_, claims| {
        claims["ct"] = json!(seal_cart_claim(&codec, "local-a", claims, deflate_bomb()));
    });
    let case = after_crypto(Inflate).rows([("a 100 MiB bomb in ct", token)]);
    check_cases(&codec, &case);
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
    let cases = [
        after_crypto(Inflate).rows([
            ("deflate followed by garbage", with_ct(&trailing)),
            (
                "a truncated deflate stream",
                with_ct(&packed[..packed.len() - 4]),
            ),
            ("bytes that are not deflate", with_ct(b"\xff\xff\xff\xff")),
            (
                "a bomb inflating to 1 MiB",
                with_ct(&deflate(&vec![b'['; 1 << 20])),
            ),
        ]),
        after_crypto(Payload).rows([
            (
                "deflate of an invalid cart",
                with_ct(&deflate(br#"[["SKU-1",0]]"#)),
            ),
            (
                "deflate of a top-level object",
                with_ct(&deflate(br#"{"SKU-1":1}"#)),
            ),
            (
                "deflate of bytes that are not UTF-8",
                with_ct(&deflate(b"[\xff]")),
            ),
        ]),
    ]
    .concat();
    check_cases(&codec, &cases);
}
