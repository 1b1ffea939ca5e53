//! The bodies of the fuzz targets of `fuzz/` (docs/security.md, "Fuzzing").
//!
//! Each `fuzz/fuzz_targets/<target>.rs` is one call into [`run`]'s target
//! here, so that the unit tests replay every committed input
//! (`fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`) through the
//! same code: a crash once found stays fixed. Compiled only under
//! `cfg(fuzzing)` (cargo-fuzz) and in tests. The keyring and clock they
//! open and seal under are [`crate::fixture`]'s.
//!
//! - [`token_open`]: arbitrary text through the token opener, both formats;
//! - [`after_auth`]: what reads a token's contents after its MAC, on
//!   arbitrary bytes;
//! - [`cart_ops`]: sequences of cart operations;
//! - [`differential`]: the `paseto` format against pasetors, both ways.

pub mod after_auth;
mod bounds;
pub mod cart_ops;
pub mod differential;
pub mod token_open;

/// A target's body: one input, which it may panic on.
pub type Target = fn(&[u8]);

/// Every target, by the name of its folder under `fuzz/`.
pub const TARGETS: [(&str, Target); 4] = [
    ("token_open", token_open::run),
    ("after_auth", after_auth::run),
    ("cart_ops", cart_ops::run),
    ("differential", differential::run),
];

/// Runs one input through the target `name`.
pub fn run(name: &str, data: &[u8]) {
    let (_, target) = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    target(data);
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::fixture::{self, NOW};
    use crate::token::Format;

    fn fuzz_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
    }

    /// The files of `fuzz/<kind>/<target>/`, if the folder exists.
    fn inputs(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries
            .map(|e| e.expect("a readable folder").path())
            .filter(|p| p.is_file())
            .map(|p| {
                let bytes = std::fs::read(&p).expect("a readable input");
                (p, bytes)
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn every_committed_fuzz_input_runs_clean() {
        for (name, target) in TARGETS {
            let corpus = inputs("corpus", name);
            assert!(!corpus.is_empty(), "fuzz/corpus/{name}/ has no seeds");
            for (path, data) in corpus.iter().chain(&inputs("regressions", name)) {
                let outcome = std::panic::catch_unwind(|| target(data));
                assert!(outcome.is_ok(), "{} fails", path.display());
            }
        }
    }

    #[test]
    fn the_seeds_hold_tokens_of_both_formats_that_open() {
        let fixture = fixture::codecs();
        let opens = |format| {
            inputs("corpus", "token_open")
                .iter()
                .filter(|(_, data)| {
                    std::str::from_utf8(data)
                        .is_ok_and(|text| fixture.codec(format).open(text, NOW).is_ok())
                })
                .count()
        };
        assert!(opens(Format::Paseto) > 0, "no paseto token opens");
        assert!(opens(Format::Jwt) > 0, "no jwt token opens");
    }

    /// Writes the hand-made seeds (`seed-*`) into `fuzz/corpus/`: real
    /// tokens of both formats under the fixture's keys and clock, and real
    /// payloads. `cargo test --lib write_hand_made_seeds -- --ignored`.
    #[test]
    #[ignore = "writes into fuzz/corpus/"]
    fn write_hand_made_seeds() {
        use crate::base64url;
        use crate::token::deflate;
        use crate::token::seams::{SealInput, claims_json, footer};
        use pasetors::keys::SymmetricKey;
        use pasetors::version4::LocalToken;

        let cart = |lines: usize| {
            let limits = crate::cart::Limits::default();
            let mut cart = crate::cart::Cart::new();
            for i in 0..lines {
                let properties = [("size", ["S", "M", "L"][i % 3]), ("color", "navy")]
                    .map(|(k, v)| (k.to_owned(), v.to_owned()));
                let line = crate::cart::Line::parse(
                    &format!("SKU-{}", 10_234 + 37 * i),
                    1 + (i as i64 % 3),
                    properties.into(),
                    &limits,
                )
                .expect("a line");
                cart.add(line, &limits).expect("room");
            }
            cart
        };
        let fixture = fixture::codecs();
        let write = |target: &str, name: &str, data: &[u8]| {
            let dir = fuzz_dir().join("corpus").join(target);
            std::fs::create_dir_all(&dir).expect("a corpus folder");
            std::fs::write(dir.join(format!("seed-{name}")), data).expect("write a seed");
        };
        for (size, lines) in [("small", 2), ("large", 40)] {
            let cart = cart(lines);
            for format in [Format::Paseto, Format::Jwt] {
                let sealed = fixture
                    .codec(format)
                    .seal(&cart, 3, None, NOW)
                    .expect("seals");
                let name = format!("{format:?}-{size}").to_lowercase();
                write("token_open", &name, sealed.token.as_bytes());
            }
            let codec = &fixture.paseto;
            let lifetimes = codec.config().expiry().on_write(NOW, None).expect("now");
            let input = SealInput {
                cart: &cart,
                revision: 3,
                lifetimes,
                jti: "AAAAAAAAAAAAAAAAAAAAAA",
            };
            let claims = claims_json(codec, &input).expect("claims");
            write("after_auth", &format!("claims-{size}"), claims.as_bytes());
            let json = cart.to_compact_json();
            write("after_auth", &format!("cart-{size}"), &json);
            let packed = deflate(&json, 6);
            write("after_auth", &format!("deflate-{size}"), &packed);
            write(
                "after_auth",
                &format!("cz-{size}"),
                base64url::encode(&packed).as_bytes(),
            );
            // A token under each key that is not active: pasetors seals
            // what cartseal would.
            for (state, bytes) in fixture::LOCAL_KEYS {
                let kid = fixture::local_kid(&bytes);
                let token = LocalToken::encrypt(
                    &SymmetricKey::from(&bytes).expect("a key"),
                    claims.as_bytes(),
                    Some(footer(&kid).as_bytes()),
                    Some(codec.implicit_assertion()),
                )
                .expect("encrypts");
                let name = format!("paseto-{size}-{}", state.as_str());
                write("token_open", &name, token.as_bytes());
            }
        }
    }
}
