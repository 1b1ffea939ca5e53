//! The verified-token cache, through the token store that uses it: a hit
//! costs no decryption, is exact, is still checked against the clock and
//! the keyring, and only opened or sealed tokens get in.

use std::sync::Arc;

use super::super::InvalidReason::{Crypto, RetiredKey};
use super::super::cache::TokenCache;
use super::super::{Format, JwtAlgorithm, OpenError, ResealReason};
use super::decrypt_attempts;
use super::support::{cart, seal};
use crate::fixture::{NOW, Ring};
use crate::keys::KeyState;
use crate::store::token::TokenStore;
use crate::store::{CartStore, Session, StoreError};

fn store(ring: &Ring, format: Format) -> TokenStore {
    TokenStore::new(ring.codec(format), TokenCache::new(100, 1 << 20))
}

fn session(lines: usize) -> Session {
    Session {
        cart: Arc::new(cart(lines)),
        revision: 3,
        ..Session::default()
    }
}

/// Runs a future to completion: the store's futures never wait on I/O.
fn block<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// What the HTTP layer does once it has rendered a response: keeps the
/// body in the memo that came with the credential.
fn respond(memo: Option<&crate::store::Memo>, token: &str, body: &'static str) {
    memo.expect("a memo")
        .keep(token, 0, bytes::Bytes::from_static(body.as_bytes()));
}

#[test]
fn a_token_this_replica_sealed_or_opened_opens_again_without_decryption() {
    for format in [Format::Paseto, Format::Jwt] {
        let ring = Ring::standard(JwtAlgorithm::EdDSA);
        let store = store(&ring, format);
        let first = block(store.save(None, &session(20), NOW)).expect("seals");
        let saved = block(store.save(Some(&first.credential), &session(20), NOW)).expect("seals");
        respond(saved.memo.as_ref(), &saved.credential, "the view");
        let before = decrypt_attempts();
        let loaded = block(store.load(&saved.credential, NOW)).expect("opens");
        assert_eq!(
            decrypt_attempts(),
            before,
            "{format:?}: the first read after a write"
        );
        assert_eq!(*loaded.session.cart, cart(20));
        assert_eq!(loaded.session.revision, 3);
        // The body rendered for the write serves the read, for the same
        // catalog only.
        let memo = loaded.memo.as_ref().expect("a memo");
        assert_eq!(memo.body(0).as_deref(), Some(&b"the view"[..]));
        assert_eq!(memo.body(7), None, "another catalog renders anew");

        // The same answer as opening it for real, on another replica.
        let other = ring
            .codec(format)
            .open(&saved.credential, NOW)
            .expect("opens");
        assert_eq!(*other.cart, *loaded.session.cart, "{format:?}");
        assert_eq!(Some(other.lifetimes.expires_at), loaded.session.expires_at);

        // A token sealed elsewhere is opened once, then kept once its
        // response is rendered.
        let elsewhere = seal(&ring.codec(format), &cart(2));
        let loaded = block(store.load(&elsewhere, NOW)).expect("opens");
        respond(loaded.memo.as_ref(), &elsewhere, "another view");
        let before = decrypt_attempts();
        block(store.load(&elsewhere, NOW)).expect("opens");
        assert_eq!(decrypt_attempts(), before, "{format:?}: a repeated read");
    }
}

#[test]
fn the_first_write_of_an_anonymous_cart_is_not_admitted() {
    // A flood of new carts must not push out the carts being read.
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let store = store(&ring, Format::Paseto);
    let saved = block(store.save(None, &session(1), NOW)).expect("seals");
    assert!(saved.memo.is_none(), "no memo, so nothing to insert");
    let before = decrypt_attempts();
    block(store.load(&saved.credential, NOW)).expect("opens");
    assert_eq!(decrypt_attempts(), before + 1, "opened for real");
}

#[test]
fn a_token_loaded_only_to_be_replaced_is_never_inserted() {
    // A write loads the cart it changes; its token is dead once the write
    // answers, so it must not take a place in the cache.
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let store = store(&ring, Format::Paseto);
    let elsewhere = seal(&ring.codec(Format::Paseto), &cart(2));
    block(store.load(&elsewhere, NOW)).expect("opens");
    let before = decrypt_attempts();
    block(store.load(&elsewhere, NOW)).expect("opens");
    assert_eq!(decrypt_attempts(), before + 1, "opened again");
}

