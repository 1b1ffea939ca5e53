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

/// The one path to [`Limits`], inside the crate and out (tests, benchmarks):
/// every cart operation takes them. They are defined in [`crate::limits`]
/// beside the fixed limits, which are imported from there.
pub use crate::limits::Limits;
pub use line::{Line, LineKey, Properties, PropertiesRef, Quantity, Sku};

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
        self.lines.iter().position(|l| l.key() == key)
    }

    /// Where `line`'s equal (same sku and properties) stands, if the cart
    /// has one. Keys are 48 bits of a hash: equal keys are compared by what
    /// they stand for, and a different line under the same key is refused,
    /// never merged.
    fn position_of(&self, line: &Line) -> Result<Option<usize>, CartError> {
        let Some(i) = self.position(line.key()) else {
            return Ok(None);
        };
        if self.lines[i].same_item(line) {
            Ok(Some(i))
        } else {
            Err(CartError::KeyCollision(LineKey::from(line)))
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
            return Ok(LineKey::from(&*existing));
        }
        if self.lines.len() >= limits.max_lines {
            return Err(CartError::TooManyLines {
                max: limits.max_lines,
            });
        }
        let key = LineKey::from(&line);
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
    /// the verified-token cache's and the memory store's: the lines' slots
    /// and each line's one allocation, rounded up to the allocator's 16-byte
    /// size classes. A test holds it against what the allocator really
    /// gives (`tests/cart_memory.rs`).
    pub fn approx_bytes(&self) -> usize {
        use std::mem::size_of;
        let text: usize = self
            .lines
            .iter()
            .map(|l| l.heap_bytes().next_multiple_of(16))
            .sum();
        size_of::<Self>() + self.lines.capacity() * size_of::<Line>() + text
    }
}

mod compact;
mod rules;
mod scan;

pub(crate) use compact::{push_json_object, push_json_str, push_u64};

#[cfg(test)]
mod tests;
