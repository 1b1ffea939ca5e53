//! A cart line and the checks every field of it passes, as cartseal's
//! `Line::parse` makes them (src/cart/line.rs).

use std::collections::BTreeMap;
use std::hash::Hasher;

use fnv::FnvHasher;
use serde::{Deserialize, Serialize};

use super::response::ApiError;
use super::{
    MAX_PROPERTIES, MAX_QUANTITY, PROPERTY_KEY_MAX_BYTES, PROPERTY_VALUE_MAX_BYTES, SKU_MAX_CHARS,
};

/// One cart line, as stored in the session (`sku`, `quantity`,
/// `properties`) and as used here (plus its key, derived on load).
#[derive(Serialize, Deserialize)]
pub struct Line {
    pub sku: String,
    pub quantity: u32,
    pub properties: BTreeMap<String, String>,
    #[serde(skip)]
    pub key: String,
}

impl Line {
    pub fn new(sku: String, quantity: u32, properties: BTreeMap<String, String>) -> Line {
        let key = line_key(&sku, &properties);
        Line {
            sku,
            quantity,
            properties,
            key,
        }
    }
}

/// The cart of one session.
#[derive(Default)]
pub struct Cart {
    pub lines: Vec<Line>,
    pub revision: u64,
    /// When the session expires if unused (Unix seconds).
    pub expires_at: Option<i64>,
}

impl Cart {
    pub fn position(&self, key: &str) -> Option<usize> {
        self.lines.iter().position(|l| l.key == key)
    }
}

/// cartseal's `LineKey::derive` (src/cart/line.rs): the sku alone without
/// properties, else the sku, `~`, and 12 hex digits (the top 48 bits) of the
/// FNV-1a 64 hash of the sorted `key\0value\0` pairs.
pub fn line_key(sku: &str, properties: &BTreeMap<String, String>) -> String {
    if properties.is_empty() {
        return sku.to_owned();
    }
    let mut hasher = FnvHasher::default();
    for (key, value) in properties {
        for part in [key.as_bytes(), b"\0", value.as_bytes(), b"\0"] {
            hasher.write(part);
        }
    }
    let digest = (hasher.finish() >> 16).to_be_bytes();
    let mut out = String::with_capacity(sku.len() + 13);
    out.push_str(sku);
    out.push('~');
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in &digest[2..] {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

pub fn parse_sku(sku: String) -> Result<String, ApiError> {
    let ok = !sku.is_empty()
        && sku.len() <= SKU_MAX_CHARS
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(sku)
    } else {
        Err(ApiError::CartInvalid(format!(
            "sku must be 1 to {SKU_MAX_CHARS} characters of A-Z a-z 0-9 . _ -"
        )))
    }
}

pub fn parse_quantity(quantity: i64) -> Result<u32, ApiError> {
    match u32::try_from(quantity) {
        Ok(q) if (1..=MAX_QUANTITY).contains(&q) => Ok(q),
        _ => Err(ApiError::CartInvalid(format!(
            "quantity must be 1 to {MAX_QUANTITY}"
        ))),
    }
}

pub fn parse_properties(
    properties: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ApiError> {
    if properties.len() > MAX_PROPERTIES {
        return Err(ApiError::CartInvalid(format!(
            "at most {MAX_PROPERTIES} properties per line"
        )));
    }
    for (key, value) in &properties {
        let key_ok = !key.is_empty()
            && key.len() <= PROPERTY_KEY_MAX_BYTES
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if !key_ok {
            return Err(ApiError::CartInvalid(format!(
                "property keys must be 1 to {PROPERTY_KEY_MAX_BYTES} bytes of A-Z a-z 0-9 _ -"
            )));
        }
        if value.len() > PROPERTY_VALUE_MAX_BYTES || value.chars().any(char::is_control) {
            return Err(ApiError::CartInvalid(format!(
                "property values must be at most {PROPERTY_VALUE_MAX_BYTES} bytes, without control characters"
            )));
        }
    }
    Ok(properties)
}
