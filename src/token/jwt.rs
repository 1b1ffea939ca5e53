//! The `jwt` format: a JWS (EdDSA by default, HS256 on request) whose cart
//! is an encrypted claim, for deployments whose gateways speak JWT.
//!
//! Gateways can check the signature, `iss`, `aud` and `exp` through
//! `GET /.well-known/jwks.json` without being able to read the cart: the
//! `ct` claim is base64url(nonce ‖ XChaCha20-Poly1305(deflate(cart))), keyed
//! by a subkey of the active local key and bound, as associated data, to the
//! format version, audience, issuer, `jti`, `abs` and `ckid` (the local
//! key's id) with PASETO's PAE. The header's `typ` is `cart+jwt`.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Header, Validation};
use orion::hazardous::aead::xchacha20poly1305::{Nonce, XChaCha20Poly1305};
use serde::{Deserialize, Serialize};

use super::payload;
use super::{
    InvalidReason, Lifetimes, OpenError, Opened, ResealReason, SealError, SealInput, TokenCodec,
    pack,
};
use crate::base64url;
use crate::keys::{KeyState, Keyring};
use crate::limits::MAX_JTI_CHARS;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The `typ` header of every token of this format: explicit typing (RFC 8725
/// §3.11), so that no other JWT signed with the same key is taken for a
/// cart token, and no cart token for another kind of JWT.
pub const TYP: &str = "cart+jwt";

/// The payload version (`v`) of this format. Version 2 binds the cart claim
/// to `v`, `aud`, `iss`, `jti`, `abs` and `ckid` with PAE; version 1 bound
/// only audience and jti, so anyone holding the signing key (every HS256
/// verifier) could re-wrap a captured `ct` with a later `abs`. Version 1
/// tokens are refused.
pub const VERSION: u8 = 2;

/// The label that starts the cart claim's associated data.
const AD_LABEL: &[u8] = b"cartseal:jwt-cart";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Claims {
    iss: String,
    aud: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    v: u8,
    abs: i64,
    rev: u64,
    ckid: String,
    ct: String,
}

/// What the cart claim is bound to besides its key.
pub(crate) struct Binding<'a> {
    pub audience: &'a str,
    pub issuer: &'a str,
    pub jti: &'a str,
    pub absolute_expiry: i64,
    pub ckid: &'a str,
}

impl Binding<'_> {
    /// The associated data of the cart claim: PASETO's pre-authentication
    /// encoding of the label, the version and the bound claims (numbers in
    /// decimal), which no two different bindings share.
    pub(crate) fn associated_data(&self) -> Vec<u8> {
        pae(&[
            AD_LABEL,
            VERSION.to_string().as_bytes(),
            self.audience.as_bytes(),
            self.issuer.as_bytes(),
            self.jti.as_bytes(),
            self.absolute_expiry.to_string().as_bytes(),
            self.ckid.as_bytes(),
        ])
    }
}

/// PASETO's pre-authentication encoding (PAE): the count of pieces, then
/// each piece's length and bytes, every number as a little-endian u64 with
/// its top bit clear. pasetors keeps its own private.
pub(crate) fn pae(pieces: &[&[u8]]) -> Vec<u8> {
    let le64 = |n: usize| ((n as u64) & (u64::MAX >> 1)).to_le_bytes();
    let mut out = Vec::with_capacity(8 + pieces.iter().map(|p| 8 + p.len()).sum::<usize>());
    out.extend_from_slice(&le64(pieces.len()));
    for piece in pieces {
        out.extend_from_slice(&le64(piece.len()));
        out.extend_from_slice(piece);
    }
    out
}

/// Seals a JWT. `nonce` is fixed only by known-answer tests.
pub(crate) fn seal(
    codec: &TokenCodec,
    ring: &Keyring,
    input: &SealInput<'_>,
    nonce: Option<[u8; NONCE_LEN]>,
) -> Result<String, SealError> {
    let signing = ring.active_signing().ok_or(SealError::NoKey)?;
    let local = ring.active_local();
    let nonce = nonce.unwrap_or_else(rand::random);

    let packed = pack(
        &input.cart.to_compact_json(),
        codec.config().compression_level,
        codec.limits(),
    )?;
    let config = codec.config();
    let binding = Binding {
        audience: &config.audience,
        issuer: &config.issuer,
        jti: input.jti,
        absolute_expiry: input.lifetimes.absolute_expiry,
        ckid: local.material.kid(),
    };
    let mut sealed = vec![0u8; NONCE_LEN + packed.len() + TAG_LEN];
    sealed[..NONCE_LEN].copy_from_slice(&nonce);
    XChaCha20Poly1305::seal(
        &local.material.jwt_cart,
        &Nonce::try_from(&nonce).map_err(|_| SealError::NoKey)?,
        &packed,
        Some(&binding.associated_data()),
        &mut sealed[NONCE_LEN..],
    )
    .map_err(|_| SealError::NoKey)?;

    let claims = Claims {
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        iat: input.lifetimes.issued_at,
        nbf: input.lifetimes.not_before,
        exp: input.lifetimes.expires_at,
        jti: input.jti.to_owned(),
        v: VERSION,
        abs: input.lifetimes.absolute_expiry,
        rev: input.revision,
        ckid: local.material.kid().to_owned(),
        ct: base64url::encode(&sealed),
    };
    let mut header = Header::new(signing.material.algorithm());
    header.typ = Some(TYP.to_owned());
    header.kid = Some(signing.material.kid().to_owned());
    jsonwebtoken::encode(&header, &claims, signing.material.encoding())
        .map_err(|_| SealError::NoKey)
}

