//! Target `cart_ops`: sequences of add, set, remove, merge and clear with
//! arbitrary inputs, lines built by [`Line::parse`] as a request builds
//! them. After every operation no limit is broken and the cart reads back
//! from its compact form; the outcome is that of a plain model of the
//! operation: a refused operation leaves the cart unchanged, with the error
//! of the real reason, and an accepted one did what it says.

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};

use super::bounds;
use crate::cart::{Cart, CartError, Limits, Line, Quantity};

/// One sequence of operations.
#[derive(Debug, Arbitrary)]
struct Input {
    /// Under [`bounds::tight_limits`] rather than the defaults.
    tight: bool,
    ops: Vec<Op>,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Add(LineSpec),
    Set { line: Target, quantity: i64 },
    Remove(Target),
    Merge(Vec<LineSpec>),
    Clear,
}

/// A line as a client sends it.
#[derive(Debug, Arbitrary)]
pub(super) struct LineSpec {
    sku: Text,
    quantity: i64,
    properties: Vec<(Text, Text)>,
}

/// Text from a few valid values, which lines then share, or any text.
#[derive(Debug, Arbitrary)]
enum Text {
    Common(u8),
    Any(String),
}

impl Text {
    fn get(&self) -> &str {
        const COMMON: [&str; 6] = ["TEE-100", "MUG-104", "size", "M", "x", "é"];
        match self {
            Self::Common(i) => COMMON[usize::from(*i) % COMMON.len()],
            Self::Any(text) => text,
        }
    }
}

/// The line an operation names: one of the cart's, by position, or any key.
#[derive(Debug, Arbitrary)]
enum Target {
    Line(u8),
    Key(String),
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let limits = if input.tight {
        bounds::tight_limits()
    } else {
        Limits::default()
    };
    let mut cart = Cart::new();
    for op in &input.ops {
        apply(&mut cart, op, &limits);
        bounds::assert_within(&cart, &limits);
    }
}

fn apply(cart: &mut Cart, op: &Op, limits: &Limits) {
    let before = cart.clone();
    let lines = before.lines();
    let (outcome, expected) = match op {
        Op::Add(spec) => {
            let Some(line) = spec.parse(limits) else {
                return;
            };
            let expected = model_add(lines, &line, limits);
            let outcome = cart.add(line.clone(), limits).map(|key| {
                assert_eq!(key.as_str(), line.key(), "add returns the line's key");
            });
            (outcome, expected)
        }
        Op::Set { line, quantity } => {
            let key = target(lines, line);
            let expected = model_set(lines, &key, *quantity, limits);
            (cart.set_quantity(&key, *quantity, limits), expected)
        }
        Op::Remove(line) => {
            let key = target(lines, line);
            (cart.remove(&key), model_set(lines, &key, 0, limits))
        }
        Op::Merge(specs) => {
            let mut other = Cart::new();
            for line in specs.iter().filter_map(|spec| spec.parse(limits)) {
                let _ = other.add(line, limits);
            }
            let expected = model_merge(lines, &other, limits);
            (cart.merge(&other, limits), expected)
        }
        Op::Clear => {
            cart.clear();
            (Ok(()), Ok(Vec::new()))
        }
    };
    match (outcome, expected) {
        (Ok(()), Ok(lines)) => assert_eq!(cart.lines(), lines, "{op:?}"),
        (Err(error), Err(reason)) => {
            assert_eq!(cart, &before, "a refused {op:?} changed the cart");
            assert!(
                same_reason(&error, &reason),
                "{op:?}: {error:?}, not {reason:?}"
            );
        }
        (outcome, expected) => panic!("{op:?} gave {outcome:?}, the model {expected:?}"),
    }
}

