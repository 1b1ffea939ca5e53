//! Every size limit of the service, in one place: the configurable ones in
//! [`Limits`] (the `[limits]` section of config.toml, where each default is
//! explained), and the fixed ones as constants below.
//!
//! Each limit is checked at the edge, before the bytes it bounds are
//! decoded: header sizes before a credential is read, the token length
//! before it is parsed, the body length before it is read, the inflated size
//! while a cart is inflated (docs/architecture.md, "The request path").

use serde::Deserialize;

/// A Set-Cookie `name=value` must stay within 4,096 bytes for browsers to keep
/// it; `__Host-cart=` takes 12 of them.
pub const COOKIE_BUDGET: usize = 4096 - "__Host-cart=".len();

/// A PASETO footer longer than this cannot be one of ours (`{"kid":"k4.lid.…"}`
/// is 63 bytes): it is refused before it is parsed.
pub const MAX_FOOTER_BYTES: usize = 96;

/// The longest `jti` a token may carry. Ours are 22 characters
/// ([`crate::ids::random`]); the slack keeps tokens of a future id scheme
/// readable.
pub const MAX_JTI_CHARS: usize = 64;

/// The configurable limits. Defaults are the secure ones. Imported as
/// `cart::Limits`, its one path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_limits_are_valid_and_each_bad_value_is_named() {
        assert_eq!(Limits::default().validate(), Vec::<String>::new());
        let with = |change: fn(&mut Limits)| {
            let mut limits = Limits::default();
            change(&mut limits);
            limits
        };
        let cases: [(&str, Limits); 6] = [
            ("limits.token_max_chars", with(|l| l.token_max_chars = 5000)),
            ("limits.token_max_chars", with(|l| l.token_max_chars = 100)),
            (
                "limits.header_max_bytes",
                with(|l| l.header_max_bytes = 3800),
            ),
            ("limits.max_lines", with(|l| l.max_lines = 0)),
            ("limits.max_quantity", with(|l| l.max_quantity = 0)),
            (
                "limits.max_inflate_ratio",
                with(|l| l.max_inflate_ratio = 1),
            ),
        ];
        for (name, bad) in cases {
            let problems = bad.validate();
            assert_eq!(problems.len(), 1, "{name}: {problems:?}");
            assert!(problems[0].starts_with(name), "{name}: {problems:?}");
        }
    }
}
