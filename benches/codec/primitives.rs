//! The primitives a seal and an open are made of, alone on the 20-line
//! cart and its real tokens, and the Redis round trip the codec replaces.

use super::*;

/// A reused raw deflater, as the codec keeps one per thread.
pub(super) fn deflate_with(compress: &mut Compress, input: &[u8]) -> Vec<u8> {
    compress.reset();
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    compress
        .compress_vec(input, &mut out, FlushCompress::Finish)
        .expect("deflate");
    out
}

pub(super) fn inflate_with(decompress: &mut Decompress, input: &[u8], expect: usize) -> Vec<u8> {
    decompress.reset(false);
    let mut out = Vec::with_capacity(expect + 1);
    decompress
        .decompress_vec(input, &mut out, FlushDecompress::Finish)
        .expect("inflate");
    out
}

/// The workload `detail/cart_from_{name}_json`: `parse`, the validated
/// parse of `json` into a cart.
fn cart_parse<E: std::fmt::Debug>(
    name: &str,
    json: &[u8],
    parse: impl Fn(&[u8], &Limits) -> Result<Cart, E> + 'static,
) -> Workload<'static> {
    let json = json.to_vec();
    (
        format!("detail/cart_from_{name}_json"),
        Box::new(move || {
            black_box(parse(black_box(&json), &Limits::default()).expect("a cart"));
        }),
    )
}

/// The primitives alone, on the 20-line cart and its real tokens.
pub(super) fn primitive_workloads(setup: &Setup) -> Vec<Workload<'_>> {
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
    // Not primitives (for the breakdown only; the glue ratio does not use
    // them): the validated parse, with line keys, by the direct scan of the
    // canonical spelling, and through serde_json alone, as it was before
    // that scan.
    out.push(cart_parse("compact", &json, Cart::from_compact_json));
    out.push(cart_parse("any", &json, Cart::from_any_json));
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

    // What the codec's deflate and inflate do for this cart: level 1, as it
    // uses below `FAST_DEFLATE_BELOW` bytes of JSON, on the compact JSON,
    // with the state reused and reset. With v4.local these make the floor
    // that the summary sets beside seal and open.
    {
        let json = cart.to_compact_json();
        assert!(
            json.len() < cartseal::token::FAST_DEFLATE_BELOW,
            "a level-1 cart"
        );
        let mut compress = Compress::new(Compression::new(1), false);
        let packed = deflate_with(&mut compress, &json);
        let (mut decompress, len) = (Decompress::new(false), json.len());
        out.push((
            named("deflate_level1"),
            Box::new(move || {
                black_box(deflate_with(&mut compress, black_box(&json)));
            }),
        ));
        out.push((
            named("inflate_level1"),
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
pub(super) fn redis_workload(setup: &Setup) -> Option<Workload<'static>> {
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