impl LineSpec {
    /// The line a client would send, or `None` when [`Line::parse`] refuses
    /// it (which must be for a malformed part, nothing else).
    pub(super) fn parse(&self, limits: &Limits) -> Option<Line> {
        let properties: BTreeMap<String, String> = self
            .properties
            .iter()
            .map(|(k, v)| (k.get().to_owned(), v.get().to_owned()))
            .collect();
        match Line::parse(self.sku.get(), self.quantity, properties, limits) {
            Ok(line) => Some(line),
            Err(CartError::Invalid(_)) => None,
            Err(other) => panic!("Line::parse refused a line for {other:?}"),
        }
    }
}

fn target(lines: &[Line], target: &Target) -> String {
    match target {
        Target::Line(i) if !lines.is_empty() => {
            lines[usize::from(*i) % lines.len()].key().to_owned()
        }
        Target::Line(_) => String::new(),
        Target::Key(key) => key.clone(),
    }
}

/// Errors match by variant; the text of `Invalid` is for people.
fn same_reason(a: &CartError, b: &CartError) -> bool {
    match (a, b) {
        (CartError::Invalid(_), CartError::Invalid(_)) => true,
        _ => a == b,
    }
}

fn same_line(a: &Line, b: &Line) -> bool {
    a.sku() == b.sku() && a.properties() == b.properties()
}

fn with_quantity(line: &Line, quantity: u32, limits: &Limits) -> Line {
    let quantity = Quantity::parse(i64::from(quantity), limits).expect("a quantity in range");
    line.with_quantity(quantity)
}

/// Puts `line` into `out` as add and merge both do: a line with the same
/// sku and properties takes the quantity `sum` gives, a different line
/// under the same key is a collision, a new line needs room.
fn place(
    out: &mut Vec<Line>,
    line: &Line,
    limits: &Limits,
    sum: impl Fn(u32, u32) -> Result<u32, CartError>,
) -> Result<(), CartError> {
    match out.iter().position(|l| l.key() == line.key()) {
        Some(i) if same_line(&out[i], line) => {
            let quantity = sum(out[i].quantity().get(), line.quantity().get())?;
            out[i] = with_quantity(line, quantity, limits);
        }
        Some(_) => return Err(CartError::KeyCollision(crate::cart::LineKey::from(line))),
        None if out.len() >= limits.max_lines => {
            return Err(CartError::TooManyLines {
                max: limits.max_lines,
            });
        }
        None => out.push(line.clone()),
    }
    Ok(())
}

/// Add refuses a quantity over the limit.
fn model_add(lines: &[Line], line: &Line, limits: &Limits) -> Result<Vec<Line>, CartError> {
    let mut out = lines.to_vec();
    place(&mut out, line, limits, |have, more| {
        let sum = u64::from(have) + u64::from(more);
        if sum > u64::from(limits.max_quantity) {
            return Err(CartError::QuantityTooLarge {
                max: limits.max_quantity,
            });
        }
        Ok(sum as u32)
    })?;
    Ok(out)
}

/// Set, where 0 removes: remove is set to 0.
fn model_set(
    lines: &[Line],
    key: &str,
    quantity: i64,
    limits: &Limits,
) -> Result<Vec<Line>, CartError> {
    let i = lines
        .iter()
        .position(|l| l.key() == key)
        .ok_or(CartError::LineNotFound)?;
    let mut out = lines.to_vec();
    if quantity == 0 {
        out.remove(i);
    } else if (1..=i64::from(limits.max_quantity)).contains(&quantity) {
        out[i] = with_quantity(&lines[i], quantity as u32, limits);
    } else {
        return Err(CartError::Invalid(String::new()));
    }
    Ok(out)
}

/// Merge caps a quantity at the limit, and is all or nothing.
fn model_merge(lines: &[Line], other: &Cart, limits: &Limits) -> Result<Vec<Line>, CartError> {
    let mut out = lines.to_vec();
    for line in other.lines() {
        place(&mut out, line, limits, |have, more| {
            Ok((have + more).min(limits.max_quantity))
        })?;
    }
    Ok(out)
}
