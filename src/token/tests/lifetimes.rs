//! `exp`, `nbf`/`iat` and `abs`, each one second either side of the leeway
//! (`token.leeway_secs`, 60 s by default). The codec takes `now` as an
//! argument, so no test waits for a clock.

use serde_json::json;

use super::super::InvalidReason::{NotYetValid, Payload};
use super::super::{Format, JwtAlgorithm, OpenError, TokenCodec};
use super::support::{
    FORMATS, cart, deflate, forge_paseto, paseto_claims, resigned_jwt, seal_cart_claim,
    standard_codecs,
};
use crate::expiry::Lifetimes;
use crate::fixture::{NOW, Ring, rfc3339};

const LEEWAY: i64 = 60;

/// Checks that `token` opens at `ok_at` and is refused with `err` at
/// `ok_at + step` (a second later, or earlier for `nbf`).
fn boundary(codec: &TokenCodec, label: &str, token: &str, ok_at: i64, step: i64, err: OpenError) {
    let bad_at = ok_at + step;
    assert!(
        codec.open(token, ok_at).is_ok(),
        "{label}: opens at {ok_at} ({:?})",
        codec.open(token, ok_at).err()
    );
    assert_eq!(
        codec.open(token, bad_at).err(),
        Some(err),
        "{label}: at {bad_at}"
    );
}

/// In every format: seals a cart at [`NOW`] under the absolute expiry
/// `abs` (a new cart's when `None`), and checks the [`boundary`] at the
/// instant `edge` picks from its lifetimes.
fn boundary_in_every_format(
    abs: Option<i64>,
    edge: impl Fn(&str, &Lifetimes) -> i64,
    step: i64,
    err: OpenError,
) {
    // The algorithm of a JWT's signature changes nothing about lifetimes.
    for (label, codec) in standard_codecs(&FORMATS[..2]) {
        let sealed = codec.seal(&cart(2), 1, abs, NOW).expect("seals");
        let ok_at = edge(label, &sealed.lifetimes);
        boundary(&codec, label, &sealed.token, ok_at, step, err);
    }
}

#[test]
fn expiry_is_checked_one_second_either_side_of_the_leeway() {
    boundary_in_every_format(None, |_, l| l.expires_at + LEEWAY, 1, OpenError::Expired);
}

#[test]
fn not_before_is_checked_one_second_either_side_of_the_leeway() {
    // As if sealed by a replica whose clock is ahead.
    let not_yet = OpenError::Invalid(NotYetValid);
    boundary_in_every_format(None, |_, l| l.not_before - LEEWAY, -1, not_yet);
}

#[test]
fn the_absolute_expiry_is_checked_one_second_either_side_of_the_leeway() {
    // A cart one hour from its absolute expiry: exp is capped at abs.
    let abs = NOW + 3600;
    let capped = |label: &str, l: &Lifetimes| {
        assert_eq!(l.expires_at, abs, "{label}: exp capped at abs");
        abs + LEEWAY
    };
    boundary_in_every_format(Some(abs), capped, 1, OpenError::Expired);
}

#[test]
fn the_leeway_is_configurable() {
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let strict = ring.codec_with(
        super::super::TokenConfig {
            leeway_secs: 0,
            ..ring.config(Format::Paseto)
        },
        crate::cart::Limits::default(),
    );
    let sealed = strict.seal(&cart(1), 1, None, NOW).expect("seals");
    let exp = sealed.lifetimes.expires_at;
    let token = &sealed.token;
    boundary(&strict, "leeway 0", token, exp, 1, OpenError::Expired);
    let not_yet = OpenError::Invalid(NotYetValid);
    boundary(&strict, "leeway 0", token, NOW, -1, not_yet);
}

/// Lifetimes that no sealer writes, in a token that is otherwise genuine.
struct Forged {
    what: &'static str,
    iat: i64,
    nbf: i64,
    exp: i64,
    abs: i64,
    /// The error at [`NOW`], or `None` when it opens.
    expect: Option<OpenError>,
}

fn forged_lifetimes() -> Vec<Forged> {
    let day = 24 * 3600;
    let row = |what, iat, nbf, exp, abs, expect| Forged {
        what,
        iat,
        nbf,
        exp,
        abs,
        expect,
    };
    vec![
        // abs passed while exp is still ahead: refused as malformed, since
        // exp may never pass abs (and past abs in any case).
        row(
            "exp after abs",
            NOW - day,
            NOW - day,
            NOW + day,
            NOW - LEEWAY - 1,
            Some(OpenError::Invalid(Payload)),
        ),
        row(
            "exp before iat",
            NOW,
            NOW,
            NOW - 1,
            NOW + day,
            Some(OpenError::Invalid(Payload)),
        ),
        row(
            "iat in the future beyond the leeway, nbf now",
            NOW + LEEWAY + 1,
            NOW,
            NOW + day,
            NOW + 2 * day,
            Some(OpenError::Invalid(NotYetValid)),
        ),
        row(
            "the control: consistent lifetimes",
            NOW - 10,
            NOW - 10,
            NOW + day,
            NOW + 2 * day,
            None,
        ),
    ]
}

