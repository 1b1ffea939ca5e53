//! Target `token_open`: arbitrary text through [`TokenCodec::open`] of both
//! formats. Nothing may panic, and whatever opens must be a token this
//! service could have sealed: within the length limit, under a key that may
//! open, with valid lifetimes and a cart within the limits, and it must
//! seal and open again to the same cart.

use super::bounds;
use crate::fixture::{self, NOW};
use crate::token::{Format, Opened, TokenCodec};

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fixture = fixture::codecs();
    for format in [Format::Paseto, Format::Jwt] {
        let codec = fixture.codec(format);
        if let Ok(opened) = codec.open(text, NOW) {
            check_opened(codec, text, &opened);
        }
    }
}

fn check_opened(codec: &TokenCodec, token: &str, opened: &Opened) {
    assert!(token.len() <= codec.limits().token_max_chars, "too long");
    assert!(opened.key_state.opens(), "opened under a retired key");
    let ring = codec.keys().load();
    let state_of = |id: &str| {
        ring.local_keys()
            .iter()
            .map(|k| (&k.id, k.state))
            .chain(ring.signing_keys().iter().map(|k| (&k.id, k.state)))
            .find(|(key_id, _)| *key_id == id)
            .map(|(_, state)| state)
    };
    assert_eq!(state_of(&opened.key_id), Some(opened.key_state));
    if let Some(cart_key) = &opened.cart_key_id {
        assert!(state_of(cart_key).is_some_and(|s| s.opens()));
    }
    assert_eq!(
        codec.config().expiry().check(&opened.lifetimes, NOW),
        Ok(()),
        "opened with lifetimes that do not hold"
    );
    bounds::assert_within(&opened.cart, codec.limits());

    let sealed = codec
        .seal(
            &opened.cart,
            opened.revision,
            Some(opened.lifetimes.absolute_expiry),
            NOW,
        )
        .expect("an opened cart seals again");
    let again = codec.open(&sealed.token, NOW).expect("and opens");
    assert_eq!(again.cart, opened.cart);
    assert_eq!(again.revision, opened.revision);
    assert_eq!(
        again.lifetimes.absolute_expiry,
        opened.lifetimes.absolute_expiry
    );
}
