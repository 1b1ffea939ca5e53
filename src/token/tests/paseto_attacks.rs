//! Tampered and malformed `paseto` tokens: each is refused, with the reason
//! of the first check it fails, and without decryption when that check
//! comes before the crypto step.

use serde_json::json;

use super::super::InvalidReason::{
    Charset, Crypto, Format as BadFormat, Header, Kid, TooLong, UnknownKey,
};
use super::super::{Format, JwtAlgorithm, OpenError, TokenConfig, paseto};
use super::support::{
    Case, NOW, PasetoParts, Ring, cart, check_cases, kid_of, non_canonical, open, paseto_segments,
    refusal, seal,
};
use crate::cart::Limits;
use crate::keys::generate_local;

fn invalid(reason: super::super::InvalidReason) -> OpenError {
    OpenError::Invalid(reason)
}

/// A footer naming `kid`, JSON-escaped.
fn footer_of(kid: &str) -> String {
    json!({ "kid": kid }).to_string()
}

#[test]
fn the_untouched_token_opens() {
    // The control for every table below: the same codec opens the token
    // they all start from.
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let token = seal(&codec, &cart(3));
    assert_eq!(*open(&codec, &token).cart, cart(3));
}

#[test]
fn tampered_tokens_are_refused() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let token = seal(&codec, &cart(3));
    let parts = PasetoParts::of(&token);
    let (body_b64, footer_b64) = paseto_segments(&token);
    let kid_a = kid_of(&codec, "local-a");
    let kid_b = kid_of(&codec, "local-b");

    let with_body = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut body = parts.body.clone();
        edit(&mut body);
        PasetoParts {
            body,
            footer: parts.footer.clone(),
        }
        .token()
    };
    let with_footer = |footer: &str| {
        PasetoParts {
            body: parts.body.clone(),
            footer: footer.as_bytes().to_vec(),
        }
        .token()
    };
    let tag_char = body_b64.len() - 10;
    let changed_char = if &body_b64[tag_char..=tag_char] == "A" {
        "B"
    } else {
        "A"
    };
    let changed_tag_char = format!(
        "{}{}{changed_char}{}.{footer_b64}",
        paseto::HEADER,
        &body_b64[..tag_char],
        &body_b64[tag_char + 1..]
    );
    let n = parts.body.len();
    // Characters to append for a length no encoder produces (4k + 1).
    let impossible = (5 - body_b64.len() % 4) % 4 + if body_b64.len() % 4 == 1 { 4 } else { 0 };

    let cases = vec![
        Case::new(
            "a ciphertext bit flipped",
            with_body(&|b| b[40] ^= 0x01),
            invalid(Crypto),
            true,
        ),
        Case::new(
            "a nonce bit flipped",
            with_body(&|b| b[0] ^= 0x80),
            invalid(Crypto),
            true,
        ),
        Case::new(
            "a tag bit flipped",
            with_body(&|b| *b.last_mut().unwrap() ^= 0x01),
            invalid(Crypto),
            true,
        ),
        Case::new(
            "a tag character changed",
            changed_tag_char,
            invalid(Crypto),
            true,
        ),
        Case::new(
            "the footer re-spaced around the same kid",
            with_footer(&format!(r#"{{"kid": "{kid_a}"}}"#)),
            invalid(Crypto),
            true,
        ),
        Case::new(
            "the footer with an extra field",
            with_footer(&format!(r#"{{"kid":"{kid_a}","x":1}}"#)),
            invalid(Kid),
            false,
        ),
        Case::new(
            "the footer not JSON",
            with_footer("kid"),
            invalid(Kid),
            false,
        ),
        Case::new(
            "the footer's kid a number",
            with_footer(r#"{"kid":1}"#),
            invalid(Kid),
            false,
        ),
        Case::new(
            "the footer without a kid",
            with_footer("{}"),
            invalid(Kid),
            false,
        ),
        Case::new(
            "no footer",
            format!("{}{body_b64}", paseto::HEADER),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "the kid swapped for another key of the ring",
            with_footer(&footer_of(&kid_b)),
            invalid(Crypto),
            true,
        ),
        Case::new(
            "the body truncated by one byte",
            with_body(&|b| b.truncate(n - 1)),
            invalid(Crypto),
            true,
        ),
        Case::new(
            "the body one byte short of nonce + tag",
            with_body(&|b| b.truncate(63)),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "the body a nonce only",
            with_body(&|b| b.truncate(32)),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "an empty body",
            with_body(&|b| b.clear()),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "an extra segment",
            format!("{token}.e30"),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "a trailing dot",
            format!("{token}."),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "a body of impossible base64 length",
            format!(
                "{}{body_b64}{}.{footer_b64}",
                paseto::HEADER,
                "A".repeat(impossible)
            ),
            invalid(BadFormat),
            false,
        ),
        Case::new(
            "a footer with non-zero unused bits in its last character",
            format!(
                "{}{body_b64}.{}",
                paseto::HEADER,
                non_canonical(footer_b64).expect("the footer has unused bits")
            ),
            invalid(BadFormat),
            false,
        ),
    ];
    check_cases(&codec, &cases);
}

#[test]
fn a_body_with_non_canonical_base64_is_refused() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    // The body's length depends on the cart: find one whose last character
    // has unused bits.
    let (token, changed) = (1..=6)
        .map(|lines| seal(&codec, &cart(lines)))
        .find_map(|token| {
            let (body, footer) = paseto_segments(&token);
            let changed = non_canonical(body)?;
            Some((
                token.clone(),
                format!("{}{changed}.{footer}", paseto::HEADER),
            ))
        })
        .expect("a cart whose body length is not a multiple of 3");
    // A lenient decoder would read the same bytes as the original. cartseal
    // checks canonical form itself (step 2), before pasetors, whose
    // constant-time decoder happens to refuse it as well.
    assert_ne!(token, changed);
    check_cases(
        &codec,
        &[Case::new(
            "a body with non-zero unused bits",
            changed,
            invalid(BadFormat),
            false,
        )],
    );
}

#[test]
fn wrong_headers_are_refused_before_any_decoding() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let token = seal(&codec, &cart(2));
    let rest = token.strip_prefix(paseto::HEADER).expect("v4.local.");
    let cases: Vec<Case> = [
        "v3.local.",
        "v4.public.",
        "v2.local.",
        "V4.LOCAL.",
        "V4.local.",
        "v4.Local.",
        "v4.local",
        "v4.",
        "",
    ]
    .into_iter()
    .map(|header| {
        Case::new(
            format!("header {header:?}"),
            format!("{header}{rest}"),
            invalid(Header),
            false,
        )
    })
    .collect();
    check_cases(&codec, &cases);
}

#[test]
fn characters_outside_the_token_alphabet_are_refused_first() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let token = seal(&codec, &cart(2));
    let middle = token.len() / 2;
    let mut cases: Vec<Case> = ["+", "/", "=", " ", "%", "*", "\0", "é", "\u{202e}", ","]
        .into_iter()
        .map(|c| {
            Case::new(
                format!("{c:?} inside the body"),
                format!("{}{c}{}", &token[..middle], &token[middle + 1..]),
                invalid(Charset),
                false,
            )
        })
        .collect();
    cases.push(Case::new(
        "a trailing newline",
        format!("{token}\n"),
        invalid(Charset),
        false,
    ));
    cases.push(Case::new(
        "a leading space",
        format!(" {token}"),
        invalid(Charset),
        false,
    ));
    cases.push(Case::new(
        "padding",
        format!("{token}=="),
        invalid(Charset),
        false,
    ));
    cases.push(Case::new("the empty string", "", invalid(Charset), false));
    check_cases(&codec, &cases);
}

#[test]
fn every_truncation_of_a_token_is_refused() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let token = seal(&codec, &cart(2));
    for cut in 0..token.len() {
        let result = codec.open(&token[..cut], NOW);
        assert!(
            matches!(result, Err(OpenError::Invalid(_))),
            "the first {cut} of {} characters: {result:?}",
            token.len()
        );
    }
}

