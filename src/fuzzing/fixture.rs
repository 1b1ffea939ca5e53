//! What every target opens and seals under: a keyring built from constant
//! bytes, loaded once by the real [`Keyring::load`], and a fixed clock. A
//! token in the committed corpus therefore opens in every later run.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::cart::{Cart, Limits};
use crate::keys::{
    KeyConfig, KeyState, Keyring, KeyringHandle, LocalMaterial, Purpose, ed25519_paserk_from_seed,
};
use crate::token::{Format, TokenCodec, TokenConfig};

/// The fixed clock, in Unix seconds (2027-01-15T08:00:00Z).
pub const NOW: i64 = 1_800_000_000;

/// The local keys, one per rotation state: the state, and the key bytes.
pub const LOCAL_KEYS: [(KeyState, [u8; 32]); 4] = [
    (KeyState::Pending, [0x11; 32]),
    (KeyState::Active, [0x22; 32]),
    (KeyState::DecryptOnly, [0x33; 32]),
    (KeyState::Retired, [0x44; 32]),
];

/// A local key the keyring does not hold.
pub const UNKNOWN_LOCAL_KEY: [u8; 32] = [0x55; 32];

/// The Ed25519 signing keys: the state, and the seed.
const SIGNING_KEYS: [(KeyState, [u8; 32]); 3] = [
    (KeyState::Active, [0x66; 32]),
    (KeyState::DecryptOnly, [0x77; 32]),
    (KeyState::Retired, [0x88; 32]),
];

/// The codecs of both formats, over one keyring.
pub struct Fixture {
    pub paseto: TokenCodec,
    pub jwt: TokenCodec,
}

impl Fixture {
    /// The codec of `format`.
    pub fn codec(&self, format: Format) -> &TokenCodec {
        match format {
            Format::Paseto => &self.paseto,
            Format::Jwt => &self.jwt,
        }
    }
}

/// The fixture, built on first use.
pub fn get() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

/// The `k4.lid.` kid of the local key with these bytes.
pub fn local_kid(bytes: &[u8; 32]) -> String {
    LocalMaterial::from_bytes(bytes)
        .expect("32 key bytes")
        .kid()
        .to_owned()
}

/// Limits far below the defaults, so that inputs reach every bound.
pub fn tight_limits() -> Limits {
    Limits {
        max_lines: 3,
        max_quantity: 5,
        sku_max_chars: 8,
        max_properties: 2,
        property_key_max_bytes: 4,
        property_value_max_bytes: 8,
        max_inflated_bytes: 256,
        max_inflate_ratio: 4,
        ..Limits::default()
    }
}

/// Checks every limit on `cart`, and that it reads back from its compact
/// form as itself.
pub fn assert_within(cart: &Cart, limits: &Limits) {
    assert!(cart.lines().len() <= limits.max_lines, "too many lines");
    for (i, line) in cart.lines().iter().enumerate() {
        let sku = line.sku();
        assert!(!sku.is_empty() && sku.len() <= limits.sku_max_chars, "sku");
        let quantity = line.quantity().get();
        assert!((1..=limits.max_quantity).contains(&quantity), "quantity");
        assert!(line.properties().iter().count() <= limits.max_properties);
        for (key, value) in line.properties().iter() {
            assert!(!key.is_empty() && key.len() <= limits.property_key_max_bytes);
            assert!(value.len() <= limits.property_value_max_bytes);
        }
        assert!(
            cart.lines()[..i].iter().all(|l| l.key() != line.key()),
            "two lines with one key"
        );
    }
    let json = cart.to_compact_json();
    assert_eq!(
        Cart::from_compact_json(&json, limits).as_ref(),
        Ok(cart),
        "a cart reads back from its compact form"
    );
}

fn build() -> Fixture {
    let dir = PrivateDir::new();
    let mut configs = Vec::new();
    for (state, bytes) in LOCAL_KEYS {
        let material = LocalMaterial::from_bytes(&bytes).expect("32 key bytes");
        let id = format!("local-{}", state.as_str());
        configs.push(dir.key(&id, Purpose::Local, state, &material.to_paserk()));
    }
    for (state, seed) in SIGNING_KEYS {
        let id = format!("signing-{}", state.as_str());
        let paserk = ed25519_paserk_from_seed(&seed);
        configs.push(dir.key(&id, Purpose::Signing, state, &paserk));
    }
    let (ring, _warnings) = Keyring::load(&configs, &dir.0, jsonwebtoken::Algorithm::EdDSA, true)
        .expect("the fixture keyring loads");
    drop(dir);
    let keys = KeyringHandle::new(ring);
    let codec = |format| {
        TokenCodec::new(
            TokenConfig {
                format,
                ..TokenConfig::default()
            },
            Limits::default(),
            keys.clone(),
        )
    };
    Fixture {
        paseto: codec(Format::Paseto),
        jwt: codec(Format::Jwt),
    }
}

/// A folder only this user can read, deleted when dropped: the keyring
/// refuses key files that others can read.
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new() -> Self {
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!(
            "cartseal-fuzz-keys-{}-{}",
            std::process::id(),
            crate::ids::random()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .expect("a private temp dir");
        Self(path)
    }

    /// Writes a key file; returns its `[[keys]]` entry.
    fn key(&self, id: &str, purpose: Purpose, state: KeyState, paserk: &str) -> KeyConfig {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let file = PathBuf::from(format!("{id}.paserk"));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.0.join(&file))
            .and_then(|mut f| f.write_all(paserk.as_bytes()))
            .expect("write a key file");
        KeyConfig {
            id: id.to_owned(),
            purpose,
            file,
            state,
            kid: None,
        }
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