#[test]
fn inconsistent_lifetimes_are_refused_in_both_formats() {
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let paseto = ring.codec(Format::Paseto);
    let jwt = ring.codec(Format::Jwt);
    for Forged {
        what,
        iat,
        nbf,
        exp,
        abs,
        expect: expected,
    } in forged_lifetimes()
    {
        let mut claims = paseto_claims(&paseto, &cart(2), NOW);
        claims["iat"] = json!(rfc3339(iat));
        claims["nbf"] = json!(rfc3339(nbf));
        claims["exp"] = json!(rfc3339(exp));
        claims["abs"] = json!(rfc3339(abs));
        let p = forge_paseto(&paseto, "local-a", claims.to_string().as_bytes());

        let j = resigned_jwt(&jwt, &cart(2), |_, c| {
            c["iat"] = json!(iat);
            c["nbf"] = json!(nbf);
            c["exp"] = json!(exp);
            c["abs"] = json!(abs);
            // The cart claim is bound to abs: re-seal it, so that only the
            // lifetimes are wrong.
            c["ct"] = json!(seal_cart_claim(
                &jwt,
                "local-a",
                c,
                &deflate(&cart(2).to_compact_json())
            ));
        });
        for (label, codec, token) in [("paseto", &paseto, p), ("jwt", &jwt, j)] {
            let result = codec.open(&token, NOW);
            assert_eq!(result.as_ref().err(), expected.as_ref(), "{label}, {what}");
        }
    }
}

#[test]
fn the_lifetimes_of_a_seal_never_let_exp_pass_abs() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    for abs_in in [0, 1, 3600, 7 * 24 * 3600 - 1, 7 * 24 * 3600, 30 * 24 * 3600] {
        let t = codec
            .config()
            .expiry()
            .on_write(NOW, Some(NOW + abs_in))
            .expect("a live cart");
        assert!(t.expires_at <= t.absolute_expiry, "abs in {abs_in} s");
        assert_eq!(t.expires_at, (NOW + 7 * 24 * 3600).min(NOW + abs_in));
        assert_eq!((t.issued_at, t.not_before), (NOW, NOW));
    }
}

#[test]
fn a_write_just_after_the_absolute_expiry_is_refused_not_sealed_born_invalid() {
    // Inside the leeway a token past its absolute expiry still opens, so a
    // write can reach the seal. Sealing then would give exp < iat: a token
    // that never opens. The write is refused as expired instead.
    for format in [Format::Paseto, Format::Jwt] {
        let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(format);
        let abs = NOW - 30;
        let token = codec
            .seal(&crate::cart::Cart::new(), 1, Some(abs), abs - 10)
            .expect("a live cart")
            .token;
        assert!(
            codec.open(&token, NOW).is_ok(),
            "{format:?}: opens inside the leeway"
        );
        assert_eq!(
            codec
                .seal(&crate::cart::Cart::new(), 2, Some(abs), NOW)
                .err(),
            Some(crate::token::SealError::Expired),
            "{format:?}"
        );
        // At the absolute expiry itself a write still seals a valid token.
        let at = codec
            .seal(&crate::cart::Cart::new(), 2, Some(NOW), NOW)
            .expect("seals at abs");
        assert!(codec.open(&at.token, NOW).is_ok(), "{format:?}");
    }
}

/// Found by fuzzing (the `differential` target; its inputs are kept in
/// fuzz/regressions/differential/): an `abs` after year 9999 sealed a token
/// that chrono's own RFC 3339 parser then refused (a five-digit year), and
/// one past chrono's range panicked.
/// The `paseto` format refuses to seal them; the `jwt` format writes numbers
/// and seals any `abs`.
#[test]
fn a_paseto_seal_refuses_a_time_that_rfc_3339_cannot_write() {
    use super::super::SealError;
    use super::super::paseto::{FIRST_WRITABLE, LAST_WRITABLE};

    assert_eq!(
        (FIRST_WRITABLE, LAST_WRITABLE),
        (
            chrono::DateTime::parse_from_rfc3339("0000-01-01T00:00:00Z")
                .expect("the first second")
                .timestamp(),
            chrono::DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
                .expect("the last second")
                .timestamp(),
        )
    );
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let sealed = codec
        .seal(&cart(2), 1, Some(LAST_WRITABLE), NOW)
        .expect("the last second RFC 3339 writes seals");
    let opened = codec.open(&sealed.token, NOW).expect("and opens");
    assert_eq!(opened.lifetimes.absolute_expiry, LAST_WRITABLE);
    for abs in [
        LAST_WRITABLE + 1,
        519_231_373_432,
        132_923_244_806_256,
        i64::MAX,
    ] {
        assert_eq!(
            codec.seal(&cart(2), 1, Some(abs), NOW).err(),
            Some(SealError::TimeOutOfRange),
            "abs {abs}"
        );
    }
    // Before year 0 is only reachable through a clock that far back.
    assert_eq!(
        codec.seal(&cart(2), 1, None, FIRST_WRITABLE - 1).err(),
        Some(SealError::TimeOutOfRange)
    );
    assert!(codec.seal(&cart(2), 1, None, FIRST_WRITABLE).is_ok());

    let jwt = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Jwt);
    let sealed = jwt
        .seal(&cart(2), 1, Some(i64::MAX), NOW)
        .expect("jwt seals any abs");
    let opened = jwt.open(&sealed.token, NOW).expect("and opens");
    assert_eq!(opened.lifetimes.absolute_expiry, i64::MAX);
}
