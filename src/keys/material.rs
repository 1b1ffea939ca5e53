//! Key material: loading PASERK key files and deriving what each key serves.

use std::fmt;

use ed25519_dalek::SigningKey as Ed25519Key;
use jsonwebtoken::{DecodingKey, EncodingKey};
use orion::hazardous::aead::xchacha20poly1305;
use orion::hazardous::mac::blake2b;
use pasetors::keys::{AsymmetricPublicKey, AsymmetricSecretKey, SymmetricKey};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::version4::V4;
use zeroize::Zeroizing;

/// The label under which the JWT cart-claim key is derived from a local key,
/// so that one key never serves two algorithms.
const JWT_CART_LABEL: &[u8] = b"cartseal:jwt-cart-claim:xchacha20poly1305:v1";

/// The PKCS#8 v1 DER prefix of a 32-byte Ed25519 seed (RFC 8410).
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A 32-byte symmetric key for PASETO v4.local, plus the subkey it yields for
/// the JWT format's encrypted cart claim. Both zeroize on drop.
pub struct LocalMaterial {
    pub(crate) paseto: SymmetricKey<V4>,
    pub(crate) jwt_cart: xchacha20poly1305::SecretKey,
    kid: String,
}

impl LocalMaterial {
    /// Parses a `k4.local.` PASERK string.
    pub fn from_paserk(text: &str) -> Result<Self, MaterialError> {
        let text = text.trim();
        if text.starts_with("k4.secret.") || text.starts_with("k4.public.") {
            return Err(MaterialError::WrongPurpose("a signing key (k4.secret)"));
        }
        if !text.starts_with("k4.local.") {
            return Err(MaterialError::Format("expected a k4.local. PASERK"));
        }
        let key = SymmetricKey::<V4>::try_from(text).map_err(|_| MaterialError::Length)?;
        Self::from_key(key)
    }

    /// Wraps raw key bytes (32 of them).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MaterialError> {
        let key = SymmetricKey::<V4>::from(bytes).map_err(|_| MaterialError::Length)?;
        Self::from_key(key)
    }

    fn from_key(paseto: SymmetricKey<V4>) -> Result<Self, MaterialError> {
        // Keyed BLAKE2b as a KDF: the subkey is a PRF of the key under a
        // label of its own.
        let mac_key =
            blake2b::SecretKey::try_from(paseto.as_bytes()).map_err(|_| MaterialError::Length)?;
        let mut kdf = blake2b::Blake2b::new(&mac_key, 32).map_err(|_| MaterialError::Length)?;
        kdf.update(JWT_CART_LABEL)
            .map_err(|_| MaterialError::Length)?;
        let sub = kdf.finalize().map_err(|_| MaterialError::Length)?;
        let jwt_cart = xchacha20poly1305::SecretKey::try_from(sub.unprotected_as_ref::<[u8]>())
            .map_err(|_| MaterialError::Length)?;
        let kid = paserk_string(&Id::from(&paseto));
        Ok(Self {
            paseto,
            jwt_cart,
            kid,
        })
    }

    /// The PASERK `k4.lid.` id of the key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key as a `k4.local.` PASERK string, for key files.
    pub fn to_paserk(&self) -> Zeroizing<String> {
        Zeroizing::new(paserk_string(&self.paseto))
    }

    /// The raw key bytes: only for the HS256 secret.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.paseto.as_bytes()
    }
}

impl fmt::Debug for LocalMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LocalMaterial {{ kid: {}, key: ***OMITTED*** }}",
            self.kid
        )
    }
}

/// A JWT signing key: Ed25519 (public half published in the JWKS) or an
/// HS256 shared secret.
pub enum SigningMaterial {
    Ed25519 {
        /// Signs.
        encoding: EncodingKey,
        /// Verifies.
        decoding: DecodingKey,
        /// The public key, for the JWKS.
        public: [u8; 32],
        /// `k4.pid.` of the public key.
        kid: String,
    },
    /// HMAC-SHA256 with a 32-byte secret.
    Hs256 {
        /// Signs.
        encoding: EncodingKey,
        /// Verifies.
        decoding: DecodingKey,
        /// `k4.lid.` of the secret.
        kid: String,
    },
}