#[test]
fn a_hit_is_exact_and_bad_tokens_never_get_in() {
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let cache = TokenCache::new(100, 1 << 20).expect("on");
    let codec = ring.codec(Format::Paseto);
    let token = seal(&codec, &cart(2));
    let generation = codec.keys().load().generation();
    let opened = codec.authenticate(&token).expect("opens");
    cache.insert(&token, opened);
    assert!(cache.get(&token, generation).is_some());
    assert!(
        cache.get(&token[..token.len() - 1], generation).is_none(),
        "a prefix"
    );
    assert!(
        cache.get(&format!("{token}A"), generation).is_none(),
        "longer"
    );
    assert!(
        cache.get(&token, generation + 1).is_none(),
        "another keyring"
    );

    // Through the store: forged tokens are refused every time, and none is
    // kept.
    let store = self::store(&ring, Format::Paseto);
    let mut forged = token.clone().into_bytes();
    let middle = forged.len() / 2;
    forged[middle] = if forged[middle] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for _ in 0..3 {
        let before = decrypt_attempts();
        assert_eq!(
            block(store.load(&forged, NOW)).unwrap_err(),
            StoreError::Credential(OpenError::Invalid(Crypto))
        );
        assert_eq!(decrypt_attempts(), before + 1, "each try is a full open");
    }
}

#[test]
fn a_cached_token_is_still_checked_against_the_clock() {
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let store = store(&ring, Format::Paseto);
    let saved = block(store.save(Some("an earlier token"), &session(1), NOW)).expect("seals");
    respond(saved.memo.as_ref(), &saved.credential, "the view");
    let before = decrypt_attempts();
    let loaded = block(store.load(&saved.credential, NOW)).expect("opens");
    assert_eq!(decrypt_attempts(), before, "a hit");
    assert!(loaded.memo.is_some());
    // Idle expiry 7 days, leeway 60 s, re-seal within 1 day of it.
    let near = saved.expires_at - 3600;
    let loaded = block(store.load(&saved.credential, near)).expect("opens");
    assert_eq!(loaded.reseal, Some(ResealReason::NearExpiry));
    assert!(
        loaded.memo.is_none(),
        "a response that re-seals renders another body"
    );
    assert_eq!(
        block(store.load(&saved.credential, saved.expires_at + 61)).unwrap_err(),
        StoreError::Credential(OpenError::Expired)
    );
}

#[test]
fn a_reload_misses_every_entry_so_a_retired_key_never_opens_from_the_cache() {
    let mut ring = Ring::standard(JwtAlgorithm::EdDSA);
    let store = store(&ring, Format::Paseto);
    let saved = block(store.save(Some("an earlier token"), &session(2), NOW)).expect("seals");
    respond(saved.memo.as_ref(), &saved.credential, "the view");
    let before = decrypt_attempts();
    block(store.load(&saved.credential, NOW)).expect("a hit");
    assert_eq!(decrypt_attempts(), before, "a hit");

    // Decrypt-only: the cached entry is not used; opening again asks for a
    // re-seal under the new active key.
    ring.reload(
        store.codec(),
        &[
            ("local-b", KeyState::Active),
            ("local-a", KeyState::DecryptOnly),
        ],
    );
    let before = decrypt_attempts();
    let loaded = block(store.load(&saved.credential, NOW)).expect("opens");
    assert_eq!(decrypt_attempts(), before + 1, "a miss after the reload");
    assert_eq!(loaded.reseal, Some(ResealReason::KeyNotActive));

    // Retired: refused, though the token was in the cache a moment ago.
    ring.reload(store.codec(), &[("local-a", KeyState::Retired)]);
    assert_eq!(
        block(store.load(&saved.credential, NOW)).unwrap_err(),
        StoreError::Credential(OpenError::Invalid(RetiredKey))
    );
}

#[test]
fn the_cache_is_bounded_by_entries_and_by_bytes_and_zero_turns_it_off() {
    assert!(TokenCache::new(0, 1 << 20).is_none());
    assert!(TokenCache::new(10, 0).is_none());
    let ring = Ring::standard(JwtAlgorithm::EdDSA);
    let codec = ring.codec(Format::Paseto);
    let tokens: Vec<String> = (0..200).map(|_| seal(&codec, &cart(1))).collect();
    let opened = codec.authenticate(&tokens[0]).expect("opens");

    let by_count = TokenCache::new(10, 1 << 30).expect("on");
    for token in &tokens {
        by_count.insert(token, opened.clone());
    }
    assert!(by_count.len() <= 10, "{} entries", by_count.len());

    // A 100-line cart's entry weighs several KB: a budget of forty such
    // carts holds no more than forty, however many the entry bound allows.
    let big = codec
        .authenticate(&seal(&codec, &cart(100)))
        .expect("opens");
    let weight = big.cart.approx_bytes();
    assert!(weight > 5_000, "{weight}");
    let by_bytes = TokenCache::new(10_000, 40 * weight as u64).expect("on");
    for token in &tokens {
        by_bytes.insert(token, big.clone());
    }
    assert!(
        (10..=40).contains(&by_bytes.len()),
        "{} entries of {weight} bytes in a budget of 40",
        by_bytes.len()
    );
}
