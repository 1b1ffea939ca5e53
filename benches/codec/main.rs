//! The codec benchmark: what sealing and opening a cart costs, against what
//! its parts cost alone, and against the store round trip it replaces.
//!
//! ```text
//! cargo bench --bench codec                       # criterion defaults
//! cargo bench --bench codec -- --warm-up-time 1 --measurement-time 3
//! REDIS_URL=redis://127.0.0.1:6379 cargo bench --bench codec
//! ```
//!
//! It measures, in one run:
//! - `seal/<format>/<lines>` and `open/<format>/<lines>` for 1-, 20- and
//!   100-line carts (realistic skus, two properties per line) in the
//!   `paseto`, `jwt-eddsa` and `jwt-hs256` formats;
//! - `primitive/<name>` for the 20-line cart: serde_json of the compact cart
//!   (both ways), raw deflate and inflate with reused state (level 6, and
//!   level 1 as the codec uses for this cart), v4.local encrypt
//!   and decrypt through pasetors, Ed25519 and HS256 sign and verify through
//!   jsonwebtoken, XChaCha20-Poly1305 seal and open through orion;
//! - `redis/get_set`: a GET then a SET of the 20-line paseto token on the
//!   Redis at `REDIS_URL` (default `redis://127.0.0.1:6379`), over one
//!   connection; skipped with a note when no Redis answers.
//!
//! Criterion measures each benchmark in turn. On a shared machine the load
//! can change between the first benchmark and the last, which would skew
//! ratios between them, so the targets are then checked by an interleaved
//! pass: every 20-line workload and Redis run in turn, a short batch each,
//! for a few hundred rounds, and the ratios use the medians of the rounds.
//! It prints the token lengths, both sets of figures, the glue overhead
//! (seal + open over the sum of the primitives they are made of) and the
//! ratio of seal + open to the Redis round trip, against the targets, and
//! seal and open beside what pasetors and flate2 alone take for them.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cartseal::cart::{Cart, Limits, Line, Properties, Quantity, Sku};
use cartseal::keys::{KeyState, Purpose, generate_ed25519_paserk, generate_local};
use cartseal::token::{Format, JwtAlgorithm, TokenCodec};
use cartseal_kit::fixture::{self, Ring};
use criterion::Criterion;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use orion::hazardous::aead::xchacha20poly1305::{Nonce, SecretKey, XChaCha20Poly1305};
use pasetors::Local;
use pasetors::keys::{AsymmetricSecretKey, SymmetricKey};
use pasetors::token::UntrustedToken;
use pasetors::version4::{LocalToken, V4};
use serde_json::Value;

mod instructions;
mod levels;
mod primitives;
mod report;

use primitives::{primitive_workloads, redis_workload};
use report::{print_lengths, summary};

const SIZES: [usize; 3] = [1, 20, 100];
const FORMATS: [&str; 3] = ["paseto", "jwt-eddsa", "jwt-hs256"];
/// The primitives each format's seal and open are made of: the JSON and
/// compression steps every format shares, then its own encryption (PASETO
/// v4.local; a JWT's encrypted payload) and signature.
fn parts_of(format: &str) -> Vec<&'static str> {
    let mut parts = vec!["json_serialize", "json_parse", "deflate", "inflate"];
    match format {
        "paseto" => parts.extend(["v4_local_encrypt", "v4_local_decrypt"]),
        jwt => {
            parts.extend(["xchacha20poly1305_seal", "xchacha20poly1305_open"]);
            parts.extend(if jwt == "jwt-eddsa" {
                ["ed25519_sign", "ed25519_verify"]
            } else {
                ["hs256_sign", "hs256_verify"]
            });
        }
    }
    parts
}

