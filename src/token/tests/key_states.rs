//! Rotation states as the codec sees them: which keys open, which seal, and
//! when a token must be re-sealed. Keyrings are swapped through the handle,
//! as a SIGHUP reload does.

use super::super::InvalidReason::RetiredKey;
use super::super::{Format, JwtAlgorithm, OpenError, ResealReason};
use super::support::{Case, Ring, cart, check_cases, jwt_json, kid_of, open, paseto_kid, seal};
use crate::keys::KeyState;

#[test]
fn a_retired_key_opens_nothing_and_costs_no_decryption() {
    let mut ring = Ring::standard(JwtAlgorithm::EdDSA);
    let codec = ring.codec(Format::Paseto);
    let token = seal(&codec, &cart(2));

    // Step 3 of a rotation: local-b took over, local-a is retired.
    ring.set_state("local-b", KeyState::Active);
    ring.set_state("local-a", KeyState::Retired);
    codec.keys().replace(ring.keyring());
    check_cases(
        &codec,
        &[Case::new(
            "a token under a retired key",
            token,
            OpenError::Invalid(RetiredKey),
            false,
        )],
    );
}

#[test]
fn a_decrypt_only_key_opens_and_asks_for_a_reseal_under_the_active_key() {
    let mut ring = Ring::standard(JwtAlgorithm::EdDSA);
    let codec = ring.codec(Format::Paseto);
    let old = seal(&codec, &cart(2));

    // Step 2: local-b is active, local-a decrypt-only.
    ring.set_state("local-b", KeyState::Active);
    ring.set_state("local-a", KeyState::DecryptOnly);
    codec.keys().replace(ring.keyring());

    let opened = open(&codec, &old);
    assert_eq!(*opened.cart, cart(2));
    assert_eq!(opened.key_id, "local-a");
    assert_eq!(opened.key_state, KeyState::DecryptOnly);
    assert_eq!(opened.reseal, Some(ResealReason::KeyNotActive));

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
    ring.set_state("local-a", KeyState::DecryptOnly);
    ring.set_state("local-b", KeyState::Active);
    let ahead = ring.codec(Format::Paseto);
    let token = seal(&ahead, &cart(2));
    assert_eq!(paseto_kid(&token), kid_of(&ahead, "local-b"));

    // ...and this replica, still at step 1, holds local-b as pending.
    ring.set_state("local-a", KeyState::Active);
    ring.set_state("local-b", KeyState::Pending);
    let behind = ring.codec(Format::Paseto);
    let opened = open(&behind, &token);
    assert_eq!(*opened.cart, cart(2));
    assert_eq!(opened.key_id, "local-b");
    assert_eq!(opened.key_state, KeyState::Pending);
    assert_eq!(opened.reseal, Some(ResealReason::KeyNotActive));

    // What it seals is under its active key, never the pending one.
    for _ in 0..3 {
        let sealed = seal(&behind, &opened.cart);
        assert_eq!(paseto_kid(&sealed), kid_of(&behind, "local-a"));
    }
}

#[test]
fn jwt_tokens_follow_both_their_keys_states() {
    let mut ring = Ring::standard(JwtAlgorithm::EdDSA);
    let codec = ring.codec(Format::Jwt);
    let token = seal(&codec, &cart(2));

    // The signing key rotates: the old one is decrypt-only.
    ring.set_state("sign-b", KeyState::Active);
    ring.set_state("sign-a", KeyState::DecryptOnly);
    codec.keys().replace(ring.keyring());
    let opened = open(&codec, &token);
    assert_eq!(
        (opened.key_id.as_str(), opened.key_state),
        ("sign-a", KeyState::DecryptOnly)
    );
    assert_eq!(opened.reseal, Some(ResealReason::KeyNotActive));
    let (header, _) = jwt_json(&seal(&codec, &opened.cart));
    assert_eq!(
        header["kid"],
        kid_of(&codec, "sign-b"),
        "signed by the active key"
    );

    // The local key rotates too: the cart claim's key is decrypt-only.
    ring.set_state("sign-a", KeyState::Active);
    ring.set_state("sign-b", KeyState::Pending);
    ring.set_state("local-b", KeyState::Active);
    ring.set_state("local-a", KeyState::DecryptOnly);
    codec.keys().replace(ring.keyring());
    let opened = open(&codec, &token);
    assert_eq!(opened.cart_key_id.as_deref(), Some("local-a"));
    assert_eq!(
        opened.key_state,
        KeyState::Active,
        "the signing key is active"
    );
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
    ring.set_state("local-a", KeyState::Retired);
    codec.keys().replace(ring.keyring());
    check_cases(
        &codec,
        &[Case::new(
            "a cart claim under a retired key",
            token.clone(),
            OpenError::Invalid(RetiredKey),
            true,
        )],
    );
    ring.set_state("local-a", KeyState::DecryptOnly);
    ring.set_state("sign-a", KeyState::Retired);
    ring.set_state("sign-b", KeyState::Active);
    codec.keys().replace(ring.keyring());
    check_cases(
        &codec,
        &[Case::new(
            "a signature by a retired key",
            token,
            OpenError::Invalid(RetiredKey),
            false,
        )],
    );
}

#[test]
fn a_reload_applies_to_the_next_open() {
    // The handle is shared: a clone of the codec (another worker) sees the
    // new keyring at once.
    let mut ring = Ring::standard(JwtAlgorithm::EdDSA);
    let codec = ring.codec(Format::Paseto);
    let worker = codec.clone();
    let token = seal(&codec, &cart(1));
    ring.set_state("local-b", KeyState::Active);
    ring.set_state("local-a", KeyState::Retired);
    codec.keys().replace(ring.keyring());
    assert_eq!(
        worker.open(&token, super::support::NOW).unwrap_err(),
        OpenError::Invalid(RetiredKey)
    );
    assert_eq!(
        paseto_kid(&seal(&worker, &cart(1))),
        kid_of(&worker, "local-b")
    );
}