impl SigningMaterial {
    /// Parses a PASERK string: `k4.secret.` for Ed25519, or `k4.local.` for
    /// an HS256 secret.
    pub fn from_paserk(text: &str) -> Result<Self, MaterialError> {
        let text = text.trim();
        if text.starts_with("k4.local.") {
            let local = LocalMaterial::from_paserk(text)?;
            return Ok(Self::hs256(&local));
        }
        if !text.starts_with("k4.secret.") {
            return Err(MaterialError::Format(
                "expected a k4.secret. or k4.local. PASERK",
            ));
        }
        let secret =
            AsymmetricSecretKey::<V4>::try_from(text).map_err(|_| MaterialError::Length)?;
        let bytes = secret.as_bytes();
        let seed: [u8; 32] = bytes[..32].try_into().map_err(|_| MaterialError::Length)?;
        Self::ed25519_from_seed(&seed, Some(&bytes[32..]))
    }

    /// Builds an Ed25519 key from its 32-byte seed, checking a stored public
    /// half against it when one is given.
    pub fn ed25519_from_seed(
        seed: &[u8; 32],
        stored_public: Option<&[u8]>,
    ) -> Result<Self, MaterialError> {
        let signing = Ed25519Key::from_bytes(seed);
        let public = signing.verifying_key().to_bytes();
        if stored_public.is_some_and(|p| p != public) {
            return Err(MaterialError::Inconsistent);
        }
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&ED25519_PKCS8_PREFIX);
        der.extend_from_slice(seed);
        let pk = AsymmetricPublicKey::<V4>::from(&public).map_err(|_| MaterialError::Length)?;
        Ok(Self::Ed25519 {
            encoding: EncodingKey::from_ed_der(&der),
            decoding: DecodingKey::from_ed_der(&public),
            public,
            kid: paserk_string(&Id::from(&pk)),
        })
    }

    fn hs256(local: &LocalMaterial) -> Self {
        Self::Hs256 {
            encoding: EncodingKey::from_secret(local.bytes()),
            decoding: DecodingKey::from_secret(local.bytes()),
            kid: local.kid().to_owned(),
        }
    }

    /// The key id carried in the JWT header.
    pub fn kid(&self) -> &str {
        match self {
            Self::Ed25519 { kid, .. } | Self::Hs256 { kid, .. } => kid,
        }
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Ed25519 { .. } => jsonwebtoken::Algorithm::EdDSA,
            Self::Hs256 { .. } => jsonwebtoken::Algorithm::HS256,
        }
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        match self {
            Self::Ed25519 { encoding, .. } | Self::Hs256 { encoding, .. } => encoding,
        }
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        match self {
            Self::Ed25519 { decoding, .. } | Self::Hs256 { decoding, .. } => decoding,
        }
    }
}

impl fmt::Debug for SigningMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningMaterial {{ alg: {:?}, kid: {}, key: ***OMITTED*** }}",
            self.algorithm(),
            self.kid()
        )
    }
}

/// Why key material was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaterialError {
    /// Not a PASERK of the expected kind.
    #[error("{0}")]
    Format(&'static str),
    /// A PASERK of the right kind with the wrong number of bytes.
    #[error("the key has the wrong length")]
    Length,
    /// A key made for the other purpose.
    #[error("the file holds {0}, which is the wrong purpose")]
    WrongPurpose(&'static str),
    /// An Ed25519 secret whose public half does not match its seed.
    #[error("the public half does not match the secret key")]
    Inconsistent,
}

/// Makes a fresh random local key.
pub fn generate_local() -> LocalMaterial {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::fill(&mut bytes[..]);
    LocalMaterial::from_bytes(&bytes[..]).expect("32 bytes is a valid key")
}

/// Makes a fresh Ed25519 key and returns its `k4.secret.` PASERK.
pub fn generate_ed25519_paserk() -> Zeroizing<String> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rand::fill(&mut seed[..]);
    ed25519_paserk_from_seed(&seed)
}

/// The `k4.secret.` PASERK of the Ed25519 key with this seed: fixed keys for
/// the fuzz targets' keyring.
pub(crate) fn ed25519_paserk_from_seed(seed: &[u8; 32]) -> Zeroizing<String> {
    let signing = Ed25519Key::from_bytes(seed);
    let mut keypair = Zeroizing::new([0u8; 64]);
    keypair[..32].copy_from_slice(seed);
    keypair[32..].copy_from_slice(&signing.verifying_key().to_bytes());
    let secret = AsymmetricSecretKey::<V4>::from(&keypair[..]).expect("64 bytes is a valid key");
    Zeroizing::new(paserk_string(&secret))
}

fn paserk_string(value: &dyn FormatAsPaserk) -> String {
    let mut out = String::new();
    value
        .fmt(&mut out)
        .expect("formatting to a String cannot fail");
    out
}