#[test]
fn kids_the_ring_does_not_hold_cost_no_decryption() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let token = seal(&codec, &cart(2));
    let body = PasetoParts::of(&token).body;
    let with_kid = |kid: &str| {
        PasetoParts {
            body: body.clone(),
            footer: footer_of(kid).into_bytes(),
        }
        .token()
    };
    let unknown = generate_local().kid().to_owned();
    let cases = vec![
        Case::new(
            "a well-formed kid of another key",
            with_kid(&unknown),
            invalid(UnknownKey),
            false,
        ),
        Case::new(
            "a kid that is a path",
            with_kid("../../../../etc/passwd"),
            invalid(UnknownKey),
            false,
        ),
        Case::new(
            "a kid that is an absolute path",
            with_kid("/etc/shadow"),
            invalid(UnknownKey),
            false,
        ),
        Case::new(
            "a kid that is SQL",
            with_kid("' OR '1'='1'; DROP TABLE keys; --"),
            invalid(UnknownKey),
            false,
        ),
        Case::new(
            "a kid holding a NUL",
            with_kid("k4.lid.\0"),
            invalid(UnknownKey),
            false,
        ),
        Case::new("an empty kid", with_kid(""), invalid(UnknownKey), false),
        Case::new(
            "a kid of 10 KB (the token is over the length limit)",
            with_kid(&"k".repeat(10 * 1024)),
            invalid(TooLong),
            false,
        ),
    ];
    check_cases(&codec, &cases);

    // With a token budget large enough for it, the 10 KB kid meets the
    // footer's own cap before any JSON parsing or key lookup.
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let roomy = ring.codec_with(
        TokenConfig::default(),
        Limits {
            token_max_chars: 64 * 1024,
            ..Limits::default()
        },
    );
    let body = PasetoParts::of(&seal(&roomy, &cart(2))).body;
    let huge = PasetoParts {
        body,
        footer: footer_of(&"k".repeat(10 * 1024)).into_bytes(),
    }
    .token();
    check_cases(
        &roomy,
        &[Case::new("a kid of 10 KB", huge, invalid(Kid), false)],
    );
}

