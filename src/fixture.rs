//! The one keyring and clock fixture of cartseal's tests, benchmarks and
//! fuzz targets, so that each of them writes key files, builds codecs and
//! reads the time the same way.
//!
//! - the clock: [`NOW`], a fixed instant, [`now`], the real one, and
//!   [`rfc3339`], the text a claim or a cart view gives an instant as;
//! - [`KeyDir`]: a private folder of key files, as the keyring requires;
//! - [`Ring`]: a keyring under construction in a [`KeyDir`], loaded by the
//!   real [`Keyring::load`], and codecs over it;
//! - [`codecs`]: a keyring of constant keys, one per rotation state, and a
//!   codec of each format over it: a token in the committed fuzz corpus
//!   opens in every later run.
//!
//! Compiled in the unit tests, under `cfg(fuzzing)` and with the `fixture`
//! feature (which the kit crate turns on for tests/ and the codec benchmark),
//! never in the service, nor in the one the load generator builds.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::cart::Limits;
use crate::clock::{Clock, SystemClock};
use crate::keys::{
    KeyConfig, KeyState, Keyring, KeyringHandle, LocalMaterial, Purpose, SigningMaterial,
    ed25519_paserk_from_seed, generate_ed25519_paserk, generate_local,
};
use crate::token::{Format, JwtAlgorithm, TokenCodec, TokenConfig};

/// The fixed clock, in Unix seconds (2027-01-15T08:00:00Z).
pub const NOW: i64 = 1_800_000_000;

/// The real clock, in Unix seconds: for what a running service or store
/// compares with its own clock.
pub fn now() -> i64 {
    SystemClock.now()
}

/// Unix seconds as the RFC 3339 text, to the second and in UTC, that PASETO
/// claims and the cart view's `expires_at` hold.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .expect("a representable time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A folder only this user can read, deleted when dropped: the keyring
/// refuses key files that others can read, and a key must not outlive its
/// test.
#[derive(Debug)]
pub struct KeyDir(tempfile::TempDir);

