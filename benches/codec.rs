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
//!   (both ways), raw deflate and inflate with reused state, v4.local encrypt
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
//! ratio of seal + open to the Redis round trip, against the targets.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cartseal::cart::{Cart, Limits, Line, Properties, Quantity, Sku};
use cartseal::keys::{
    KeyConfig, KeyState, Keyring, KeyringHandle, Purpose, generate_ed25519_paserk, generate_local,
};
use cartseal::token::{Format, JwtAlgorithm, TokenCodec, TokenConfig};
use criterion::Criterion;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use orion::hazardous::aead::xchacha20poly1305::{Nonce, SecretKey, XChaCha20Poly1305};
use pasetors::Local;
use pasetors::keys::{AsymmetricSecretKey, SymmetricKey};
use pasetors::token::UntrustedToken;
use pasetors::version4::{LocalToken, V4};
use serde_json::Value;

#[path = "codec/instructions.rs"]
mod instructions;

const SIZES: [usize; 3] = [1, 20, 100];
const FORMATS: [&str; 3] = ["paseto", "jwt-eddsa", "jwt-hs256"];
/// The primitives each format's seal and open are made of.
fn parts_of(format: &str) -> &'static [&'static str] {
    match format {
        "paseto" => &[
            "json_serialize",
            "json_parse",
            "deflate",
            "inflate",
            "v4_local_encrypt",
            "v4_local_decrypt",
        ],
        "jwt-eddsa" => &[
            "json_serialize",
            "json_parse",
            "deflate",
            "inflate",
            "xchacha20poly1305_seal",
            "xchacha20poly1305_open",
            "ed25519_sign",
            "ed25519_verify",
        ],
        _ => &[
            "json_serialize",
            "json_parse",
            "deflate",
            "inflate",
            "xchacha20poly1305_seal",
            "xchacha20poly1305_open",
            "hs256_sign",
            "hs256_verify",
        ],
    }
}

/// A cart of `n` lines with realistic skus and two properties each.
fn cart(n: usize) -> Cart {
    const COLOURS: [(&str, &str); 4] = [
        ("BLK", "black"),
        ("WHT", "white"),
        ("RED", "red"),
        ("NVY", "navy"),
    ];
    const SIZES: [&str; 5] = ["XS", "S", "M", "L", "XL"];
    let limits = Limits::default();
    let mut cart = Cart::new();
    for i in 0..n {
        let (code, colour) = COLOURS[i % COLOURS.len()];
        let mut props = BTreeMap::new();
        props.insert("color".to_owned(), colour.to_owned());
        props.insert("size".to_owned(), SIZES[i % SIZES.len()].to_owned());
        let line = Line::new(
            Sku::parse(&format!("SKU-{}-{code}", 10_234 + 37 * i), &limits).expect("sku"),
            Quantity::parse(1 + (i as i64 % 3), &limits).expect("quantity"),
            Properties::parse(props, &limits).expect("properties"),
        );
        cart.add(line, &limits).expect("room");
    }
    cart
}

