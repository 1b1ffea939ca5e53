//! CartView: the cart as clients see it, with titles and prices from the
//! catalog resolved at read time.

use serde::Serialize;
use utoipa::ToSchema;

use crate::cart::{Cart, PropertiesRef, push_json_object, push_json_str, push_u64};
use crate::catalog::Catalog;

/// One line of the view.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemView<'a> {
    /// The stable line key.
    pub line: &'a str,
    pub sku: &'a str,
    pub quantity: u32,
    /// The line's properties, by name.
    // Serialized as the line keeps them (sorted by key), not copied.
    #[schema(value_type = BTreeMap<String, String>)]
    pub properties: PropertiesRef<'a>,
    /// From the catalog.
    #[schema(required = true)]
    pub title: Option<&'a str>,
    /// From the catalog, minor units.
    #[schema(required = true)]
    pub unit_price: Option<u64>,
    /// unit_price × quantity.
    #[schema(required = true)]
    pub line_price: Option<u64>,
    /// Whether the catalog has this sku. False for a line that came by a
    /// merge, an older token or a product removed since: it cannot be priced
    /// or bought. Null without a catalog.
    #[schema(required = true)]
    pub available: Option<bool>,
}

/// The cart as returned by every cart endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartView<'a> {
    /// The lines.
    #[schema(inline)]
    pub items: Vec<ItemView<'a>>,
    /// Sum of quantities.
    pub item_count: u64,
    /// Sum of the line prices in minor units, when every line is available.
    /// Null when any line is unavailable, or without a catalog: a checkout
    /// must never charge a total that leaves a line out.
    #[schema(required = true)]
    pub subtotal: Option<u64>,
    /// The catalog's currency.
    #[schema(required = true)]
    pub currency: Option<&'a str>,
    /// Raised by every write.
    pub revision: u64,
    /// When the credential expires if unused (RFC 3339), once there is one.
    #[schema(required = true, format = DateTime)]
    pub expires_at: Option<String>,
    /// Length of the credential the client now holds; null before the first.
    #[schema(required = true)]
    pub token_length: Option<usize>,
    /// The longest credential the service issues.
    pub token_budget: usize,
}

/// What a view shows besides the cart itself.
#[derive(Debug, Clone, Copy)]
pub struct ViewMeta {
    pub revision: u64,
    /// The credential's idle expiry.
    pub expires_at: Option<i64>,
    /// The credential's length.
    pub token_length: Option<usize>,
    pub token_budget: usize,
}

/// Renders `cart` against `catalog` as the JSON body of a response: the
/// bytes `serde_json` writes for [`render`]'s view (a test holds them
/// equal), written directly. Skus, line keys and property keys never need
/// an escape, and were checked on the way in, so they are copied as they
/// are; only property values and catalog text are scanned for one.
pub fn render_json(cart: &Cart, catalog: Option<&Catalog>, meta: ViewMeta) -> Vec<u8> {
    let view = render(cart, catalog, meta);
    // A line with a title, prices and two properties writes about 200
    // bytes: room for 256 each makes the body one allocation, with no copy
    // as it grows.
    let mut out = Vec::with_capacity(256 + 256 * view.items.len());
    let mut body = Members::open(&mut out);
    body.name("items").push(b'[');
    for (i, item) in view.items.iter().enumerate() {
        if i > 0 {
            body.out.push(b',');
        }
        let mut line = Members::open(body.out);
        push_json_str(line.name("line"), item.line);
        push_json_str(line.name("sku"), item.sku);
        push_u64(line.name("quantity"), u64::from(item.quantity));
        push_json_object(line.name("properties"), item.properties);
        push_opt_str(line.name("title"), item.title);
        push_opt_u64(line.name("unit_price"), item.unit_price);
        push_opt_u64(line.name("line_price"), item.line_price);
        line.name("available")
            .extend_from_slice(match item.available {
                Some(true) => b"true",
                Some(false) => b"false",
                None => b"null",
            });
        line.close();
    }
    body.out.push(b']');
    push_u64(body.name("item_count"), view.item_count);
    push_opt_u64(body.name("subtotal"), view.subtotal);
    push_opt_str(body.name("currency"), view.currency);
    push_u64(body.name("revision"), view.revision);
    push_opt_str(body.name("expires_at"), view.expires_at.as_deref());
    push_opt_u64(
        body.name("token_length"),
        view.token_length.map(|n| n as u64),
    );
    push_u64(body.name("token_budget"), view.token_budget as u64);
    body.close();
    out
}

