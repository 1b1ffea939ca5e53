//! The compact form of a cart (`[[sku, quantity, {properties}?], …]`), both
//! ways, without an intermediate value.
//!
//! Opening a token ends here, so the parse does the least it can: it reads
//! each line's strings borrowed from the inflated bytes (copied only when
//! the JSON escaped them), checks them, and packs the line into its one
//! allocation ([`Line`]). Nothing is built only to be dropped.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::rules::{
    check_property_count, check_property_key, check_property_value, check_sku, normalized,
};
use super::{Cart, CartError, Limits, Line, PropertiesRef, Quantity};

impl Cart {
    /// Serializes the cart in its compact form.
    pub fn to_compact_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.lines.iter().map(|l| l.heap_bytes() + 16).sum());
        out.push(b'[');
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'[');
            push_json_str(&mut out, line.sku());
            out.push(b',');
            push_u64(&mut out, u64::from(line.quantity().get()));
            let properties = line.properties();
            if !properties.is_empty() {
                out.push(b',');
                push_json_object(&mut out, properties);
            }
            out.push(b']');
        }
        out.push(b']');
        out
    }

    /// Parses a cart from its compact form, checking every line against the
    /// limits, as strictly as a request: a token's cart is trusted only as
    /// far as what it can hold.
    ///
    /// The form this crate writes (no whitespace, no escapes) is read by a
    /// direct scan ([`super::scan`]); anything else that is still JSON, by
    /// serde_json. Both give the same cart or the same refusal.
    pub fn from_compact_json(bytes: &[u8], limits: &Limits) -> Result<Self, CartError> {
        if let Some(scanned) = super::scan::canonical(bytes, limits) {
            return scanned;
        }
        Self::from_any_json(bytes, limits)
    }

    /// [`Cart::from_compact_json`] through serde_json alone: any JSON
    /// spelling of the compact form.
    pub fn from_any_json(bytes: &[u8], limits: &Limits) -> Result<Self, CartError> {
        let refused = RefCell::new(None);
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let parsed = CartSeed {
            limits,
            refused: &refused,
        }
        .deserialize(&mut de)
        .and_then(|cart| de.end().map(|()| cart));
        parsed.map_err(|_| {
            refused
                .into_inner()
                .unwrap_or_else(|| CartError::Invalid("malformed cart".into()))
        })
    }
}

/// Appends `text` as a JSON string. Skus, keys and most property values
/// need no escape, and are copied as they are; anything else goes through
/// serde_json, which escapes exactly `"`, `\` and control characters.
pub(crate) fn push_json_str(out: &mut Vec<u8>, text: &str) {
    if text.bytes().any(is_json_special) {
        serde_json::to_writer(&mut *out, text).expect("a string always serializes");
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
}

/// True for the bytes a JSON string cannot hold as they are: the quote, the
/// backslash and control characters. The writer escapes them; the scan of
/// the canonical spelling ([`super::scan`]) stops at them.
pub(super) fn is_json_special(b: u8) -> bool {
    b == b'"' || b == b'\\' || b < 0x20
}

/// Appends properties as a JSON object, in their order (sorted by key).
pub(crate) fn push_json_object(out: &mut Vec<u8>, properties: PropertiesRef<'_>) {
    out.push(b'{');
    for (i, (key, value)) in properties.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, key);
        out.push(b':');
        push_json_str(out, value);
    }
    out.push(b'}');
}

/// Appends a number in decimal, without `format!`.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

impl Serialize for Cart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.lines.len()))?;
        for line in &self.lines {
            if line.properties().is_empty() {
                seq.serialize_element(&(line.sku(), line.quantity()))?;
            } else {
                seq.serialize_element(&(line.sku(), line.quantity(), line.properties()))?;
            }
        }
        seq.end()
    }
}

/// The whole cart. A check that fails keeps its own error in `refused`,
/// so that the caller reports it rather than serde's.
struct CartSeed<'l> {
    limits: &'l Limits,
    refused: &'l RefCell<Option<CartError>>,
}

impl<'de> DeserializeSeed<'de> for CartSeed<'_> {
    type Value = Cart;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cart, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CartSeed<'_> {
    type Value = Cart;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of lines")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cart, A::Error> {
        let mut lines = Lines::new(self.limits, seq.size_hint());
        // One scratch list of properties, reused by every line.
        let mut scratch: Vec<(Cow<'de, str>, Cow<'de, str>)> = Vec::new();
        while let Some(raw) = seq.next_element_seed(RawLineSeed {
            properties: &mut scratch,
        })? {
            if let Err(e) = lines.push(raw, &mut scratch) {
                *self.refused.borrow_mut() = Some(e);
                return Err(de::Error::custom("refused line"));
            }
        }
        Ok(lines.into_cart())
    }
}