/// Keys written to a temp dir, as `cartseal keygen` would, and a codec of
/// every format over them.
struct Setup {
    _dir: tempfile::TempDir,
    local_paserk: String,
    ed25519_paserk: String,
    hs256_paserk: String,
    codecs: Vec<(&'static str, TokenCodec)>,
    now: i64,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let local = generate_local().to_paserk().to_string();
        let ed = generate_ed25519_paserk().to_string();
        let hs = generate_local().to_paserk().to_string();
        for (name, text) in [("local", &local), ("ed", &ed), ("hs", &hs)] {
            let path = dir.path().join(format!("{name}.paserk"));
            std::fs::write(&path, text).expect("write a key");
            // The keyring refuses key files others can read.
            let private = std::os::unix::fs::PermissionsExt::from_mode(0o600);
            std::fs::set_permissions(&path, private).expect("chmod a key");
        }
        let key = |id: &str, purpose, file: &str| KeyConfig {
            id: id.into(),
            purpose,
            file: PathBuf::from(file),
            state: KeyState::Active,
            kid: None,
        };
        let mut codecs = Vec::new();
        for name in FORMATS {
            let (format, alg, signing_file) = match name {
                "paseto" => (Format::Paseto, JwtAlgorithm::EdDSA, "ed.paserk"),
                "jwt-eddsa" => (Format::Jwt, JwtAlgorithm::EdDSA, "ed.paserk"),
                _ => (Format::Jwt, JwtAlgorithm::HS256, "hs.paserk"),
            };
            let configs = [
                key("local", Purpose::Local, "local.paserk"),
                key("signing", Purpose::Signing, signing_file),
            ];
            let (ring, _) =
                Keyring::load(&configs, dir.path(), alg.into(), true).expect("a keyring");
            let config = TokenConfig {
                format,
                jwt_algorithm: alg,
                ..TokenConfig::default()
            };
            let codec = TokenCodec::new(config, Limits::default(), KeyringHandle::new(ring));
            codecs.push((name, codec));
        }
        Self {
            _dir: dir,
            local_paserk: local,
            ed25519_paserk: ed,
            hs256_paserk: hs,
            codecs,
            now: chrono::Utc::now().timestamp(),
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

/// A reused raw deflater, as the codec keeps one per thread.
fn deflate_with(compress: &mut Compress, input: &[u8]) -> Vec<u8> {
    compress.reset();
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    compress
        .compress_vec(input, &mut out, FlushCompress::Finish)
        .expect("deflate");
    out
}

fn inflate_with(decompress: &mut Decompress, input: &[u8], expect: usize) -> Vec<u8> {
    decompress.reset(false);
    let mut out = Vec::with_capacity(expect + 1);
    decompress
        .decompress_vec(input, &mut out, FlushDecompress::Finish)
        .expect("inflate");
    out
}

/// The primitives alone, on the 20-line cart and its real tokens.
fn primitive_workloads(setup: &Setup) -> Vec<Workload<'_>> {
    let cart = cart(20);
    let json = serde_json::to_vec(&cart).expect("JSON");
    let mut compress = Compress::new(Compression::new(6), false);
    let packed = deflate_with(&mut compress, &json);
    let mut out: Vec<Workload<'_>> = Vec::new();
    let named = |name: &str| format!("primitive/{name}");

    {
        let cart = cart.clone();
        out.push((
            named("json_serialize"),
            Box::new(move || {
                black_box(serde_json::to_vec(black_box(&cart)).expect("JSON"));
            }),
        ));
    }
    {
        let json = json.clone();
        out.push((
            named("json_parse"),
            Box::new(move || {
                black_box(
                    serde_json::from_slice::<Vec<(String, u32, BTreeMap<String, String>)>>(
                        black_box(&json),
                    )
                    .expect("JSON"),
                );
            }),
        ));
    }
    {
        // Not a primitive: the validated parse, with line keys (for the
        // breakdown only; the glue ratio does not use it).
        let json = json.clone();
        out.push((
            "detail/cart_from_compact_json".into(),
            Box::new(move || {
                black_box(
                    Cart::from_compact_json(black_box(&json), &Limits::default()).expect("a cart"),
                );
            }),
        ));
    }
    {
        let json = json.clone();
        out.push((
            named("deflate"),
            Box::new(move || {
                black_box(deflate_with(&mut compress, black_box(&json)));
            }),
        ));
    }
    {
        let mut decompress = Decompress::new(false);
        let (packed, len) = (packed.clone(), json.len());
        out.push((
            named("inflate"),
            Box::new(move || {
                black_box(inflate_with(&mut decompress, black_box(&packed), len));
            }),
        ));
    }

    // v4.local on the claims of a real 20-line token.
    let paseto = setup.codec("paseto");
    let key = SymmetricKey::<V4>::try_from(setup.local_paserk.as_str()).expect("a k4.local key");
    let implicit = format!("cartseal:v1:{}", paseto.config().audience);
    let token = setup.seal("paseto", 20);
    let untrusted = UntrustedToken::<Local, V4>::try_from(token.as_str()).expect("a token");
    let claims = LocalToken::decrypt(&key, &untrusted, None, Some(implicit.as_bytes()))
        .expect("decrypts")
        .payload()
        .to_owned();
    let footer = untrusted.untrusted_footer().to_vec();
    {
        let key = SymmetricKey::<V4>::try_from(setup.local_paserk.as_str()).expect("a key");
        let implicit = implicit.clone();
        out.push((
            named("v4_local_encrypt"),
            Box::new(move || {
                black_box(
                    LocalToken::encrypt(
                        &key,
                        black_box(claims.as_bytes()),
                        Some(&footer),
                        Some(implicit.as_bytes()),
                    )
                    .expect("encrypts"),
                );
            }),
        ));
    }
    out.push((
        named("v4_local_decrypt"),
        Box::new(move || {
            let untrusted =
                UntrustedToken::<Local, V4>::try_from(black_box(token.as_str())).expect("a token");
            black_box(
                LocalToken::decrypt(&key, &untrusted, None, Some(implicit.as_bytes()))
                    .expect("decrypts"),
            );
        }),
    ));

    // JWS sign and verify on the claims of a real 20-line JWT.
    let jwt = setup.seal("jwt-eddsa", 20);
    let jwt_claims: Value = {
        let segment = jwt.split('.').nth(1).expect("claims");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64")).expect("JSON")
    };
    let secret = AsymmetricSecretKey::<V4>::try_from(setup.ed25519_paserk.as_str())
        .expect("a k4.secret key");
    let (seed, public) = secret.as_bytes().split_at(32);
    // PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410).
    let prefix = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let der = [&prefix[..], seed].concat();
    let hs = SymmetricKey::<V4>::try_from(setup.hs256_paserk.as_str()).expect("a k4.local key");
    let jws = [
        (
            "ed25519",
            Algorithm::EdDSA,
            EncodingKey::from_ed_der(&der),
            DecodingKey::from_ed_der(public),
        ),
        (
            "hs256",
            Algorithm::HS256,
            EncodingKey::from_secret(hs.as_bytes()),
            DecodingKey::from_secret(hs.as_bytes()),
        ),
    ];
    for (name, alg, encoding, decoding) in jws {
        let header = Header::new(alg);
        let signed = jsonwebtoken::encode(&header, &jwt_claims, &encoding).expect("signs");
        let mut validation = Validation::new(alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims::<&str>(&[]);
        let claims = jwt_claims.clone();
        out.push((
            named(&format!("{name}_sign")),
            Box::new(move || {
                black_box(
                    jsonwebtoken::encode(&header, black_box(&claims), &encoding).expect("signs"),
                );
            }),
        ));
        out.push((
            named(&format!("{name}_verify")),
            Box::new(move || {
                black_box(
                    jsonwebtoken::decode::<Value>(black_box(&signed), &decoding, &validation)
                        .expect("verifies"),
                );
            }),
        ));
    }

    // The JWT cart claim's AEAD, on the deflated cart.
    let aead_key = SecretKey::try_from(&[7u8; 32][..]).expect("a key");
    let nonce = Nonce::try_from(&[9u8; 24][..]).expect("a nonce");
    let ad = b"cartseal:v1:cartseal-dev:AAECAwQFBgcICQoLDA0ODw";
    let mut sealed = vec![0u8; packed.len() + 16];
    XChaCha20Poly1305::seal(&aead_key, &nonce, &packed, Some(ad), &mut sealed).expect("seals");
    let key2 = SecretKey::try_from(&[7u8; 32][..]).expect("a key");
    let nonce2 = Nonce::try_from(&[9u8; 24][..]).expect("a nonce");
    out.push((
        named("xchacha20poly1305_seal"),
        Box::new(move || {
            let mut out = vec![0u8; packed.len() + 16];
            XChaCha20Poly1305::seal(&aead_key, &nonce, black_box(&packed), Some(ad), &mut out)
                .expect("seals");
            black_box(out);
        }),
    ));
    out.push((
        named("xchacha20poly1305_open"),
        Box::new(move || {
            let mut out = vec![0u8; sealed.len() - 16];
            XChaCha20Poly1305::open(&key2, &nonce2, black_box(&sealed), Some(ad), &mut out)
                .expect("opens");
            black_box(out);
        }),
    ));
    out
}

/// A GET then a SET of the 20-line paseto token, or `None` (with a note)
/// when no Redis answers.
fn redis_workload(setup: &Setup) -> Option<Workload<'static>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let connection = redis::Client::open(url.as_str())
        .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(1)))
        .and_then(|mut con| redis::cmd("PING").query::<String>(&mut con).map(|_| con));
    let mut con = match connection {
        Ok(con) => con,
        Err(e) => {
            println!(
                "note: no Redis at {url} ({e}): redis/get_set skipped; set REDIS_URL to include it"
            );
            return None;
        }
    };
    let key = format!("cartseal:bench:codec:{}", std::process::id());
    redis::cmd("SET")
        .arg(&key)
        .arg(setup.seal("paseto", 20))
        .arg("EX")
        .arg(3600)
        .query::<()>(&mut con)
        .expect("SET");
    Some((
        "redis/get_set".into(),
        Box::new(move || {
            let value: String = redis::cmd("GET").arg(&key).query(&mut con).expect("GET");
            redis::cmd("SET")
                .arg(&key)
                .arg(black_box(&value))
                .arg("EX")
                .arg(3600)
                .query::<()>(&mut con)
                .expect("SET");
        }),
    ))
}

