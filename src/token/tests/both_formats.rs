//! Attacks that are the same in the `paseto` and `jwt` formats, each run
//! in both: the untouched control, kids the ring does not hold, a token of
//! the other format, a token of another deployment, and authentic claims
//! that fail the checks both formats make.

use serde_json::{Value, json};

use super::super::InvalidReason::{Audience, Crypto, Header, Payload, TooLong, UnknownKey};
use super::super::{Format, JwtAlgorithm, TokenConfig};
use super::support::{
    after_crypto, before_crypto, cart, check_cases, genuine, open, seal, with_claim, with_claims,
    with_kid, without_claim,
};
use crate::cart::Limits;
use crate::fixture::Ring;
use crate::keys::{SigningMaterial, generate_ed25519_paserk, generate_local};

/// Both formats, over one standard EdDSA ring.
const FORMATS: [Format; 2] = [Format::Paseto, Format::Jwt];

#[test]
fn the_untouched_token_opens() {
    // The control for every table of the attack tests: the same codec opens
    // the token they all start from.
    for format in FORMATS {
        let (codec, token) = genuine(format, 3);
        assert_eq!(*open(&codec, &token).cart, cart(3), "{format:?}");
    }
}

#[test]
fn kids_the_ring_does_not_hold_cost_no_decryption_or_verification() {
    for format in FORMATS {
        let (codec, token) = genuine(format, 2);
        let (other, nul) = match format {
            Format::Paseto => (generate_local().kid().to_owned(), "k4.lid.\0"),
            Format::Jwt => {
                let key = SigningMaterial::from_paserk(&generate_ed25519_paserk()).expect("a key");
                (key.kid().to_owned(), "k4.pid.\0")
            }
        };
        let huge = "k".repeat(10 * 1024);
        let unknown = [
            ("a well-formed kid of another key", other.as_str()),
            ("a kid that is a path", "../../../../etc/passwd"),
            ("a kid that is SQL", "' OR '1'='1'; DROP TABLE keys; --"),
            ("a kid holding a NUL", nul),
        ];
        let row = |what, kid| (format!("{format:?}: {what}"), with_kid(&codec, &token, kid));
        let cases = [
            before_crypto(UnknownKey).rows(unknown.map(|(what, kid)| row(what, kid))),
            before_crypto(TooLong).rows([row(
                "a kid of 10 KB (the token is over the length limit)",
                &huge,
            )]),
        ]
        .concat();
        check_cases(&codec, &cases);
    }
}

#[test]
fn a_token_of_the_other_format_is_refused_by_its_header() {
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    for (sealer, opener) in [(Format::Jwt, Format::Paseto), (Format::Paseto, Format::Jwt)] {
        let token = seal(&ring.codec(sealer), &cart(2));
        let what = format!("a {sealer:?} token of the same keyring");
        check_cases(
            &ring.codec(opener),
            &before_crypto(Header).rows([(what, token)]),
        );
    }
}

#[test]
fn a_token_of_another_audience_does_not_open() {
    // The same keys in another deployment. A PASETO token binds the
    // audience in its implicit assertion, so it fails to decrypt; a JWT's
    // `aud` is checked once its signature verifies.
    for (format, reason) in [(Format::Paseto, Crypto), (Format::Jwt, Audience)] {
        let ring = Ring::standard(JwtAlgorithm::EdDSA);
        let ours = ring.codec(format);
        let theirs = ring.codec_with(
            TokenConfig {
                audience: "another-shop".into(),
                ..ring.config(format)
            },
            Limits::default(),
        );
        let token = seal(&theirs, &cart(2));
        assert_eq!(*open(&theirs, &token).cart, cart(2), "{format:?}");
        check_cases(
            &ours,
            &after_crypto(reason).rows([("another audience", token)]),
        );
    }
}

#[test]
fn authentic_claims_that_fail_the_shared_checks_are_refused() {
    // Sealed (PASETO) or signed (JWT) under the real keys: only the claim
    // checks after authentication can refuse them. The checks of one format
    // alone are in payloads.rs and jwt_attacks.rs.
    for format in FORMATS {
        let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(format);
        let edit = |f: &dyn Fn(&mut Value)| with_claims(&codec, &cart(2), f);
        let without = |name| without_claim(&codec, name);
        let set = |name, value| with_claim(&codec, name, value);
        let next_version = edit(&|c| c["v"] = json!(c["v"].as_u64().expect("a version") + 1));

        // The control: the same claims, untouched, open.
        assert_eq!(*open(&codec, &edit(&|_| ())).cart, cart(2), "{format:?}");
        let rows = [
            ("no exp", without("exp")),
            ("no abs", without("abs")),
            ("the payload version after the current one", next_version),
            ("an empty jti", set("jti", json!(""))),
            ("a jti of 65 characters", set("jti", json!("j".repeat(65)))),
            ("an unknown claim", set("admin", json!(true))),
        ];
        let rows = rows.map(|(what, token)| (format!("{format:?}: {what}"), token));
        check_cases(&codec, &after_crypto(Payload).rows(rows));
    }
}