/// The lines of a cart being parsed, checked one by one as they come:
/// every rule of [`Line::parse`], no duplicate line, at most
/// `limits.max_lines`. Both parsers build the cart through it.
pub(super) struct Lines<'l> {
    limits: &'l Limits,
    cart: Cart,
    /// A short hash of each key so far: a duplicate is looked for among
    /// equal hashes only, not by comparing every pair of keys.
    hashes: Vec<u64>,
}

impl<'l> Lines<'l> {
    pub(super) fn new(limits: &'l Limits, size_hint: Option<usize>) -> Self {
        let capacity = size_hint.unwrap_or(8).min(limits.max_lines);
        Self {
            limits,
            cart: Cart {
                lines: Vec::with_capacity(capacity),
            },
            hashes: Vec::with_capacity(capacity),
        }
    }

    /// Checks one more line, with its properties in `properties`.
    pub(super) fn push<'de>(
        &mut self,
        raw: RawLine<'de>,
        properties: &mut [(Cow<'de, str>, Cow<'de, str>)],
    ) -> Result<(), CartError> {
        let line = check_line(raw, properties, self.limits)?;
        let hash = key_hash(line.key());
        let duplicate = self
            .hashes
            .iter()
            .zip(&self.cart.lines)
            .any(|(h, other)| *h == hash && other.key() == line.key());
        if duplicate {
            return Err(CartError::Invalid("duplicate line".into()));
        }
        if self.cart.lines.len() >= self.limits.max_lines {
            return Err(CartError::TooManyLines {
                max: self.limits.max_lines,
            });
        }
        self.hashes.push(hash);
        self.cart.lines.push(line);
        Ok(())
    }

    pub(super) fn into_cart(self) -> Cart {
        self.cart
    }
}

/// A short hash of a line key, to tell most keys apart without comparing
/// them. Only this parse sees it, so it need not be stable, only quick:
/// foldhash reads eight bytes a step, where the FNV-1a of the line key's
/// own suffix reads one (a profile of the parse put that byte loop, run
/// twice a line, at a third of it).
fn key_hash(key: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0).hash_one(key)
}

/// A line's sku and quantity as the JSON has them; its properties are in
/// the scratch list.
pub(super) struct RawLine<'de> {
    pub(super) sku: Cow<'de, str>,
    pub(super) quantity: u32,
}

/// Checks a raw line and packs it: the same rules as [`Line::parse`].
fn check_line<'de>(
    raw: RawLine<'de>,
    properties: &mut [(Cow<'de, str>, Cow<'de, str>)],
    limits: &Limits,
) -> Result<Line, CartError> {
    check_sku(&raw.sku, limits)?;
    let quantity = Quantity::parse(i64::from(raw.quantity), limits)?;
    check_property_count(properties.len(), limits)?;
    for (key, value) in properties.iter_mut() {
        check_property_key(key, limits)?;
        if let Cow::Owned(normal) = normalized(value) {
            *value = Cow::Owned(normal);
        }
        check_property_value(value, limits)?;
    }
    // The writer emits them sorted; sorting here costs nothing then.
    properties.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if properties.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(CartError::Invalid("duplicate property key".into()));
    }
    Ok(Line::pack(
        &raw.sku,
        quantity,
        properties.iter().map(|(k, v)| (&**k, &**v)),
    ))
}

struct RawLineSeed<'s, 'de> {
    properties: &'s mut Vec<(Cow<'de, str>, Cow<'de, str>)>,
}

impl<'de> DeserializeSeed<'de> for RawLineSeed<'_, 'de> {
    type Value = RawLine<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawLine<'de>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RawLineSeed<'_, 'de> {
    type Value = RawLine<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[sku, quantity] or [sku, quantity, {properties}]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawLine<'de>, A::Error> {
        let Text(sku) = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let quantity = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        self.properties.clear();
        seq.next_element_seed(PropertiesSeed {
            out: &mut *self.properties,
        })?;
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(4, &self));
        }
        Ok(RawLine { sku, quantity })
    }
}

/// Properties as an object of string values, into the scratch list.
/// Duplicate keys are refused after sorting: with a map the later of two
/// equal keys would silently win, and the cart would not serialize back
/// to the bytes it came from.
struct PropertiesSeed<'s, 'de> {
    out: &'s mut Vec<(Cow<'de, str>, Cow<'de, str>)>,
}

impl<'de> DeserializeSeed<'de> for PropertiesSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PropertiesSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of string keys and string values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some((Text(key), Text(value))) = map.next_entry()? {
            self.out.push((key, value));
        }
        Ok(())
    }
}

/// Text borrowed from the JSON when it holds no escape.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}
