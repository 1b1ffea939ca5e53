//! The cart domain: lines, the operations on them, and their limits.
//!
//! A [`Cart`] only ever holds valid lines: every constructor and operation
//! checks the [`Limits`], and an operation that would break one leaves the
//! cart as it was.
//!
//! # Compact form
//! Tokens carry the cart as compact JSON: an array of lines, each
//! `[sku, quantity]` or `[sku, quantity, {properties}]`, for example
//! `[["TEE-100",2,{"size":"M"}],["MUG-104",1]]` (docs/token-format.md).

mod line;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::limits::Limits;
pub use line::{Line, LineKey, Properties, Quantity, Sku};

/// Why a cart operation was refused. The cart is unchanged in every case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CartError {
    /// A sku, quantity or property is malformed or out of range.
    #[error("{0}")]
    Invalid(String),
    /// The operation would need more lines than `limits.max_lines`.
    #[error("a cart holds at most {max} lines")]
    TooManyLines {
        /// The limit.
        max: usize,
    },
    /// The operation would raise a quantity past `limits.max_quantity`.
    #[error("a line holds at most {max} items")]
    QuantityTooLarge {
        /// The limit.
        max: u32,
    },
    /// No line has that key.
    #[error("no such line in the cart")]
    LineNotFound,
    /// Another line of the cart has the same key but a different sku or
    /// properties: the short key cannot tell them apart, so the line is
    /// refused rather than merged into the other.
    #[error("the cart already has a different line with the key {0}; change a property slightly")]
    KeyCollision(LineKey),
}

/// A shopping cart: an ordered list of lines with distinct keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    lines: Vec<Line>,
}

impl Cart {
    /// An empty cart.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lines, in the order they were first added.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// True when the cart has no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The sum of all quantities.
    pub fn item_count(&self) -> u64 {
        self.lines
            .iter()
            .map(|l| u64::from(l.quantity().get()))
            .sum()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.lines.iter().position(|l| l.key().as_str() == key)
    }

    /// Where `line`'s equal (same sku and properties) stands, if the cart
    /// has one. Keys are 48 bits of a hash: equal keys are compared by what
    /// they stand for, and a different line under the same key is refused,
    /// never merged.
    fn position_of(&self, line: &Line) -> Result<Option<usize>, CartError> {
        let Some(i) = self.position(line.key().as_str()) else {
            return Ok(None);
        };
        let existing = &self.lines[i];
        if existing.sku() == line.sku() && existing.properties() == line.properties() {
            Ok(Some(i))
        } else {
            Err(CartError::KeyCollision(line.key().clone()))
        }
    }

    /// Adds a line, or raises the quantity of the line with the same sku and
    /// properties. Returns the key of the line.
    pub fn add(&mut self, line: Line, limits: &Limits) -> Result<LineKey, CartError> {
        if let Some(i) = self.position_of(&line)? {
            let existing = &mut self.lines[i];
            let sum = existing
                .quantity()
                .get()
                .checked_add(line.quantity().get())
                .filter(|q| *q <= limits.max_quantity)
                .ok_or(CartError::QuantityTooLarge {
                    max: limits.max_quantity,
                })?;
            existing.set_quantity(Quantity::parse(i64::from(sum), limits)?);
            return Ok(existing.key().clone());
        }
        if self.lines.len() >= limits.max_lines {
            return Err(CartError::TooManyLines {
                max: limits.max_lines,
            });
        }
        let key = line.key().clone();
        self.lines.push(line);
        Ok(key)
    }

    /// Sets the quantity of a line; 0 removes it.
    pub fn set_quantity(
        &mut self,
        key: &str,
        quantity: i64,
        limits: &Limits,
    ) -> Result<(), CartError> {
        let i = self.position(key).ok_or(CartError::LineNotFound)?;
        if quantity == 0 {
            self.lines.remove(i);
            return Ok(());
        }
        let quantity = Quantity::parse(quantity, limits)?;
        self.lines[i].set_quantity(quantity);
        Ok(())
    }

    /// Removes a line.
    pub fn remove(&mut self, key: &str) -> Result<(), CartError> {
        let i = self.position(key).ok_or(CartError::LineNotFound)?;
        self.lines.remove(i);
        Ok(())
    }

    /// Removes every line.
    pub fn clear(&mut self) {
        self.lines.clear();
    }

