//! What the fuzz targets hold a cart to: limits far below the defaults, and
//! every limit checked on what comes out.

use crate::cart::{Cart, Limits};

/// Limits far below the defaults, so that inputs reach every bound.
pub fn tight_limits() -> Limits {
    Limits {
        max_lines: 3,
        max_quantity: 5,
        sku_max_chars: 8,
        max_properties: 2,
        property_key_max_bytes: 4,
        property_value_max_bytes: 8,
        max_inflated_bytes: 256,
        max_inflate_ratio: 4,
        ..Limits::default()
    }
}

/// Checks every limit on `cart`, and that it reads back from its compact
/// form as itself.
pub fn assert_within(cart: &Cart, limits: &Limits) {
    assert!(cart.lines().len() <= limits.max_lines, "too many lines");
    for (i, line) in cart.lines().iter().enumerate() {
        let sku = line.sku();
        assert!(!sku.is_empty() && sku.len() <= limits.sku_max_chars, "sku");
        let quantity = line.quantity().get();
        assert!((1..=limits.max_quantity).contains(&quantity), "quantity");
        assert!(line.properties().iter().count() <= limits.max_properties);
        for (key, value) in line.properties().iter() {
            assert!(!key.is_empty() && key.len() <= limits.property_key_max_bytes);
            assert!(value.len() <= limits.property_value_max_bytes);
        }
        assert!(
            cart.lines()[..i].iter().all(|l| l.key() != line.key()),
            "two lines with one key"
        );
    }
    let json = cart.to_compact_json();
    assert_eq!(
        Cart::from_compact_json(&json, limits).as_ref(),
        Ok(cart),
        "a cart reads back from its compact form"
    );
}
