//! Strict unpadded base64url, the alphabet of tokens and session ids.
//! Decoding accepts canonical encodings only: without that, several strings
//! would decode to the same bytes, and so open to the same token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// True when `segment` is canonical unpadded base64url: no length that no
/// encoder produces, and zero in the bits the last character leaves unused.
/// Without this check, several token strings would open to the same token.
pub fn is_canonical(segment: &str) -> bool {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    };
    let Some(&last) = segment.as_bytes().last() else {
        return true;
    };
    let Some(last) = value(last) else {
        return false;
    };
    match segment.len() % 4 {
        1 => false,
        2 => last & 0x0f == 0,
        3 => last & 0x03 == 0,
        _ => true,
    }
}

/// Decodes canonical unpadded base64url; anything else is `None`.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    if !is_canonical(text) {
        return None;
    }
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Encodes unpadded base64url.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The length of the unpadded base64url of `len` bytes.
pub fn encoded_len(len: usize) -> usize {
    base64::encoded_len(len, false).expect("a length a Vec can hold encodes")
}

/// Appends the unpadded base64url of `bytes` to `out`.
pub fn encode_into(bytes: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + encoded_len(bytes.len()), 0);
    let written = URL_SAFE_NO_PAD
        .encode_slice(bytes, &mut out[start..])
        .expect("the room is the encoded length");
    debug_assert_eq!(start + written, out.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_into_appends_what_encode_returns() {
        for len in 0..12 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 200) as u8).collect();
            let mut out = b"prefix".to_vec();
            encode_into(&bytes, &mut out);
            assert_eq!(encoded_len(len), encode(&bytes).len(), "{len} bytes");
            assert_eq!(
                out,
                [b"prefix".as_slice(), encode(&bytes).as_bytes()].concat()
            );
        }
    }
}
