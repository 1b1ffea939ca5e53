//! The parts of a cart line, each parsed at the edge into a type that cannot
//! hold an invalid value.

use std::collections::BTreeMap;
use std::fmt;

use std::hash::Hasher;

use fnv::FnvHasher;
use serde::Serialize;

use super::{CartError, Limits};

/// A stock-keeping unit: 1 to `limits.sku_max_chars` of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    /// Parses a sku under the given limits.
    pub fn parse(raw: &str, limits: &Limits) -> Result<Self, CartError> {
        let ok = !raw.is_empty()
            && raw.len() <= limits.sku_max_chars
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(CartError::Invalid(format!(
                "sku must be 1 to {} characters of A-Z a-z 0-9 . _ -",
                limits.sku_max_chars
            )))
        }
    }

    /// The sku as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A line quantity: 1 to `limits.max_quantity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    /// Parses a quantity under the given limits. Zero is not a quantity: the
    /// operations that accept zero treat it as "remove".
    pub fn parse(raw: i64, limits: &Limits) -> Result<Self, CartError> {
        match u32::try_from(raw) {
            Ok(q) if (1..=limits.max_quantity).contains(&q) => Ok(Self(q)),
            _ => Err(CartError::Invalid(format!(
                "quantity must be 1 to {}",
                limits.max_quantity
            ))),
        }
    }

    /// The quantity as a number.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Line properties (size, colour, engraving...): a few short key/value pairs,
/// kept sorted so that equal properties always serialize the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Properties(BTreeMap<String, String>);

impl Properties {
    /// Parses properties under the given limits: keys of `[A-Za-z0-9_-]`;
    /// values in Unicode NFC ([`normalize_value`]), without control or
    /// format characters or line and paragraph separators.
    pub fn parse(mut raw: BTreeMap<String, String>, limits: &Limits) -> Result<Self, CartError> {
        if raw.len() > limits.max_properties {
            return Err(CartError::Invalid(format!(
                "at most {} properties per line",
                limits.max_properties
            )));
        }
        for (key, value) in &mut raw {
            let key_ok = !key.is_empty()
                && key.len() <= limits.property_key_max_bytes
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
            if !key_ok {
                return Err(CartError::Invalid(format!(
                    "property keys must be 1 to {} bytes of A-Z a-z 0-9 _ -",
                    limits.property_key_max_bytes
                )));
            }
            normalize_value(value);
            if value.len() > limits.property_value_max_bytes || !value.chars().all(is_allowed) {
                return Err(CartError::Invalid(format!(
                    "property values must be at most {} bytes, without control or format characters or line separators",
                    limits.property_value_max_bytes
                )));
            }
        }
        Ok(Self(raw))
    }

    /// True when there are no properties.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key/value pairs, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Brings a property value to Unicode Normalization Form C, so that text
/// that looks the same is the same line whichever keyboard typed it (an
/// `é` as one code point or as `e` and a combining accent). ASCII, the
/// common case, is NFC already and costs one scan.
fn normalize_value(value: &mut String) {
    use unicode_normalization::{UnicodeNormalization, is_nfc};
    if !value.is_ascii() && !is_nfc(value) {
        *value = value.nfc().collect();
    }
}

/// True for the characters a property value may hold. Control characters,
/// format characters (bidi overrides and isolates, zero-width spaces and
/// joiners, the byte order mark) and line and paragraph separators are
/// refused: they make text display otherwise than it reads, on a receipt or
/// an engraving order.
fn is_allowed(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    if c.is_ascii() {
        return !c.is_ascii_control();
    }
    !matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// The stable key of a line, derived from its sku and properties: the sku
/// alone when there are no properties, else the sku, `~`, and 12 hex digits
/// (the top 48 bits) of the FNV-1a 64 hash of the properties. It is URL-safe,
/// so it serves as the `{line}` path segment.
///
/// FNV-1a, not a cryptographic hash: the key only tells apart the lines of
/// one cart, which its own client chose, and a BLAKE2b per line was a tenth
/// of the cost of opening a 20-line cart. FNV-1a is fixed by its
/// specification, so keys are stable across versions and replicas.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct LineKey(String);

impl LineKey {
    fn derive(sku: &Sku, properties: &Properties) -> Self {
        if properties.is_empty() {
            return Self(sku.0.clone());
        }
        let mut hasher = FnvHasher::default();
        for (key, value) in properties.iter() {
            // Keys cannot contain NUL and values cannot contain control
            // characters, so NUL separators make the encoding unambiguous.
            for part in [key.as_bytes(), b"\0", value.as_bytes(), b"\0"] {
                hasher.write(part);
            }
        }
        let digest = (hasher.finish() >> 16).to_be_bytes();
        let mut key = String::with_capacity(sku.0.len() + 13);
        key.push_str(&sku.0);
        key.push('~');
        // A table, not `format!`: one allocation per byte made hex the
        // largest cost of opening a 20-line cart (benches/codec.rs).
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for byte in &digest[2..] {
            key.push(char::from(HEX[usize::from(byte >> 4)]));
            key.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Self(key)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One cart line. Prices and titles are not here: they come from the catalog
/// when the cart is read, so a replayed token cannot bring back an old price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    sku: Sku,
    quantity: Quantity,
    properties: Properties,
    key: LineKey,
}

impl Line {
    /// Parses a line from its parts as a client or a token gives them: the
    /// one way raw text becomes a line.
    pub fn parse(
        sku: &str,
        quantity: i64,
        properties: BTreeMap<String, String>,
        limits: &Limits,
    ) -> Result<Self, CartError> {
        Ok(Self::new(
            Sku::parse(sku, limits)?,
            Quantity::parse(quantity, limits)?,
            Properties::parse(properties, limits)?,
        ))
    }

    /// A line of `quantity` times `sku` with `properties`.
    pub fn new(sku: Sku, quantity: Quantity, properties: Properties) -> Self {
        let key = LineKey::derive(&sku, &properties);
        Self {
            sku,
            quantity,
            properties,
            key,
        }
    }

    /// The line's sku.
    pub fn sku(&self) -> &Sku {
        &self.sku
    }

    /// The line's quantity.
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// The line's properties.
    pub fn properties(&self) -> &Properties {
        &self.properties
    }

    /// The line's stable key.
    pub fn key(&self) -> &LineKey {
        &self.key
    }

    pub(super) fn set_quantity(&mut self, quantity: Quantity) {
        self.quantity = quantity;
    }
}
