//! The `[token]` section of config.toml: the format, the JWT algorithm, the
//! audience and issuer, and the lifetimes.

use serde::Deserialize;

use crate::expiry::Expiry;

/// The token format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// PASETO v4.local.
    Paseto,
    /// A JWS (EdDSA or HS256) whose cart claim is encrypted.
    Jwt,
}

/// The JWT signature algorithms on offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum JwtAlgorithm {
    /// Ed25519: verifiers need only the public key, from the JWKS.
    EdDSA,
    /// HMAC-SHA256: cheaper, but every verifier can also forge.
    HS256,
}

impl From<JwtAlgorithm> for jsonwebtoken::Algorithm {
    fn from(a: JwtAlgorithm) -> Self {
        match a {
            JwtAlgorithm::EdDSA => Self::EdDSA,
            JwtAlgorithm::HS256 => Self::HS256,
        }
    }
}

/// The `[token]` section of config.toml.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    /// The format of sealed tokens.
    pub format: Format,
    /// The JWT signature algorithm.
    pub jwt_algorithm: JwtAlgorithm,
    /// Bound into every token: PASETO implicit assertion, JWT `aud`.
    pub audience: String,
    /// JWT `iss`.
    pub issuer: String,
    /// Idle lifetime; `exp` slides on every write.
    pub idle_ttl_secs: u64,
    /// Absolute lifetime from the cart's creation.
    pub absolute_ttl_secs: u64,
    /// Clock skew tolerated between replicas.
    pub leeway_secs: u64,
    /// Re-seal a token read this close to its idle expiry.
    pub reseal_within_secs: u64,
    /// Deflate level, 0..=9.
    pub compression_level: u32,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            format: Format::Paseto,
            jwt_algorithm: JwtAlgorithm::EdDSA,
            audience: "cartseal-dev".into(),
            issuer: "cartseal".into(),
            idle_ttl_secs: 7 * 24 * 3600,
            absolute_ttl_secs: 30 * 24 * 3600,
            leeway_secs: 60,
            reseal_within_secs: 24 * 3600,
            compression_level: 6,
        }
    }
}

impl TokenConfig {
    /// The expiry policy these settings give, for every store.
    pub fn expiry(&self) -> Expiry {
        Expiry::new(
            self.idle_ttl_secs,
            self.absolute_ttl_secs,
            self.leeway_secs,
            self.reseal_within_secs,
        )
    }

    /// Checks the values; one line per problem.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.audience.is_empty() || self.audience.len() > 128 {
            problems.push("token.audience must be 1 to 128 characters".into());
        }
        if self.issuer.is_empty() || self.issuer.len() > 128 {
            problems.push("token.issuer must be 1 to 128 characters".into());
        }
        if self.idle_ttl_secs < 60 {
            problems.push("token.idle_ttl_secs must be at least 60".into());
        }
        if self.absolute_ttl_secs < self.idle_ttl_secs {
            problems.push("token.absolute_ttl_secs must be at least token.idle_ttl_secs".into());
        }
        if self.absolute_ttl_secs > 400 * 24 * 3600 {
            problems.push(
                "token.absolute_ttl_secs must be at most 400 days (the cookie Max-Age ceiling)"
                    .into(),
            );
        }
        if self.leeway_secs > 3600 {
            problems.push("token.leeway_secs must be at most 3600".into());
        }
        if self.reseal_within_secs >= self.idle_ttl_secs {
            problems.push("token.reseal_within_secs must be less than token.idle_ttl_secs".into());
        }
        if self.compression_level > 9 {
            problems.push("token.compression_level must be 0..=9".into());
        }
        problems
    }
}
