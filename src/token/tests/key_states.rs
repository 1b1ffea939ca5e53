//! Rotation states as the codec sees them: which keys open, which seal, and
//! when a token must be re-sealed. Keyrings are swapped through the handle,
//! as a SIGHUP reload does.

use super::super::InvalidReason::RetiredKey;
use super::super::{Format, JwtAlgorithm, OpenError, Opened, ResealReason, TokenCodec};
use super::support::{Case, cart, check_cases, jwt_json, kid_of, open, paseto_kid, seal};
use crate::fixture::{NOW, Ring};
use crate::keys::KeyState::{self, Active, DecryptOnly, Pending, Retired};

/// Checks that `codec` refuses `token` as sealed under a retired key, and
/// whether that took a decryption.
fn assert_retired(codec: &TokenCodec, what: &str, token: String, crypto: bool) {
    check_cases(
        codec,
        &[Case::new(
            what,
            token,
            OpenError::Invalid(RetiredKey),
            crypto,
        )],
    );
}

/// A codec of `format` over a standard ring, a token of a 2-line cart it
/// sealed, then the ring reloaded with its keys in `states`: a token from
/// before a step of a rotation.
fn sealed_before(format: Format, states: &[(&str, KeyState)]) -> (Ring, TokenCodec, String) {
    let mut ring = Ring::standard(JwtAlgorithm::EdDSA);
    let codec = ring.codec(format);
    let token = seal(&codec, &cart(2));
    ring.reload(&codec, states);
    (ring, codec, token)
}

/// Opens `token`, which must hold a 2-line cart under the key `id` in
/// `state`, and ask for a re-seal because that key is not the active one.
fn open_under_inactive(codec: &TokenCodec, token: &str, id: &str, state: KeyState) -> Opened {
    let opened = open(codec, token);
    assert_eq!(*opened.cart, cart(2));
    assert_eq!((opened.key_id.as_str(), opened.key_state), (id, state));
    assert_eq!(opened.reseal, Some(ResealReason::KeyNotActive));
    opened
}

#[test]
fn a_retired_key_opens_nothing_and_costs_no_decryption() {
    // Step 3 of a rotation: local-b took over, local-a is retired.
    let (_ring, codec, token) =
        sealed_before(Format::Paseto, &[("local-b", Active), ("local-a", Retired)]);
    assert_retired(&codec, "a token under a retired key", token, false);
}

#[test]
fn a_decrypt_only_key_opens_and_asks_for_a_reseal_under_the_active_key() {
    // Step 2: local-b is active, local-a decrypt-only.
    let (_ring, codec, old) = sealed_before(
        Format::Paseto,
        &[("local-b", Active), ("local-a", DecryptOnly)],
    );
    let opened = open_under_inactive(&codec, &old, "local-a", DecryptOnly);

    let resealed = seal(&codec, &opened.cart);
    assert_eq!(
        paseto_kid(&resealed),
        kid_of(&codec, "local-b"),
        "re-sealed under the active key"
    );
    assert_eq!(open(&codec, &resealed).reseal, None);
}

#[test]
fn a_pending_key_opens_but_never_seals() {
    let mut ring = Ring::standard(JwtAlgorithm::EdDSA);
    // A replica that already made local-b active sealed this token...
    ring.set_state("local-a", DecryptOnly);
    ring.set_state("local-b", Active);
    let ahead = ring.codec(Format::Paseto);
    let token = seal(&ahead, &cart(2));
    assert_eq!(paseto_kid(&token), kid_of(&ahead, "local-b"));

    // ...and this replica, still at step 1, holds local-b as pending.
    ring.set_state("local-a", Active);
    ring.set_state("local-b", Pending);
    let behind = ring.codec(Format::Paseto);
    let opened = open_under_inactive(&behind, &token, "local-b", Pending);

    // What it seals is under its active key, never the pending one.
    for _ in 0..3 {
        let sealed = seal(&behind, &opened.cart);
        assert_eq!(paseto_kid(&sealed), kid_of(&behind, "local-a"));
    }
}

#[test]
fn jwt_tokens_follow_both_their_keys_states() {
    // The signing key rotates: the old one is decrypt-only.
    let (mut ring, codec, token) =
        sealed_before(Format::Jwt, &[("sign-b", Active), ("sign-a", DecryptOnly)]);
    let opened = open_under_inactive(&codec, &token, "sign-a", DecryptOnly);
    let (header, _) = jwt_json(&seal(&codec, &opened.cart));
    assert_eq!(
        header["kid"],
        kid_of(&codec, "sign-b"),
        "signed by the active key"
    );

    // The local key rotates too: the cart claim's key is decrypt-only.
    ring.reload(
        &codec,
        &[
            ("sign-a", Active),
            ("sign-b", Pending),
            ("local-b", Active),
            ("local-a", DecryptOnly),
        ],
    );
    let opened = open(&codec, &token);
    assert_eq!(opened.cart_key_id.as_deref(), Some("local-a"));
    assert_eq!(opened.key_state, Active, "the signing key is active");
    assert_eq!(
        opened.reseal,
        Some(ResealReason::KeyNotActive),
        "the cart key is not"
    );
    let (_, claims) = jwt_json(&seal(&codec, &opened.cart));
    assert_eq!(
        claims["ckid"],
        kid_of(&codec, "local-b"),
        "encrypted under the active key"
    );

    // Retiring either key closes the token.
    ring.reload(&codec, &[("local-a", Retired)]);
    assert_retired(
        &codec,
        "a cart claim under a retired key",
        token.clone(),
        true,
    );
    ring.reload(
        &codec,
        &[
            ("local-a", DecryptOnly),
            ("sign-a", Retired),
            ("sign-b", Active),
        ],
    );
    assert_retired(&codec, "a signature by a retired key", token, false);
}

#[test]
fn a_reload_applies_to_the_next_open() {
    // The handle is shared: a clone of the codec (another worker) sees the
    // new keyring at once.
    let mut ring = Ring::standard(JwtAlgorithm::EdDSA);
    let codec = ring.codec(Format::Paseto);
    let worker = codec.clone();
    let token = seal(&codec, &cart(1));
    ring.reload(&codec, &[("local-b", Active), ("local-a", Retired)]);
    assert_eq!(
        worker.open(&token, NOW).unwrap_err(),
        OpenError::Invalid(RetiredKey)
    );
    assert_eq!(
        paseto_kid(&seal(&worker, &cart(1))),
        kid_of(&worker, "local-b")
    );
}
