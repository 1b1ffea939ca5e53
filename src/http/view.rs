//! CartView: the cart as clients see it, with titles and prices from the
//! catalog resolved at read time.

use serde::Serialize;

use crate::cart::{Cart, PropertiesRef};
use crate::catalog::Catalog;

/// One line of the view.
#[derive(Debug, Serialize)]
pub struct ItemView<'a> {
    /// The stable line key.
    pub line: &'a str,
    pub sku: &'a str,
    pub quantity: u32,
    /// Serialized as the line keeps them (sorted by key), not copied.
    pub properties: PropertiesRef<'a>,
    /// From the catalog.
    pub title: Option<&'a str>,
    /// From the catalog, minor units.
    pub unit_price: Option<u64>,
    /// unit_price × quantity.
    pub line_price: Option<u64>,
    /// Whether the catalog has this sku: false for a line that came by a
    /// merge, an older token or a product removed since, which cannot be
    /// priced or bought; null without a catalog.
    pub available: Option<bool>,
}

/// The cart as returned by every cart endpoint.
#[derive(Debug, Serialize)]
pub struct CartView<'a> {
    /// The lines.
    pub items: Vec<ItemView<'a>>,
    /// Sum of quantities.
    pub item_count: u64,
    /// Sum of the line prices, when every line is available; null when any
    /// line is not (or there is no catalog), so that a checkout never charges
    /// a total that silently leaves a line out.
    pub subtotal: Option<u64>,
    /// The catalog's currency.
    pub currency: Option<&'a str>,
    /// Raised by every write.
    pub revision: u64,
    /// When the credential expires if unused (RFC 3339), once there is one.
    pub expires_at: Option<String>,
    /// Length of the credential the client now holds; null before the first.
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

/// Renders `cart` against `catalog` as the JSON body of a response.
pub fn render_json(cart: &Cart, catalog: Option<&Catalog>, meta: ViewMeta) -> Vec<u8> {
    serde_json::to_vec(&render(cart, catalog, meta)).expect("a view always serializes")
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
