//! Seal then open, for every format and cart size.

use super::super::{Format, Oversize, ResealReason, SealError};
use super::support::{FORMATS, cart, open, sealed, standard_codecs};
use crate::cart::Cart;
use crate::fixture::NOW;
use crate::keys::KeyState;

#[test]
fn carts_of_0_1_20_and_100_lines_round_trip_in_every_format() {
    for (label, codec) in standard_codecs(&FORMATS) {
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
            assert_eq!(*opened.cart, cart, "{label}, {lines} lines: cart");
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
            match codec.config().format {
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
    for (label, codec) in standard_codecs(&FORMATS) {
        let cart = cart(2);
        let a = sealed(&codec, &cart);
        let b = sealed(&codec, &cart);
        assert_ne!(a.token, b.token, "{label}: two seals of one cart differ");
        let (ja, jb) = (open(&codec, &a.token).jti, open(&codec, &b.token).jti);
        assert_ne!(ja, jb, "{label}: jti");
        // 128 random bits, base64url.
        assert_eq!(ja.len(), 22, "{label}: jti length");
    }
}

#[test]
fn the_absolute_expiry_is_kept_across_reseals_and_exp_slides_under_it() {
    for (label, codec) in standard_codecs(&FORMATS) {
        let first = sealed(&codec, &cart(1));
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
    for (label, codec) in standard_codecs(&FORMATS) {
        match codec.seal(&big, 1, None, NOW) {
            Err(SealError::TooLarge(Oversize::Token { length, budget })) => {
                assert_eq!(budget, 3800, "{label}");
                assert!(length > budget, "{label}: {length}");
            }
            other => panic!("{label}: expected TooLarge, got {other:?}"),
        }
    }
}

#[test]
fn a_token_opened_near_its_idle_expiry_asks_for_a_reseal() {
    for (label, codec) in standard_codecs(&FORMATS) {
        let sealed = sealed(&codec, &cart(1));
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

/// A cart whose lines differ only in their sku, each with the most
/// properties the limits allow, every value the same long run of one
/// character: it deflates to almost nothing.
fn compressible_cart(lines: usize, limits: &crate::cart::Limits) -> Cart {
    let mut cart = Cart::new();
    for i in 0..lines {
        let props = (0..limits.max_properties)
            .map(|p| (format!("p{p}"), "x".repeat(limits.property_value_max_bytes)))
            .collect();
        let line = crate::cart::Line::new(
            crate::cart::Sku::parse(&format!("SKU-{i:05}"), limits).expect("sku"),
            crate::cart::Quantity::parse(1, limits).expect("qty"),
            crate::cart::Properties::parse(props, limits).expect("props"),
        );
        cart.add(line, limits).expect("room");
    }
    cart
}

#[test]
fn a_cart_that_would_inflate_past_the_cap_is_refused_when_sealing_not_when_opening() {
    // The review's reproduction: 50 lines with five 250-byte properties,
    // similar from line to line, seal into a short token whose cart
    // inflates past `limits.max_inflated_bytes` (and past the ratio cap).
    let limits = crate::cart::Limits::default();
    let big = compressible_cart(50, &limits);
    for (label, codec) in standard_codecs(&FORMATS) {
        match codec.seal(&big, 1, None, NOW) {
            Ok(sealed) => {
                let opened = codec.open(&sealed.token, NOW);
                assert!(
                    opened.is_ok(),
                    "{label}: a token that seals must open, got {opened:?}"
                );
            }
            Err(SealError::TooLarge { .. }) => {}
            Err(other) => panic!("{label}: expected TooLarge, got {other:?}"),
        }
    }
}

mod sealed_opens {
    use proptest::prelude::*;

    use super::super::super::SealError;
    use super::{FORMATS, compressible_cart};
    use crate::cart::{Cart, Limits, Line, Properties, Quantity, Sku};
    use crate::fixture::{NOW, Ring};

    /// Lines drawn to compress anywhere from not at all to as well as
    /// possible: values from a one-letter alphabet up to random text.
    fn cart_strategy() -> impl Strategy<Value = (Cart, Limits)> {
        let line = (
            0u32..100_000,
            1i64..=999,
            proptest::collection::btree_map(
                "[a-e]{1,8}",
                prop_oneof![
                    (1usize..=256).prop_map(|n| "x".repeat(n)),
                    (1usize..=256, "[a-z]{1,4}").prop_map(|(n, s)| s
                        .repeat(n / s.len().max(1))
                        .chars()
                        .take(256)
                        .collect::<String>()
                        .chars()
                        .filter(|c| !c.is_control())
                        .collect::<String>()),
                    "[ -~]{0,256}",
                ],
                0..=5,
            ),
        );
        (
            proptest::collection::vec(line, 0..=100),
            2usize..=400,
            1024usize..=65_536,
        )
            .prop_map(|(lines, ratio, inflated)| {
                let limits = Limits {
                    max_inflate_ratio: ratio,
                    max_inflated_bytes: inflated,
                    ..Limits::default()
                };
                let mut cart = Cart::new();
                for (sku, qty, props) in lines {
                    let line = Line::new(
                        Sku::parse(&format!("S{sku}"), &limits).expect("sku"),
                        Quantity::parse(qty, &limits).expect("qty"),
                        Properties::parse(props, &limits).expect("props"),
                    );
                    let _ = cart.add(line, &limits);
                }
                (cart, limits)
            })
    }

    fn seals_then_opens(cart: &Cart, limits: &Limits) -> Result<(), TestCaseError> {
        for (label, format, alg) in FORMATS {
            let ring = Ring::standard(alg);
            let codec = ring.codec_with(ring.config(format), limits.clone());
            match codec.seal(cart, 3, None, NOW) {
                Ok(sealed) => {
                    let opened = codec.open(&sealed.token, NOW);
                    prop_assert!(
                        opened.is_ok(),
                        "{}: sealed but refused: {:?}",
                        label,
                        opened.err()
                    );
                    prop_assert_eq!(&*opened.unwrap().cart, cart, "{}", label);
                }
                Err(SealError::TooLarge { .. }) => {}
                Err(e) => prop_assert!(false, "{}: {:?}", label, e),
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn every_cart_within_the_limits_that_seals_opens_to_the_same_cart((cart, limits) in cart_strategy()) {
            seals_then_opens(&cart, &limits)?;
        }

        #[test]
        fn carts_built_to_compress_as_well_as_possible_seal_only_if_they_open(lines in 0usize..=100, ratio in 2usize..=400) {
            let limits = Limits { max_inflate_ratio: ratio, ..Limits::default() };
            seals_then_opens(&compressible_cart(lines, &limits), &limits)?;
        }
    }
}