    /// Merges another cart into this one (a guest cart at log-in, or another
    /// device's). Quantities of equal lines add up and are capped at
    /// `limits.max_quantity`, since neither side asked for more than that;
    /// new lines are appended. All or nothing: if the result would hold too
    /// many lines, this cart is unchanged.
    pub fn merge(&mut self, other: &Cart, limits: &Limits) -> Result<(), CartError> {
        let mut merged = self.clone();
        for line in &other.lines {
            match merged.position_of(line)? {
                Some(i) => {
                    let sum = merged.lines[i]
                        .quantity()
                        .get()
                        .saturating_add(line.quantity().get())
                        .min(limits.max_quantity);
                    merged.lines[i].set_quantity(Quantity::parse(i64::from(sum), limits)?);
                }
                None if merged.lines.len() >= limits.max_lines => {
                    return Err(CartError::TooManyLines {
                        max: limits.max_lines,
                    });
                }
                None => merged.lines.push(line.clone()),
            }
        }
        *self = merged;
        Ok(())
    }

    /// About how many bytes of memory the cart holds, for budgets such as
    /// the verified-token cache's: the lines' slots, every string's heap
    /// allocation, and each property map's B-tree leaf, which has room for
    /// eleven entries however few it holds (about 540 bytes: the largest
    /// cost of a line). A test holds it against what the allocator really
    /// gives (`tests/cart_memory.rs`).
    pub fn approx_bytes(&self) -> usize {
        use std::mem::size_of;
        /// A string's heap allocation, rounded up to a 16-byte size class.
        fn heap(s: &str) -> usize {
            s.len().next_multiple_of(16)
        }
        /// A B-tree leaf node of `String` keys and values: eleven of each,
        /// the parent link and the two counters.
        const BTREE_LEAF: usize = 11 * 2 * size_of::<String>() + 16;
        let lines: usize = self
            .lines
            .iter()
            .map(|l| {
                let properties = l.properties();
                let leaves = if properties.is_empty() {
                    0
                } else {
                    // One leaf holds up to eleven entries.
                    properties.iter().count().div_ceil(11) * BTREE_LEAF
                };
                heap(l.sku().as_str())
                    + heap(l.key().as_str())
                    + leaves
                    + properties
                        .iter()
                        .map(|(k, v)| heap(k) + heap(v))
                        .sum::<usize>()
            })
            .sum();
        size_of::<Self>() + self.lines.capacity() * size_of::<Line>() + lines
    }

    /// Serializes the cart in its compact form.
    pub fn to_compact_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a cart always serializes")
    }

    /// Parses a cart from its compact form, checking every line against the
    /// limits.
    pub fn from_compact_json(bytes: &[u8], limits: &Limits) -> Result<Self, CartError> {
        let raw: Vec<RawLine> = serde_json::from_slice(bytes)
            .map_err(|_| CartError::Invalid("malformed cart".into()))?;
        let mut cart = Cart {
            lines: Vec::with_capacity(raw.len().min(limits.max_lines)),
        };
        for raw in raw {
            let line = Line::parse(&raw.sku.0, i64::from(raw.quantity), raw.properties, limits)?;
            if cart.position(line.key().as_str()).is_some() {
                return Err(CartError::Invalid("duplicate line".into()));
            }
            if cart.lines.len() >= limits.max_lines {
                return Err(CartError::TooManyLines {
                    max: limits.max_lines,
                });
            }
            cart.lines.push(line);
        }
        Ok(cart)
    }
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

/// A line as it stands in the compact form, before it is checked.
struct RawLine<'de> {
    sku: Text<'de>,
    quantity: u32,
    properties: BTreeMap<String, String>,
}

/// Text borrowed from the JSON when it holds no escape: a sku is copied
/// once, into its [`Sku`], not twice.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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

impl<'de> Deserialize<'de> for RawLine<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawLineVisitor;
        impl<'de> Visitor<'de> for RawLineVisitor {
            type Value = RawLine<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[sku, quantity] or [sku, quantity, {properties}]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawLine<'de>, A::Error> {
                let sku = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let quantity = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let properties = seq
                    .next_element::<UniqueKeys>()?
                    .map(|p| p.0)
                    .unwrap_or_default();
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(4, &self));
                }
                Ok(RawLine {
                    sku,
                    quantity,
                    properties,
                })
            }
        }
        deserializer.deserialize_seq(RawLineVisitor)
    }
}

/// Properties as an object whose keys are distinct: with a plain map the
/// later of two equal keys would silently win, and the cart would not
/// serialize back to the bytes it came from.
struct UniqueKeys(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UniqueKeysVisitor;
        impl<'de> Visitor<'de> for UniqueKeysVisitor {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of distinct string keys and string values")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    if out.insert(key, value).is_some() {
                        return Err(de::Error::custom("duplicate property key"));
                    }
                }
                Ok(UniqueKeys(out))
            }
        }
        deserializer.deserialize_map(UniqueKeysVisitor)
    }
}

#[cfg(test)]
mod tests;