/// Token lengths per format and cart size, and the parts of a 20-line token
/// of each format (docs/token-format.md quotes them).
fn print_lengths(setup: &Setup) {
    println!("\ntoken length in characters (budget 3800; targets: paseto 20 lines <= 1100):");
    println!("{:<10} {:>6} {:>6} {:>6}", "format", "1", "20", "100");
    for name in FORMATS {
        let lengths: Vec<usize> = SIZES.iter().map(|&n| setup.seal(name, n).len()).collect();
        println!(
            "{name:<10} {:>6} {:>6} {:>6}",
            lengths[0], lengths[1], lengths[2]
        );
    }

    let token = setup.seal("paseto", 20);
    let key = SymmetricKey::<V4>::try_from(setup.local_paserk.as_str()).expect("a key");
    let untrusted = UntrustedToken::<Local, V4>::try_from(token.as_str()).expect("a token");
    let implicit = format!("cartseal:v1:{}", setup.codec("paseto").config().audience);
    let claims = LocalToken::decrypt(&key, &untrusted, None, Some(implicit.as_bytes()))
        .expect("decrypts")
        .payload()
        .to_owned();
    let rest = token.strip_prefix("v4.local.").expect("header");
    let (body, footer) = rest.split_once('.').expect("footer");
    let parsed: Value = serde_json::from_str(&claims).expect("JSON");
    let cz = parsed.get("cz").and_then(Value::as_str).unwrap_or_default();
    let deflated = URL_SAFE_NO_PAD.decode(cz).map_or(0, |d| d.len());
    println!("\n20-line paseto token: {} characters", token.len());
    println!("  header v4.local.          9");
    println!(
        "  body (base64url)      {:>5}   32 nonce + {} payload + 32 tag bytes",
        body.len(),
        claims.len()
    );
    println!(
        "  . and footer          {:>5}   footer of {} bytes",
        footer.len() + 1,
        untrusted.untrusted_footer().len()
    );
    println!(
        "  payload                {:>4}   cz {} characters: {} bytes of compact JSON deflated to {deflated}",
        claims.len(),
        cz.len(),
        cart(20).to_compact_json().len()
    );

    for name in ["jwt-eddsa", "jwt-hs256"] {
        let token = setup.seal(name, 20);
        let segments: Vec<&str> = token.split('.').collect();
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segments[1]).expect("b64"))
                .expect("JSON");
        let ct = claims["ct"].as_str().unwrap_or_default();
        println!(
            "20-line {name} token: {} characters = header {} + 1 + claims {} (ct {}) + 1 + signature {}",
            token.len(),
            segments[0].len(),
            segments[1].len(),
            ct.len(),
            segments[2].len()
        );
    }
}

