//! Random ids: the `jti` of every token, and the session ids of the store
//! modes. Both are the same thing, 128 random bits in base64url, made here
//! and nowhere else.

use crate::base64url;

/// The length of every id [`random`] makes: 16 bytes in unpadded base64url.
pub const LEN: usize = 22;

/// A fresh 128-bit random id, unpadded base64url. 128 bits make a guessed or
/// colliding id as unlikely as a forged MAC.
pub fn random() -> String {
    let bytes: [u8; 16] = rand::random();
    base64url::encode(bytes)
}

/// True when `text` has the shape of an id [`random`] makes: 22 characters
/// of canonical base64url. The store modes refuse anything else before it
/// reaches a store key.
pub fn is_random(text: &str) -> bool {
    text.len() == LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        && base64url::is_canonical(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_22_canonical_characters_and_differ() {
        let (a, b) = (random(), random());
        assert_ne!(a, b);
        assert!(is_random(&a) && is_random(&b));
        assert!(!is_random(&a[1..]), "too short");
        assert!(!is_random(&format!("{a}A")), "too long");
        assert!(!is_random("AAAAAAAAAAAAAAAAAAAAA+"), "not base64url");
        // The last character leaves 4 bits unused: a non-zero one is not
        // what an encoder writes.
        assert!(!is_random("AAAAAAAAAAAAAAAAAAAAAB"), "not canonical");
    }
}