pub(super) fn open(codec: &TokenCodec, token: &str) -> Result<Opened, OpenError> {
    let invalid = OpenError::Invalid;
    // Step 2: three canonical base64url segments.
    let segments: Vec<&str> = token.split('.').collect();
    if segments.len() != 3
        || segments
            .iter()
            .any(|s| s.is_empty() || !base64url::is_canonical(s))
    {
        return Err(invalid(if token.starts_with("v") {
            InvalidReason::Header
        } else {
            InvalidReason::Format
        }));
    }
    // Step 3: the untrusted header names the key; the algorithm is pinned.
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid(InvalidReason::Header))?;
    let algorithm: jsonwebtoken::Algorithm = codec.config().jwt_algorithm.into();
    if header.alg != algorithm
        || header.jku.is_some()
        || header.jwk.is_some()
        || header.x5u.is_some()
        || header.x5c.is_some()
        || header.cty.is_some()
        || !header
            .typ
            .as_deref()
            .is_some_and(|typ| typ.eq_ignore_ascii_case(TYP))
    {
        return Err(invalid(InvalidReason::Header));
    }
    let kid = header.kid.ok_or(invalid(InvalidReason::Kid))?;

    // Step 4: the signing key by exact kid.
    let ring = codec.keys().load();
    let signing = ring
        .signing_by_kid(&kid)
        .ok_or(invalid(InvalidReason::UnknownKey))?;
    if !signing.state.opens() {
        return Err(invalid(InvalidReason::RetiredKey));
    }

    // Step 5: the signature, with the algorithm pinned. Times are checked by
    // the codec with its own clock and leeway; their presence and types here.
    let mut validation = Validation::new(algorithm);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
    validation.set_audience(&[&codec.config().audience]);
    validation.set_issuer(&[&codec.config().issuer]);
    #[cfg(test)]
    super::crypto_calls::count();
    let data = jsonwebtoken::decode::<Claims>(token, signing.material.decoding(), &validation)
        .map_err(|e| {
            invalid(match e.kind() {
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidEddsaKey => InvalidReason::Crypto,
                ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => InvalidReason::Audience,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    InvalidReason::Header
                }
                _ => InvalidReason::Payload,
            })
        })?;
    let claims = data.claims;
    if claims.v != VERSION || claims.jti.is_empty() || claims.jti.len() > MAX_JTI_CHARS {
        return Err(invalid(InvalidReason::Payload));
    }

    // The cart claim: its own key, by exact kid, then the AEAD.
    let local = ring
        .local_by_kid(&claims.ckid)
        .ok_or(invalid(InvalidReason::UnknownKey))?;
    if !local.state.opens() {
        return Err(invalid(InvalidReason::RetiredKey));
    }
    let sealed = base64url::decode(&claims.ct).ok_or(invalid(InvalidReason::Payload))?;
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(invalid(InvalidReason::Payload));
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let mut packed = vec![0u8; ciphertext.len() - TAG_LEN];
    let nonce = Nonce::try_from(nonce).map_err(|_| invalid(InvalidReason::Payload))?;
    XChaCha20Poly1305::open(
        &local.material.jwt_cart,
        &nonce,
        ciphertext,
        Some(
            &Binding {
                audience: &codec.config().audience,
                issuer: &codec.config().issuer,
                jti: &claims.jti,
                absolute_expiry: claims.abs,
                ckid: &claims.ckid,
            }
            .associated_data(),
        ),
        &mut packed,
    )
    .map_err(|_| invalid(InvalidReason::Crypto))?;

    // Steps 6 and 7.
    let json = payload::inflate(&packed, codec.limits())?;
    let cart = crate::cart::Cart::from_compact_json(&json, codec.limits())
        .map_err(|_| invalid(InvalidReason::Payload))?;
    let all_active = signing.state == KeyState::Active && local.state == KeyState::Active;
    Ok(Opened {
        cart: std::sync::Arc::new(cart),
        revision: claims.rev,
        lifetimes: Lifetimes {
            issued_at: claims.iat,
            not_before: claims.nbf,
            expires_at: claims.exp,
            absolute_expiry: claims.abs,
        },
        jti: claims.jti,
        key_id: signing.id.clone(),
        key_state: signing.state,
        cart_key_id: Some(local.id.clone()),
        reseal: (!all_active).then_some(ResealReason::KeyNotActive),
        generation: ring.generation(),
    })
}