#[test]
fn a_token_over_the_length_limit_is_refused_before_anything_else() {
    let codec = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let token = seal(&codec, &cart(2));
    let limit = codec.limits().token_max_chars;
    let padded = |filler: &str| {
        let mut t = token.clone();
        while t.len() <= limit {
            t.push_str(filler);
        }
        t
    };
    let cases = vec![
        Case::new(
            "a genuine token padded past the limit",
            padded("A"),
            invalid(TooLong),
            false,
        ),
        Case::new(
            "past the limit and full of bad characters",
            padded("+/= "),
            invalid(TooLong),
            false,
        ),
        Case::new(
            "past the limit with a wrong header",
            format!("v3.local.{}", "A".repeat(limit)),
            invalid(TooLong),
            false,
        ),
    ];
    check_cases(&codec, &cases);
    // One character under the limit is not "too long".
    let exactly = format!(
        "{}{}",
        paseto::HEADER,
        "A".repeat(limit - paseto::HEADER.len())
    );
    assert_ne!(refusal(&codec, &exactly), invalid(TooLong));
}

#[test]
fn a_jwt_is_refused_where_paseto_is_expected() {
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let jwt = seal(&ring.codec(Format::Jwt), &cart(2));
    check_cases(
        &ring.codec(Format::Paseto),
        &[Case::new(
            "a JWT of the same keyring",
            jwt,
            invalid(Header),
            false,
        )],
    );
}

#[test]
fn a_token_of_another_audience_does_not_open() {
    // The implicit assertion binds the audience: same key, other deployment.
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let ours = ring.codec(Format::Paseto);
    let theirs = ring.codec_with(
        TokenConfig {
            audience: "another-shop".into(),
            ..TokenConfig::default()
        },
        Limits::default(),
    );
    let token = seal(&theirs, &cart(2));
    assert_eq!(*open(&theirs, &token).cart, cart(2));
    check_cases(
        &ours,
        &[Case::new("another audience", token, invalid(Crypto), true)],
    );
}

#[test]
fn a_token_sealed_by_an_unrelated_keyring_is_refused_without_decryption() {
    let ours = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let theirs = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let token = seal(&theirs, &cart(2));
    check_cases(
        &ours,
        &[Case::new(
            "another keyring",
            token,
            invalid(UnknownKey),
            false,
        )],
    );
}
