//! An independent PASETO v4.local, written from the specification
//! (paseto-spec, `docs/01-Protocol-Versions/Version4.md`, "Encrypt" and
//! "Decrypt") on orion's primitives.
//!
//! pasetors keeps its fixed-nonce encryption `pub(crate)`, and testing
//! pasetors against itself would prove nothing anyway: this implementation
//! is first checked against the official vectors
//! (`tests/vectors/paseto-v4-official.json`), then used to reproduce
//! cartseal's own vectors and to forge payloads under real keys.

use orion::hazardous::mac::blake2b::{Blake2b, SecretKey as MacKey};
use orion::hazardous::stream::xchacha20::{Nonce, SecretKey as StreamKey, XChaCha20};

/// `h`, the header.
pub const HEADER: &str = "v4.local.";
const NONCE_LEN: usize = 32;
const TAG_LEN: usize = 32;

/// PAE (pre-authentication encoding): `LE64(count)`, then `LE64(len) ‖
/// piece` for every piece. LE64 clears the most significant bit.
pub fn pae(pieces: &[&[u8]]) -> Vec<u8> {
    let le64 = |n: usize| (n as u64 & (u64::MAX >> 1)).to_le_bytes();
    let mut out = le64(pieces.len()).to_vec();
    for piece in pieces {
        out.extend_from_slice(&le64(piece.len()));
        out.extend_from_slice(piece);
    }
    out
}

/// Keyed BLAKE2b of the concatenation of `parts`, `len` bytes long.
fn blake2b(key: &[u8], len: usize, parts: &[&[u8]]) -> Vec<u8> {
    let key = MacKey::try_from(key).expect("a BLAKE2b key");
    let mut state = Blake2b::new(&key, len).expect("a BLAKE2b length");
    for part in parts {
        state.update(part).expect("BLAKE2b update");
    }
    let tag = state.finalize().expect("BLAKE2b finalize");
    let bytes: &[u8] = tag.unprotected_as_ref();
    bytes.to_vec()
}

/// Steps 3 and 4 of the spec: `Ek ‖ n2` and `Ak` from the key and nonce.
fn split_key(key: &[u8], nonce: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let tmp = blake2b(key, 56, &[b"paseto-encryption-key", nonce]);
    let auth_key = blake2b(key, 32, &[b"paseto-auth-key-for-aead", nonce]);
    let (enc_key, n2) = tmp.split_at(32);
    (enc_key.to_vec(), n2.to_vec(), auth_key)
}

/// XChaCha20 keystream XOR, in place.
fn xchacha20(enc_key: &[u8], n2: &[u8], data: &mut [u8]) {
    let key = StreamKey::try_from(enc_key).expect("a 32-byte key");
    let nonce = Nonce::try_from(n2).expect("a 24-byte nonce");
    XChaCha20::new(&key, &nonce)
        .xor_keystream_into(data)
        .expect("a short message");
}

/// Encrypts `message` with `key` and the given 32-byte `nonce`, footer `f`
/// and implicit assertion `i`.
pub fn encrypt(key: &[u8], nonce: &[u8; NONCE_LEN], message: &[u8], f: &[u8], i: &[u8]) -> String {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let (enc_key, n2, auth_key) = split_key(key, nonce);
    let mut c = message.to_vec();
    xchacha20(&enc_key, &n2, &mut c);
    let pre_auth = pae(&[HEADER.as_bytes(), nonce, &c, f, i]);
    let t = blake2b(&auth_key, TAG_LEN, &[&pre_auth]);
    let body = [&nonce[..], &c, &t].concat();
    if f.is_empty() {
        format!("{HEADER}{}", b64(&body))
    } else {
        format!("{HEADER}{}.{}", b64(&body), b64(f))
    }
}

/// Decrypts a token with `key` and implicit assertion `i`: the message and
/// the footer, or `None` when anything is wrong.
pub fn decrypt(key: &[u8], token: &str, i: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    use base64::Engine;
    let unb64 = |s: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()
    };
    let rest = token.strip_prefix(HEADER)?;
    let (body, f) = match rest.split_once('.') {
        Some((body, footer)) => (unb64(body)?, unb64(footer)?),
        None => (unb64(rest)?, Vec::new()),
    };
    if body.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (n, rest) = body.split_at(NONCE_LEN);
    let (c, t) = rest.split_at(rest.len() - TAG_LEN);
    let (enc_key, n2, auth_key) = split_key(key, n);
    let pre_auth = pae(&[HEADER.as_bytes(), n, c, &f, i]);
    // Test code: a plain comparison is fine here.
    if blake2b(&auth_key, TAG_LEN, &[&pre_auth]) != t {
        return None;
    }
    let mut message = c.to_vec();
    xchacha20(&enc_key, &n2, &mut message);
    Some((message, f))
}

#[test]
fn pae_matches_the_specification_examples() {
    // The examples of the PASETO specification, "Authentication Padding".
    assert_eq!(pae(&[]), b"\x00\x00\x00\x00\x00\x00\x00\x00");
    assert_eq!(
        pae(&[b""]),
        b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    );
    assert_eq!(
        pae(&[b"test"]),
        b"\x01\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00test"
    );
}
