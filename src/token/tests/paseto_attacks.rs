//! Tampered and malformed `paseto` tokens: each is refused, with the reason
//! of the first check it fails, and without decryption when that check
//! comes before the crypto step.

use serde_json::json;

use super::super::InvalidReason::{
    Charset, Crypto, Format as BadFormat, Header, Kid, TooLong, UnknownKey,
};
use super::super::{Format, JwtAlgorithm, OpenError, TokenConfig, paseto};
use super::support::{
    PasetoParts, after_crypto, before_crypto, cart, check_cases, genuine, kid_of, non_canonical,
    paseto_segments, refusal, seal, with_kid,
};
use crate::cart::Limits;
use crate::fixture::{NOW, Ring};

/// A footer naming `kid`, JSON-escaped.
fn footer_of(kid: &str) -> String {
    json!({ "kid": kid }).to_string()
}

#[test]
fn tampered_tokens_are_refused() {
    let (codec, token) = genuine(Format::Paseto, 3);
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

    let no_footer = format!("{}{body_b64}", paseto::HEADER);
    let impossible_length = format!(
        "{}{body_b64}{}.{footer_b64}",
        paseto::HEADER,
        "A".repeat(impossible)
    );
    let non_canonical_footer = format!(
        "{}{body_b64}.{}",
        paseto::HEADER,
        non_canonical(footer_b64).expect("the footer has unused bits")
    );

    let cases = [
        after_crypto(Crypto).rows([
            ("a ciphertext bit flipped", with_body(&|b| b[40] ^= 0x01)),
            ("a nonce bit flipped", with_body(&|b| b[0] ^= 0x80)),
            (
                "a tag bit flipped",
                with_body(&|b| *b.last_mut().unwrap() ^= 0x01),
            ),
            ("a tag character changed", changed_tag_char),
            (
                "the footer re-spaced around the same kid",
                with_footer(&format!(r#"{{"kid": "{kid_a}"}}"#)),
            ),
            (
                "the kid swapped for another key of the ring",
                with_footer(&footer_of(&kid_b)),
            ),
            (
                "the body truncated by one byte",
                with_body(&|b| b.truncate(n - 1)),
            ),
        ]),
        before_crypto(Kid).rows([
            (
                "the footer with an extra field",
                with_footer(&format!(r#"{{"kid":"{kid_a}","x":1}}"#)),
            ),
            ("the footer not JSON", with_footer("kid")),
            ("the footer's kid a number", with_footer(r#"{"kid":1}"#)),
            ("the footer without a kid", with_footer("{}")),
        ]),
        before_crypto(BadFormat).rows([
            ("no footer", no_footer),
            (
                "the body one byte short of nonce + tag",
                with_body(&|b| b.truncate(63)),
            ),
            ("the body a nonce only", with_body(&|b| b.truncate(32))),
            ("an empty body", with_body(&|b| b.clear())),
            ("an extra segment", format!("{token}.e30")),
            ("a trailing dot", format!("{token}.")),
            ("a body of impossible base64 length", impossible_length),
            (
                "a footer with non-zero unused bits in its last character",
                non_canonical_footer,
            ),
        ]),
    ]
    .concat();
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
    let case = before_crypto(BadFormat).rows([("a body with non-zero unused bits", changed)]);
    check_cases(&codec, &case);
}

#[test]
fn wrong_headers_are_refused_before_any_decoding() {
    let (codec, token) = genuine(Format::Paseto, 2);
    let rest = token.strip_prefix(paseto::HEADER).expect("v4.local.");
    let headers = [
        "v3.local.",
        "v4.public.",
        "v2.local.",
        "V4.LOCAL.",
        "V4.local.",
        "v4.Local.",
        "v4.local",
        "v4.",
        "",
    ];
    let cases = before_crypto(Header)
        .rows(headers.map(|header| (format!("header {header:?}"), format!("{header}{rest}"))));
    check_cases(&codec, &cases);
}

#[test]
fn characters_outside_the_token_alphabet_are_refused_first() {
    let (codec, token) = genuine(Format::Paseto, 2);
    let middle = token.len() / 2;
    let inside = ["+", "/", "=", " ", "%", "*", "\0", "é", "\u{202e}", ","].map(|c| {
        (
            format!("{c:?} inside the body"),
            format!("{}{c}{}", &token[..middle], &token[middle + 1..]),
        )
    });
    let around = [
        ("a trailing newline", format!("{token}\n")),
        ("a leading space", format!(" {token}")),
        ("padding", format!("{token}==")),
        ("the empty string", String::new()),
    ];
    let around = around.map(|(what, token)| (what.to_owned(), token));
    let cases = before_crypto(Charset).rows(inside.into_iter().chain(around));
    check_cases(&codec, &cases);
}

#[test]
fn every_truncation_of_a_token_is_refused() {
    let (codec, token) = genuine(Format::Paseto, 2);
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
    // The kids of both formats are in both_formats.rs; these are a footer's.
    let (codec, token) = genuine(Format::Paseto, 2);
    let cases = before_crypto(UnknownKey).rows([
        (
            "a kid that is an absolute path",
            with_kid(&codec, &token, "/etc/shadow"),
        ),
        ("an empty kid", with_kid(&codec, &token, "")),
    ]);
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
    check_cases(&roomy, &before_crypto(Kid).rows([("a kid of 10 KB", huge)]));
}

#[test]
fn a_token_over_the_length_limit_is_refused_before_anything_else() {
    let (codec, token) = genuine(Format::Paseto, 2);
    let limit = codec.limits().token_max_chars;
    let padded = |filler: &str| {
        let mut t = token.clone();
        while t.len() <= limit {
            t.push_str(filler);
        }
        t
    };
    let cases = before_crypto(TooLong).rows([
        ("a genuine token padded past the limit", padded("A")),
        ("past the limit and full of bad characters", padded("+/= ")),
        (
            "past the limit with a wrong header",
            format!("v3.local.{}", "A".repeat(limit)),
        ),
    ]);
    check_cases(&codec, &cases);
    // One character under the limit is not "too long".
    let exactly = format!(
        "{}{}",
        paseto::HEADER,
        "A".repeat(limit - paseto::HEADER.len())
    );
    assert_ne!(refusal(&codec, &exactly), OpenError::Invalid(TooLong));
}

#[test]
fn a_token_sealed_by_an_unrelated_keyring_is_refused_without_decryption() {
    let ours = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let theirs = Ring::standard(JwtAlgorithm::EdDSA).codec(Format::Paseto);
    let token = seal(&theirs, &cart(2));
    let case = before_crypto(UnknownKey).rows([("another keyring", token)]);
    check_cases(&ours, &case);
}
