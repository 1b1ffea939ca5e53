//! What a shopper expects its cart to hold, the steps that change it, and
//! the check that the server's cart is that expectation, so that nothing a
//! shopper wrote is lost or changed behind its back.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Answer, Request};

/// One line of a cart view, as the server shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub sku: String,
    /// The line key: the `{line}` of `/cart/items/{line}`.
    pub line: String,
    pub quantity: u64,
    /// The line's properties, a JSON object's text, when it has the field.
    pub properties: Option<String>,
}

/// The items of a cart view: the body of `GET /cart` or of a write, or
/// `POST /cart`'s `{"cart": view}`. `None` when the body holds no item list.
pub fn items(body: &[u8]) -> Option<Vec<Item>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let view = value.get("cart").unwrap_or(&value);
    let items = view.get("items")?.as_array()?;
    Some(
        items
            .iter()
            .filter_map(|item| {
                Some(Item {
                    sku: item.get("sku")?.as_str()?.to_owned(),
                    line: match item.get("line")? {
                        Value::String(line) => line.clone(),
                        other => other.to_string(),
                    },
                    quantity: item.get("quantity").and_then(Value::as_u64).unwrap_or(0),
                    properties: item
                        .get("properties")
                        .filter(|p| p.is_object())
                        .map(Value::to_string),
                })
            })
            .collect(),
    )
}

/// The quantities of `items` by sku: what a cart holds, compared with what
/// a shopper expects.
pub fn quantities(items: &[Item]) -> BTreeMap<String, u64> {
    items
        .iter()
        .map(|item| (item.sku.clone(), item.quantity))
        .collect()
}

/// One step a shopper takes, named by sku (the cart knows the line keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `POST /cart`: a fresh, empty cart.
    Create,
    /// `POST /cart/items`: `quantity` more of `sku`, a new line or one the
    /// cart holds, with the line's properties.
    Add {
        sku: String,
        quantity: u64,
        properties: Option<String>,
    },
    /// `PATCH /cart/items/{line}`; 0 removes the line.
    Set { sku: String, quantity: u64 },
    /// `DELETE /cart/items/{line}`.
    Remove { sku: String },
    /// `DELETE /cart`.
    Clear,
    /// `GET /cart`.
    Get,
}

impl Op {
    /// The kind of step, for a tally: `add`, `add to a line`, `remove`, …
    pub fn kind(&self, cart: &Cart) -> &'static str {
        match self {
            Self::Create => "new cart",
            Self::Add { sku, .. } if cart.holds(sku) => "add to a line",
            Self::Add { .. } => "add",
            Self::Set { quantity: 0, .. } | Self::Remove { .. } | Self::Clear => "remove",
            Self::Set { .. } => "quantity change",
            Self::Get => "read",
        }
    }
}

/// A line the shopper knows of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub sku: String,
    /// The server's line key, once a cart view named it.
    pub line: Option<String>,
    pub quantity: u64,
    /// The properties it is added with, a JSON object's text.
    pub properties: Option<String>,
    /// False for a line removed that the shopper remembers (to add again).
    pub present: bool,
}

impl From<Item> for Line {
    fn from(item: Item) -> Self {
        Self {
            sku: item.sku,
            line: Some(item.line),
            quantity: item.quantity,
            properties: item.properties,
            present: true,
        }
    }
}

/// What a shopper expects its cart to hold: its lines in the order it
/// learned them, removed ones remembered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cart {
    lines: Vec<Line>,
}

impl Cart {
    /// Every line it knows, removed ones too, in the order it learned them.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The lines the cart holds.
    pub fn held(&self) -> impl Iterator<Item = &Line> {
        self.lines.iter().filter(|l| l.present)
    }

    /// How many lines the cart holds.
    pub fn len(&self) -> usize {
        self.held().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the cart holds a line of `sku`.
    pub fn holds(&self, sku: &str) -> bool {
        self.get(sku).is_some_and(|l| l.present)
    }

    /// The line of `sku`, held or remembered.
    pub fn get(&self, sku: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.sku == sku)
    }

    /// The quantities the cart holds, by sku.
    pub fn quantities(&self) -> BTreeMap<String, u64> {
        self.held().map(|l| (l.sku.clone(), l.quantity)).collect()
    }

    /// The quantities the cart must hold once `op` is applied.
    pub fn after(&self, op: &Op) -> BTreeMap<String, u64> {
        let mut lines = self.quantities();
        match op {
            Op::Create | Op::Clear => lines.clear(),
            Op::Add { sku, quantity, .. } => *lines.entry(sku.clone()).or_default() += quantity,
            Op::Set { sku, quantity: 0 } | Op::Remove { sku } => {
                lines.remove(sku);
            }
            Op::Set { sku, quantity } => {
                lines.insert(sku.clone(), *quantity);
            }
            Op::Get => {}
        }
        lines
    }

    /// The request that performs `op`: a line is named by its key, or by
    /// its sku while no view named a key (a line without properties).
    pub fn request(&self, op: &Op) -> Request {
        let line = |sku: &str| {
            self.get(sku)
                .and_then(|l| l.line.clone())
                .unwrap_or_else(|| sku.to_owned())
        };
        match op {
            Op::Create => Request::create(),
            Op::Add {
                sku,
                quantity,
                properties,
            } => Request::add(sku, *quantity as i64, properties.as_deref()),
            Op::Set { sku, quantity } => Request::set(&line(sku), *quantity as i64),
            Op::Remove { sku } => Request::remove(&line(sku)),
            Op::Clear => Request::clear(),
            Op::Get => Request::read(),
        }
    }

