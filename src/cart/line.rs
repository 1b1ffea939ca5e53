//! The parts of a cart line, each parsed at the edge into a type that cannot
//! hold an invalid value.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use std::hash::Hasher;

use fnv::FnvHasher;
use serde::Serialize;

use super::rules::{
    check_property_count, check_property_key, check_property_value, check_sku, normalized,
};
use super::{CartError, Limits};

/// A stock-keeping unit: 1 to `limits.sku_max_chars` of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    /// Parses a sku under the given limits.
    pub fn parse(raw: &str, limits: &Limits) -> Result<Self, CartError> {
        check_sku(raw, limits)?;
        Ok(Self(raw.to_owned()))
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
    /// values in Unicode NFC ([`normalized`]), without control or
    /// format characters or line and paragraph separators.
    pub fn parse(mut raw: BTreeMap<String, String>, limits: &Limits) -> Result<Self, CartError> {
        check_property_count(raw.len(), limits)?;
        for (key, value) in &mut raw {
            check_property_key(key, limits)?;
            if let Cow::Owned(normal) = normalized(value) {
                *value = normal;
            }
            check_property_value(value, limits)?;
        }
        Ok(Self(raw))
    }

    /// True when there are no properties.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key/value pairs, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
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
    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&Line> for LineKey {
    fn from(line: &Line) -> Self {
        Self(line.key().to_owned())
    }
}

impl fmt::Display for LineKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Appends `~` and the 12 hex digits of the properties' hash to `out`.
fn push_key_suffix<'a>(out: &mut String, properties: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut hasher = FnvHasher::default();
    for (key, value) in properties {
        // Keys cannot contain NUL and values cannot contain control
        // characters, so NUL separators make the encoding unambiguous.
        for part in [key.as_bytes(), b"\0", value.as_bytes(), b"\0"] {
            hasher.write(part);
        }
    }
    let digest = (hasher.finish() >> 16).to_be_bytes();
    out.push('~');
    // A table, not `format!`: one allocation per byte made hex the largest
    // cost of opening a 20-line cart (benches/codec/main.rs).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in &digest[2..] {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
}

thread_local! {
    /// Where [`Line::pack`] writes a line's text before it is shared.
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// One cart line. Prices and titles are not here: they come from the catalog
/// when the cart is read, so a replayed token cannot bring back an old price.
///
/// A line is packed into one allocation (docs/architecture.md, "The cart in
/// memory"): its text is the sku, then, when it has properties, `~` and the
/// hash that makes the rest of its key, then each property as
/// `NUL key NUL value`, sorted by key. Its sku and key are prefixes of that
/// text, so a line holds no map and no string of its own, and two lines
/// stand for the same item exactly when their texts are equal. The text is
/// shared (`Arc`): a write copies the cart's list of lines, never their
/// text, so it clones only what it changes.
#[derive(Clone, PartialEq, Eq)]
pub struct Line {
    text: Arc<str>,
    /// The sku is `text[..sku_len]` (at most 256 bytes: `Limits::validate`).
    sku_len: u16,
    /// The key is `text[..key_len]`; properties follow it.
    key_len: u16,
    quantity: Quantity,
}

impl Line {
    /// Parses a line from its parts as a client gives them: the one way
    /// raw text from a request becomes a line.
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
        Self::pack(sku.as_str(), quantity, properties.iter())
    }

    /// The line from parts that are already checked: `properties` sorted by
    /// key, with distinct keys.
    pub(super) fn pack<'a>(
        sku: &str,
        quantity: Quantity,
        properties: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Self {
        let has_properties = properties.clone().next().is_some();
        let key_len = sku.len() + if has_properties { 13 } else { 0 };
        // Written into this thread's scratch string, then copied once into
        // the line's own allocation.
        let text = SCRATCH.with_borrow_mut(|text| {
            text.clear();
            text.push_str(sku);
            if has_properties {
                push_key_suffix(text, properties.clone());
                for (key, value) in properties {
                    text.push('\0');
                    text.push_str(key);
                    text.push('\0');
                    text.push_str(value);
                }
            }
            Arc::<str>::from(text.as_str())
        });
        Self {
            text,
            sku_len: u16::try_from(sku.len()).expect("a sku is at most 256 bytes"),
            key_len: u16::try_from(key_len).expect("a key is at most 269 bytes"),
            quantity,
        }
    }

    /// The line's sku.
    pub fn sku(&self) -> &str {
        &self.text[..usize::from(self.sku_len)]
    }

    /// The line's quantity.
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// The line's properties.
    pub fn properties(&self) -> PropertiesRef<'_> {
        PropertiesRef(&self.text[usize::from(self.key_len)..])
    }

    /// The line's stable key ([`LineKey`]).
    pub fn key(&self) -> &str {
        &self.text[..usize::from(self.key_len)]
    }

    /// True when `other` is the same item (sku and properties), whatever
    /// the quantities.
    pub fn same_item(&self, other: &Line) -> bool {
        self.text == other.text
    }

    /// The same item at another quantity.
    pub fn with_quantity(&self, quantity: Quantity) -> Self {
        Self {
            quantity,
            ..self.clone()
        }
    }

    /// The heap bytes the line holds besides its slot: its text and the
    /// `Arc`'s two counters.
    pub(super) fn heap_bytes(&self) -> usize {
        self.text.len() + 2 * std::mem::size_of::<usize>()
    }

    /// True when the two lines share one text allocation.
    #[cfg(test)]
    pub(super) fn shares_text_with(&self, other: &Line) -> bool {
        Arc::ptr_eq(&self.text, &other.text)
    }

    pub(super) fn set_quantity(&mut self, quantity: Quantity) {
        self.quantity = quantity;
    }
}

impl fmt::Debug for Line {
    // Only tests print lines; logs never do (docs/security.md).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Line")
            .field("sku", &self.sku())
            .field("quantity", &self.quantity.0)
            .field("properties", &self.properties())
            .finish()
    }
}

/// A line's properties, borrowed from the line: sorted by key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PropertiesRef<'a>(
    /// `NUL key NUL value` for each property, or empty.
    &'a str,
);

impl<'a> PropertiesRef<'a> {
    /// True when there are no properties.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key/value pairs, sorted by key.
    ///
    /// A byte loop, not `split('\0')`: parts are a few bytes long, and
    /// the general searcher's set-up per part showed in a profile of the
    /// service (each response writes every line's properties).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        // `\0key\0value` per property; NUL is one byte and is never inside
        // a key or a value, so every cut is at a character boundary.
        let mut rest = self.0;
        std::iter::from_fn(move || {
            let pair = rest.strip_prefix('\0')?;
            let key_len = pair.bytes().position(|b| b == 0)?;
            let value = &pair[key_len + 1..];
            let value_len = value.bytes().position(|b| b == 0).unwrap_or(value.len());
            rest = &value[value_len..];
            Some((&pair[..key_len], &value[..value_len]))
        })
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.iter().count()
    }
}

impl fmt::Debug for PropertiesRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for PropertiesRef<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}