/// A cart of `n` lines with realistic skus and two properties each.
fn cart(n: usize) -> Cart {
    // The load benchmark's shape (loadgen/src/vu/build.rs): two properties
    // a line, each value six random alphanumeric characters, from a fixed
    // seed so that every run measures the same carts.
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut word = || -> String {
        (0..6)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(ALPHABET[(seed % 62) as usize])
            })
            .collect()
    };
    let limits = Limits::default();
    let mut cart = Cart::new();
    for i in 0..n {
        let mut props = BTreeMap::new();
        props.insert("color".to_owned(), word());
        props.insert("size".to_owned(), word());
        let line = Line::new(
            Sku::parse(&format!("SKU-{}", 10_234 + 37 * i), &limits).expect("sku"),
            Quantity::parse(1 + (i as i64 % 3), &limits).expect("quantity"),
            Properties::parse(props, &limits).expect("properties"),
        );
        cart.add(line, &limits).expect("room");
    }
    cart
}

/// Keys as `cartseal keygen` would write them, loaded by the keyring
/// fixture, and a codec of every format over them.
struct Setup {
    local_paserk: String,
    ed25519_paserk: String,
    hs256_paserk: String,
    codecs: Vec<(&'static str, TokenCodec)>,
    now: i64,
}

impl Setup {
    fn new() -> Self {
        let local = generate_local().to_paserk().to_string();
        let ed = generate_ed25519_paserk().to_string();
        let hs = generate_local().to_paserk().to_string();
        let mut codecs = Vec::new();
        for name in FORMATS {
            let (format, alg, signing) = match name {
                "paseto" => (Format::Paseto, JwtAlgorithm::EdDSA, &ed),
                "jwt-eddsa" => (Format::Jwt, JwtAlgorithm::EdDSA, &ed),
                _ => (Format::Jwt, JwtAlgorithm::HS256, &hs),
            };
            let mut ring = Ring::new(alg);
            ring.add_paserk("local", Purpose::Local, KeyState::Active, &local);
            ring.add_paserk("signing", Purpose::Signing, KeyState::Active, signing);
            codecs.push((name, ring.codec(format)));
        }
        Self {
            local_paserk: local,
            ed25519_paserk: ed,
            hs256_paserk: hs,
            codecs,
            now: fixture::now(),
        }
    }

    fn codec(&self, name: &str) -> &TokenCodec {
        &self
            .codecs
            .iter()
            .find(|(n, _)| *n == name)
            .expect("a format")
            .1
    }

    fn seal(&self, format: &str, lines: usize) -> String {
        self.codec(format)
            .seal(&cart(lines), 1, None, self.now)
            .expect("seals")
            .token
    }
}

/// A named workload: one call is one iteration.
type Workload<'a> = (String, Box<dyn FnMut() + 'a>);

/// Seal and open, every format and size.
fn codec_workloads(setup: &Setup) -> Vec<Workload<'_>> {
    let mut out: Vec<Workload<'_>> = Vec::new();
    for (name, codec) in &setup.codecs {
        for lines in SIZES {
            let cart = cart(lines);
            let token = setup.seal(name, lines);
            let now = setup.now;
            out.push((
                format!("seal/{name}/{lines}"),
                Box::new(move || {
                    black_box(codec.seal(black_box(&cart), 1, None, now).expect("seals"));
                }),
            ));
            out.push((
                format!("open/{name}/{lines}"),
                Box::new(move || {
                    black_box(codec.open(black_box(&token), now).expect("opens"));
                }),
            ));
        }
    }
    out
}

fn main() {
    let setup = Setup::new();
    if std::env::args().any(|a| a == "--instructions") {
        instructions::run(&setup, cart(20));
        return;
    }
    if std::env::args().any(|a| a == "--levels") {
        levels::run();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let mut workloads = codec_workloads(&setup);
    workloads.extend(primitive_workloads(&setup));
    workloads.extend(redis_workload(&setup));
    for (name, f) in &mut workloads {
        c.bench_function(name, |b| b.iter(&mut *f));
    }
    drop(workloads);
    c.final_summary();

    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // criterion then runs each workload once. There, and with `--list` or
    // `--profile-time`, only the workloads run.
    let args: Vec<String> = std::env::args().collect();
    let measuring = args.iter().any(|a| a == "--bench")
        && !args
            .iter()
            .any(|a| ["--test", "--list", "--profile-time"].contains(&a.as_str()));
    if measuring {
        print_lengths(&setup);
        summary(&setup);
    }
}

// The service's allocator (src/main.rs): carts, claims and views are many
// small allocations, and glibc's allocator would be measured instead.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
