//! Every size limit of the service, in one place.

use serde::Deserialize;

/// The limits of DESIGN section 6. Defaults are the secure ones, and each is
/// explained in `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest token accepted or issued, in characters.
    pub token_max_chars: usize,
    /// Longest `Authorization` or `Cookie` header accepted, in bytes.
    pub header_max_bytes: usize,
    /// Longest JSON request body accepted, in bytes.
    pub body_max_bytes: usize,
    /// Most lines in one cart.
    pub max_lines: usize,
    /// Largest quantity of one line.
    pub max_quantity: u32,
    /// Longest sku, in characters.
    pub sku_max_chars: usize,
    /// Most properties on one line.
    pub max_properties: usize,
    /// Longest property key, in bytes.
    pub property_key_max_bytes: usize,
    /// Longest property value, in bytes.
    pub property_value_max_bytes: usize,
    /// Most bytes a token's cart may inflate to.
    pub max_inflated_bytes: usize,
    /// Most a token's cart may inflate relative to its compressed size.
    pub max_inflate_ratio: usize,
}

/// A Set-Cookie `name=value` must stay within 4,096 bytes for browsers to keep
/// it; `__Host-cart=` takes 12 of them.
pub const COOKIE_BUDGET: usize = 4096 - "__Host-cart=".len();

impl Default for Limits {
    fn default() -> Self {
        Self {
            token_max_chars: 3800,
            header_max_bytes: 8192,
            body_max_bytes: 16 * 1024,
            max_lines: 100,
            max_quantity: 999,
            sku_max_chars: 64,
            max_properties: 5,
            property_key_max_bytes: 32,
            property_value_max_bytes: 256,
            max_inflated_bytes: 64 * 1024,
            max_inflate_ratio: 200,
        }
    }
}

impl Limits {
    /// The most bytes a compressed cart of `packed_len` bytes may inflate to:
    /// `max_inflated_bytes`, and no more than `max_inflate_ratio` times its
    /// compressed size. Opening enforces it and sealing checks it, so that a
    /// cart is never sealed in a form it could not be opened from.
    pub fn inflate_cap(&self, packed_len: usize) -> usize {
        self.max_inflated_bytes
            .min(packed_len.saturating_mul(self.max_inflate_ratio))
    }

    /// Checks the limits against each other; one line per problem.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, msg: String| {
            if !ok {
                problems.push(msg);
            }
        };
        check(
            (200..=COOKIE_BUDGET).contains(&self.token_max_chars),
            format!(
                "limits.token_max_chars must be 200..={COOKIE_BUDGET} so that the cookie fits in 4,096 bytes"
            ),
        );
        check(
            self.header_max_bytes >= self.token_max_chars + 64,
            "limits.header_max_bytes must leave room for a token of limits.token_max_chars".into(),
        );
        check(
            self.body_max_bytes >= 256,
            "limits.body_max_bytes must be at least 256".into(),
        );
        check(
            self.max_lines >= 1,
            "limits.max_lines must be at least 1".into(),
        );
        check(
            (1..=1_000_000).contains(&self.max_quantity),
            "limits.max_quantity must be 1..=1000000".into(),
        );
        check(
            (1..=256).contains(&self.sku_max_chars),
            "limits.sku_max_chars must be 1..=256".into(),
        );
        check(
            self.property_key_max_bytes >= 1,
            "limits.property_key_max_bytes must be at least 1".into(),
        );
        check(
            self.max_inflated_bytes >= 1024,
            "limits.max_inflated_bytes must be at least 1024".into(),
        );
        check(
            self.max_inflate_ratio >= 2,
            "limits.max_inflate_ratio must be at least 2".into(),
        );
        problems
    }
}