    /// Applies `op` to the expectation, as the server applies it when it
    /// succeeds: for a shopper that does not read the answer's cart.
    pub fn apply(&mut self, op: &Op) {
        let line = |lines: &mut Vec<Line>, sku: &str| lines.iter_mut().position(|l| l.sku == sku);
        match op {
            Op::Create => self.lines.clear(),
            Op::Clear => self.lines.iter_mut().for_each(|l| l.present = false),
            Op::Add {
                sku,
                quantity,
                properties,
            } => match line(&mut self.lines, sku) {
                Some(i) if self.lines[i].present => self.lines[i].quantity += quantity,
                Some(i) => {
                    self.lines[i].present = true;
                    self.lines[i].quantity = *quantity;
                }
                None => self.lines.push(Line {
                    sku: sku.clone(),
                    line: None,
                    quantity: *quantity,
                    properties: properties.clone(),
                    present: true,
                }),
            },
            Op::Set { sku, quantity: 0 } | Op::Remove { sku } => {
                if let Some(i) = line(&mut self.lines, sku) {
                    self.lines[i].present = false;
                }
            }
            Op::Set { sku, quantity } => {
                if let Some(i) = line(&mut self.lines, sku) {
                    self.lines[i].quantity = *quantity;
                }
            }
            Op::Get => {}
        }
    }

    /// The server's cart becomes the expectation, as it shows it.
    pub fn replace(&mut self, items: Vec<Item>) {
        self.lines = items.into_iter().map(Line::from).collect();
    }

    /// Catches up with the server's cart: the lines it shows take its key
    /// and quantity, the others count as removed (and are remembered); a
    /// line the shopper never added stays unknown.
    pub fn sync(&mut self, items: &[Item]) {
        for line in &mut self.lines {
            line.present = false;
        }
        for item in items {
            if let Some(line) = self.lines.iter_mut().find(|l| l.sku == item.sku) {
                line.line = Some(item.line.clone());
                line.quantity = item.quantity;
                line.present = true;
            }
        }
    }

    /// Takes the line keys `items` name for the lines it knows, nothing
    /// else.
    pub fn learn_keys(&mut self, items: &[Item]) {
        for item in items {
            if let Some(line) = self.lines.iter_mut().find(|l| l.sku == item.sku) {
                line.line = Some(item.line.clone());
            }
        }
    }

    /// True when `items` are exactly the lines the cart holds: skus, keys,
    /// quantities and properties.
    pub fn is(&self, items: &[Item]) -> bool {
        let mut held: Vec<&Line> = self.held().collect();
        let mut shown: Vec<&Item> = items.iter().collect();
        held.sort_by(|a, b| a.sku.cmp(&b.sku));
        shown.sort_by(|a, b| a.sku.cmp(&b.sku));
        held.len() == shown.len()
            && held.iter().zip(&shown).all(|(l, i)| {
                l.sku == i.sku
                    && l.line.as_deref() == Some(i.line.as_str())
                    && l.quantity == i.quantity
                    && l.properties == i.properties
            })
    }

    /// The final check of a `GET /cart` answer: the cart must read back as
    /// exactly this expectation.
    pub fn check<A: Answer, E: ToString>(&self, answer: &Result<A, E>) -> Outcome {
        match answer {
            Ok(reply) if reply.status() == 200 => {
                let shown = reply.items();
                if self.is(&shown) {
                    Outcome::Exact
                } else {
                    let held: Vec<&Line> = self.held().collect();
                    Outcome::Diverged(format!("record {held:?}, service {shown:?}"))
                }
            }
            Ok(reply) if reply.status() == 401 => Outcome::Refused(reply.code()),
            Ok(reply) => Outcome::Diverged(format!("{} {}", reply.status(), reply.text())),
            Err(e) => Outcome::Diverged(e.to_string()),
        }
    }
}

/// What a shopper's cart read as at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Exactly the shopper's expectation.
    Exact,
    /// The shopper holds no cart (its last one was refused).
    NoCart,
    /// 401 with this code.
    Refused(String),
    /// Anything else.
    Diverged(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(sku: &str, quantity: u64) -> Op {
        Op::Add {
            sku: sku.into(),
            quantity,
            properties: None,
        }
    }

    #[test]
    fn the_expectation_follows_every_step() {
        let mut cart = Cart::default();
        for op in [add("A", 2), add("B", 1), add("A", 1)] {
            let wanted = cart.after(&op);
            cart.apply(&op);
            assert_eq!(cart.quantities(), wanted, "{op:?}");
        }
        assert_eq!(cart.quantities()["A"], 3);
        let remove = Op::Remove { sku: "B".into() };
        assert_eq!(cart.after(&remove).len(), 1);
        cart.apply(&remove);
        assert_eq!((cart.len(), cart.lines().len()), (1, 2), "B is remembered");
        cart.apply(&add("B", 1));
        assert_eq!(cart.quantities()["B"], 1, "a re-add starts over");
        assert!(cart.after(&Op::Clear).is_empty());
    }

    #[test]
    fn a_view_is_read_with_or_without_its_envelope() {
        let view =
            r#"{"items":[{"sku":"A","line":"A~01","quantity":2,"properties":{"size":"S"}}]}"#;
        let wrapped = format!(r#"{{"token":"t","cart":{view}}}"#);
        let a = items(view.as_bytes()).expect("a view");
        assert_eq!(items(wrapped.as_bytes()), Some(a.clone()));
        assert_eq!(a[0].properties.as_deref(), Some(r#"{"size":"S"}"#));
        let mut cart = Cart::default();
        cart.replace(a.clone());
        assert!(cart.is(&a));
        assert_eq!(
            cart.request(&Op::Set {
                sku: "A".into(),
                quantity: 1
            })
            .path,
            "/cart/items/A~01"
        );
        assert_eq!(items(b"{}"), None);
    }
}