/// The members of one JSON object, written in order: each [`Members::name`]
/// writes the separator and the name, and hands back the buffer for the
/// value. Names are constants that need no escape.
struct Members<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Members<'o> {
    fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Self { out, first: true }
    }

    fn name(&mut self, name: &str) -> &mut Vec<u8> {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

fn push_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => push_json_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_opt_u64(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        Some(n) => push_u64(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

/// Renders `cart` against `catalog`.
pub fn render<'a>(cart: &'a Cart, catalog: Option<&'a Catalog>, meta: ViewMeta) -> CartView<'a> {
    let mut subtotal = catalog.map(|_| 0u64);
    let mut all_priced = true;
    let items = cart
        .lines()
        .iter()
        .map(|line| {
            let product = catalog.and_then(|c| c.get(line.sku()));
            let quantity = line.quantity().get();
            let line_price = product.map(|p| p.unit_price.saturating_mul(u64::from(quantity)));
            match (subtotal.as_mut(), line_price) {
                (Some(total), Some(price)) => *total = total.saturating_add(price),
                _ => all_priced = false,
            }
            ItemView {
                line: line.key(),
                sku: line.sku(),
                quantity,
                properties: line.properties(),
                title: product.map(|p| p.title.as_str()),
                unit_price: product.map(|p| p.unit_price),
                line_price,
                available: catalog.map(|_| product.is_some()),
            }
        })
        .collect();
    CartView {
        items,
        item_count: cart.item_count(),
        subtotal: subtotal.filter(|_| all_priced),
        currency: catalog.and_then(Catalog::currency),
        revision: meta.revision,
        expires_at: meta
            .expires_at
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        token_length: meta.token_length,
        token_budget: meta.token_budget,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::cart::{Limits, Line};

    fn cart() -> Cart {
        let limits = Limits::default();
        let mut cart = Cart::new();
        let props = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect()
        };
        for line in [
            Line::parse(
                "TEE-100",
                2,
                props(&[("size", "M"), ("color", "navy")]),
                &limits,
            ),
            Line::parse("MUG-104", 1, BTreeMap::new(), &limits),
            Line::parse(
                "GIFT-1",
                3,
                props(&[("note", "say \"hi\" \\ é ✓")]),
                &limits,
            ),
        ] {
            cart.add(line.expect("a line"), &limits).expect("room");
        }
        cart
    }

    #[test]
    fn the_written_view_is_what_serde_writes() {
        let products = r#"[
            {"sku":"TEE-100","title":"A \"quoted\" tee","unit_price":2400,"currency":"EUR"},
            {"sku":"MUG-104","title":"Mug","unit_price":1200,"currency":"EUR"}
        ]"#;
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("products.json");
        std::fs::write(&path, products).expect("write");
        let catalog = Catalog::load(&path, &Limits::default()).expect("a catalog");
        for (cart, catalog, expires_at, token_length) in [
            (cart(), None, None, None),
            (cart(), Some(&catalog), Some(1_800_000_000), Some(812)),
            (Cart::new(), Some(&catalog), None, None),
            (Cart::new(), None, Some(0), Some(0)),
        ] {
            let meta = ViewMeta {
                revision: 7,
                expires_at,
                token_length,
                token_budget: 3800,
            };
            let written = render_json(&cart, catalog, meta);
            let serde = serde_json::to_vec(&render(&cart, catalog, meta)).expect("serializes");
            assert_eq!(
                String::from_utf8(written).expect("UTF-8"),
                String::from_utf8(serde).expect("UTF-8")
            );
        }
    }
}
