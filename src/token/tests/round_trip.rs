//! Seal then open, for every format and cart size.

use super::super::{Format, JwtAlgorithm, ResealReason, SealError};
use super::support::{NOW, Ring, cart, open};
use crate::cart::Cart;
use crate::keys::KeyState;

/// Every format on offer: (label, format, JWT algorithm).
const FORMATS: [(&str, Format, JwtAlgorithm); 3] = [
    ("paseto", Format::Paseto, JwtAlgorithm::EdDSA),
    ("jwt EdDSA", Format::Jwt, JwtAlgorithm::EdDSA),
    ("jwt HS256", Format::Jwt, JwtAlgorithm::HS256),
];

#[test]
fn carts_of_0_1_20_and_100_lines_round_trip_in_every_format() {
    for (label, format, alg) in FORMATS {
        let ring = Ring::standard(alg);
        let codec = ring.codec(format);
        for lines in [0, 1, 20, 100] {
            let cart = cart(lines);
            let sealed = codec
                .seal(&cart, 7, None, NOW)
                .unwrap_or_else(|e| panic!("{label}, {lines} lines: {e}"));
            assert!(
                sealed.token.len() <= codec.limits().token_max_chars,
                "{label}, {lines} lines: budget"
            );
            let opened = open(&codec, &sealed.token);
            assert_eq!(opened.cart, cart, "{label}, {lines} lines: cart");
            assert_eq!(opened.cart.lines().len(), lines, "{label}, {lines} lines");
            assert_eq!(opened.revision, 7, "{label}, {lines} lines: revision");
            assert_eq!(
                opened.lifetimes, sealed.lifetimes,
                "{label}, {lines} lines: lifetimes"
            );
            assert_eq!(
                opened.reseal, None,
                "{label}, {lines} lines: a fresh token needs no re-seal"
            );
            assert_eq!(opened.key_state, KeyState::Active, "{label}, {lines} lines");
            match format {
                Format::Paseto => {
                    assert_eq!(opened.key_id, "local-a", "{label}");
                    assert_eq!(opened.cart_key_id, None, "{label}");
                }
                Format::Jwt => {
                    assert_eq!(opened.key_id, "sign-a", "{label}");
                    assert_eq!(opened.cart_key_id.as_deref(), Some("local-a"), "{label}");
                }
            }
        }
    }
}

#[test]
fn every_seal_has_a_fresh_jti_and_a_distinct_token() {
    for (label, format, alg) in FORMATS {
        let codec = Ring::standard(alg).codec(format);
        let cart = cart(2);
        let a = codec.seal(&cart, 1, None, NOW).expect("seals");
        let b = codec.seal(&cart, 1, None, NOW).expect("seals");
        assert_ne!(a.token, b.token, "{label}: two seals of one cart differ");
        let (ja, jb) = (open(&codec, &a.token).jti, open(&codec, &b.token).jti);
        assert_ne!(ja, jb, "{label}: jti");
        // 128 random bits, base64url.
        assert_eq!(ja.len(), 22, "{label}: jti length");
    }
}

#[test]
fn the_absolute_expiry_is_kept_across_reseals_and_exp_slides_under_it() {
    for (label, format, alg) in FORMATS {
        let codec = Ring::standard(alg).codec(format);
        let first = codec.seal(&cart(1), 1, None, NOW).expect("seals");
        let abs = first.lifetimes.absolute_expiry;
        assert_eq!(abs, NOW + 30 * 24 * 3600, "{label}: abs of a new cart");
        assert_eq!(
            first.lifetimes.expires_at,
            NOW + 7 * 24 * 3600,
            "{label}: idle exp"
        );

        // A write 28 days later: exp slides, but not past abs.
        let later = NOW + 28 * 24 * 3600;
        let second = codec.seal(&cart(2), 2, Some(abs), later).expect("seals");
        assert_eq!(second.lifetimes.absolute_expiry, abs, "{label}: abs kept");
        assert_eq!(
            second.lifetimes.expires_at, abs,
            "{label}: exp capped at abs"
        );
        let opened = codec.open(&second.token, later).expect("opens");
        assert_eq!(opened.lifetimes, second.lifetimes, "{label}");
        // Capped at abs, it cannot be extended: no re-seal is asked for.
        assert_eq!(opened.reseal, None, "{label}");
    }
}

#[test]
fn a_cart_over_the_token_budget_is_refused_when_sealing() {
    // Lines whose properties do not compress: random values.
    let limits = crate::cart::Limits {
        max_lines: 100,
        ..Default::default()
    };
    let mut big = Cart::new();
    for i in 0..100 {
        let mut props = std::collections::BTreeMap::new();
        let noise: [u8; 24] = rand::random();
        props.insert("engraving".to_owned(), super::support::b64(&noise));
        let line = crate::cart::Line::new(
            crate::cart::Sku::parse(&format!("SKU-{i:05}"), &limits).expect("sku"),
            crate::cart::Quantity::parse(1, &limits).expect("qty"),
            crate::cart::Properties::parse(props, &limits).expect("props"),
        );
        big.add(line, &limits).expect("room");
    }
    for (label, format, alg) in FORMATS {
        let codec = Ring::standard(alg).codec(format);
        match codec.seal(&big, 1, None, NOW) {
            Err(SealError::TooLarge { length, budget }) => {
                assert_eq!(budget, 3800, "{label}");
                assert!(length > budget, "{label}: {length}");
            }
            other => panic!("{label}: expected TooLarge, got {other:?}"),
        }
    }
}

#[test]
fn a_token_opened_near_its_idle_expiry_asks_for_a_reseal() {
    for (label, format, alg) in FORMATS {
        let codec = Ring::standard(alg).codec(format);
        let sealed = codec.seal(&cart(1), 1, None, NOW).expect("seals");
        let exp = sealed.lifetimes.expires_at;
        let within = 24 * 3600; // token.reseal_within_secs
        let just_outside = codec.open(&sealed.token, exp - within).expect("opens");
        assert_eq!(
            just_outside.reseal, None,
            "{label}: exactly reseal_within before exp"
        );
        let just_inside = codec.open(&sealed.token, exp - within + 1).expect("opens");
        assert_eq!(
            just_inside.reseal,
            Some(ResealReason::NearExpiry),
            "{label}"
        );
    }
}