impl KeyDir {
    /// A fresh private folder in the system's temp dir.
    pub fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("cartseal-keys-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .expect("a private temp dir");
        Self(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes the file `name` with `contents` and the permission bits
    /// `mode` (0o600 for a key the keyring accepts); returns its path.
    pub fn write(&self, name: &str, contents: &[u8], mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.path().join(name);
        std::fs::write(&path, contents).expect("write a key file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .expect("chmod a key file");
        path
    }
}

impl Default for KeyDir {
    fn default() -> Self {
        Self::new()
    }
}

/// A keyring under construction: key files in a [`KeyDir`], and their
/// `[[keys]]` entries.
pub struct Ring {
    dir: KeyDir,
    configs: Vec<KeyConfig>,
    alg: JwtAlgorithm,
}

impl Ring {
    /// An empty ring whose signing keys are for `alg`.
    pub fn new(alg: JwtAlgorithm) -> Self {
        Self {
            dir: KeyDir::new(),
            configs: Vec::new(),
            alg,
        }
    }

    /// The standard ring: `local-a` active and `local-b` pending; `sign-a`
    /// active and `sign-b` pending.
    pub fn standard(alg: JwtAlgorithm) -> Self {
        let mut ring = Self::new(alg);
        ring.add_local("local-a", KeyState::Active);
        ring.add_local("local-b", KeyState::Pending);
        ring.add_signing("sign-a", KeyState::Active);
        ring.add_signing("sign-b", KeyState::Pending);
        ring
    }

    /// Adds a fresh random local key; returns its kid.
    pub fn add_local(&mut self, id: &str, state: KeyState) -> String {
        let paserk = generate_local().to_paserk();
        self.add_paserk(id, Purpose::Local, state, &paserk)
    }

    /// Adds the local key with these bytes; returns its kid.
    pub fn add_local_bytes(&mut self, id: &str, state: KeyState, bytes: &[u8]) -> String {
        let paserk = LocalMaterial::from_bytes(bytes)
            .expect("32 key bytes")
            .to_paserk();
        self.add_paserk(id, Purpose::Local, state, &paserk)
    }

    /// Adds a fresh signing key for the ring's algorithm; returns its kid.
    pub fn add_signing(&mut self, id: &str, state: KeyState) -> String {
        let paserk = match self.alg {
            JwtAlgorithm::EdDSA => generate_ed25519_paserk(),
            JwtAlgorithm::HS256 => generate_local().to_paserk(),
        };
        self.add_paserk(id, Purpose::Signing, state, &paserk)
    }

    /// Adds the Ed25519 signing key with this seed; returns its kid.
    pub fn add_signing_seed(&mut self, id: &str, state: KeyState, seed: &[u8; 32]) -> String {
        self.add_paserk(id, Purpose::Signing, state, &ed25519_paserk_from_seed(seed))
    }

    /// Adds a key from its PASERK text; returns its kid.
    pub fn add_paserk(
        &mut self,
        id: &str,
        purpose: Purpose,
        state: KeyState,
        paserk: &str,
    ) -> String {
        let kid = match purpose {
            Purpose::Local => LocalMaterial::from_paserk(paserk).map(|m| m.kid().to_owned()),
            Purpose::Signing => SigningMaterial::from_paserk(paserk).map(|m| m.kid().to_owned()),
        }
        .expect("a valid PASERK");
        let file = format!("{id}.paserk");
        self.dir.write(&file, paserk.as_bytes(), 0o600);
        self.configs.push(KeyConfig {
            id: id.to_owned(),
            purpose,
            file: file.into(),
            state,
            kid: Some(kid.clone()),
        });
        kid
    }

    /// Moves key `id` to `state`.
    pub fn set_state(&mut self, id: &str, state: KeyState) {
        self.configs
            .iter_mut()
            .find(|c| c.id == id)
            .expect("a key of that id")
            .state = state;
    }

    /// Moves keys to new states and hands the new keyring to `codec` (and
    /// every clone of it), as a reload of the service does.
    pub fn reload(&mut self, codec: &TokenCodec, states: &[(&str, KeyState)]) {
        for (id, state) in states {
            self.set_state(id, *state);
        }
        codec.keys().replace(self.keyring());
    }

    /// Loads the keyring as the service would.
    pub fn keyring(&self) -> Keyring {
        let need_signing = self.configs.iter().any(|c| c.purpose == Purpose::Signing);
        Keyring::load(
            &self.configs,
            self.dir.path(),
            self.alg.into(),
            need_signing,
        )
        .expect("a valid keyring")
        .0
    }

    /// The token settings of this ring's codecs: defaults, in `format`.
    pub fn config(&self, format: Format) -> TokenConfig {
        TokenConfig {
            format,
            jwt_algorithm: self.alg,
            ..TokenConfig::default()
        }
    }

    /// A codec in `format` with the default settings and limits.
    pub fn codec(&self, format: Format) -> TokenCodec {
        self.codec_with(self.config(format), Limits::default())
    }

    /// A codec with these settings and limits.
    pub fn codec_with(&self, config: TokenConfig, limits: Limits) -> TokenCodec {
        TokenCodec::new(config, limits, KeyringHandle::new(self.keyring()))
    }
}

/// The constant local keys, one per rotation state: the state, and the key
/// bytes.
pub const LOCAL_KEYS: [(KeyState, [u8; 32]); 4] = [
    (KeyState::Pending, [0x11; 32]),
    (KeyState::Active, [0x22; 32]),
    (KeyState::DecryptOnly, [0x33; 32]),
    (KeyState::Retired, [0x44; 32]),
];

/// A local key the constant keyring does not hold.
pub const UNKNOWN_LOCAL_KEY: [u8; 32] = [0x55; 32];

/// The constant Ed25519 signing keys: the state, and the seed.
const SIGNING_KEYS: [(KeyState, [u8; 32]); 3] = [
    (KeyState::Active, [0x66; 32]),
    (KeyState::DecryptOnly, [0x77; 32]),
    (KeyState::Retired, [0x88; 32]),
];

/// The codecs of both formats over the constant keyring.
pub struct Codecs {
    /// The `paseto` format.
    pub paseto: TokenCodec,
    /// The `jwt` format, signed with EdDSA.
    pub jwt: TokenCodec,
}

impl Codecs {
    /// The codec of `format`.
    pub fn codec(&self, format: Format) -> &TokenCodec {
        match format {
            Format::Paseto => &self.paseto,
            Format::Jwt => &self.jwt,
        }
    }
}

/// The codecs over the constant keyring, built on first use.
pub fn codecs() -> &'static Codecs {
    static CODECS: OnceLock<Codecs> = OnceLock::new();
    CODECS.get_or_init(|| {
        let mut ring = Ring::new(JwtAlgorithm::EdDSA);
        for (state, bytes) in LOCAL_KEYS {
            ring.add_local_bytes(&format!("local-{}", state.as_str()), state, &bytes);
        }
        for (state, seed) in SIGNING_KEYS {
            ring.add_signing_seed(&format!("signing-{}", state.as_str()), state, &seed);
        }
        let keys = KeyringHandle::new(ring.keyring());
        let codec = |format| TokenCodec::new(ring.config(format), Limits::default(), keys.clone());
        Codecs {
            paseto: codec(Format::Paseto),
            jwt: codec(Format::Jwt),
        }
    })
}

/// The `k4.lid.` kid of the local key with these bytes.
pub fn local_kid(bytes: &[u8; 32]) -> String {
    LocalMaterial::from_bytes(bytes)
        .expect("32 key bytes")
        .kid()
        .to_owned()
}