// ---------------------------------------------------------------------------
// The interleaved pass and the summary
// ---------------------------------------------------------------------------

/// Runs the workloads in turn, a batch of about 200 µs each per round, for
/// `rounds` rounds; returns the median time per iteration of each, in ns.
fn interleaved(workloads: &mut [Workload<'_>], rounds: usize) -> Vec<f64> {
    // Calibrate a batch size per workload, after a warm-up.
    let batches: Vec<u32> = workloads
        .iter_mut()
        .map(|(_, f)| {
            for _ in 0..20 {
                f();
            }
            let started = Instant::now();
            for _ in 0..20 {
                f();
            }
            let per = started.elapsed().as_nanos() as f64 / 20.0;
            (200_000.0 / per).clamp(1.0, 10_000.0) as u32
        })
        .collect();
    let mut samples = vec![Vec::with_capacity(rounds); workloads.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in workloads.iter_mut().enumerate() {
            let started = Instant::now();
            for _ in 0..batches[i] {
                f();
            }
            samples[i].push(started.elapsed().as_nanos() as f64 / f64::from(batches[i]));
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

fn micros(ns: f64) -> String {
    format!("{:.1} µs", ns / 1000.0)
}

fn summary(setup: &Setup) {
    let mut workloads: Vec<Workload<'_>> = codec_workloads(setup)
        .into_iter()
        .filter(|(name, _)| name.ends_with("/20"))
        .collect();
    workloads.extend(primitive_workloads(setup));
    workloads.extend(redis_workload(setup));
    let rounds = 1000;
    let started = Instant::now();
    let medians = interleaved(&mut workloads, rounds);
    let m = |name: &str| {
        workloads
            .iter()
            .position(|(n, _)| n == name)
            .map(|i| medians[i])
    };
    println!(
        "\ninterleaved pass: {} workloads x {rounds} rounds in {:.1} s; medians per iteration:",
        workloads.len(),
        started.elapsed().as_secs_f64()
    );
    for (i, (name, _)) in workloads.iter().enumerate() {
        println!("  {name:<34} {:>10}", micros(medians[i]));
    }

    let redis = m("redis/get_set");
    println!(
        "\n20 lines     seal+open   primitives   glue (target <= 1.3)   / redis GET+SET{}",
        redis.map_or(" (no Redis)".into(), |r| format!(" {}", micros(r)))
    );
    for name in FORMATS {
        let both = m(&format!("seal/{name}/20")).unwrap_or(f64::NAN)
            + m(&format!("open/{name}/20")).unwrap_or(f64::NAN);
        let prims: f64 = parts_of(name)
            .iter()
            .filter_map(|p| m(&format!("primitive/{p}")))
            .sum();
        println!(
            "{name:<10} {:>11} {:>12} {:>14.2} {:>22}",
            micros(both),
            micros(prims),
            both / prims,
            redis.map_or("-".into(), |r| format!("{:.2}", both / r)),
        );
    }
    let paseto = m("seal/paseto/20").unwrap_or(f64::NAN) + m("open/paseto/20").unwrap_or(f64::NAN);
    let prims: f64 = parts_of("paseto")
        .iter()
        .filter_map(|p| m(&format!("primitive/{p}")))
        .sum();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("\ntargets:");
    println!(
        "  paseto glue: seal+open / primitives = {:.2} (<= 1.3: {})",
        paseto / prims,
        verdict(paseto / prims <= 1.3)
    );
    match redis {
        Some(r) => println!(
            "  paseto seal+open / redis GET+SET = {:.2} (<= 0.5: {})",
            paseto / r,
            verdict(paseto / r <= 0.5)
        ),
        None => println!("  paseto seal+open / redis GET+SET: no Redis, not measured"),
    }
    let (t20, t100) = (
        setup.seal("paseto", 20).len(),
        setup.seal("paseto", 100).len(),
    );
    println!(
        "  paseto 20 lines: {t20} characters (<= 1100: {})",
        verdict(t20 <= 1100)
    );
    println!(
        "  paseto 100 lines: {t100} characters (<= 3800: {})",
        verdict(t100 <= 3800)
    );
}

fn main() {
    let setup = Setup::new();
    if std::env::args().any(|a| a == "--instructions") {
        instructions::run(&setup, cart(20));
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
