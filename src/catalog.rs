//! The optional product catalog. Titles and prices are looked up when a cart
//! is read and are never stored in tokens, so a replayed old token can never
//! bring back an old price, and tokens stay small.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cart::{Limits, Sku};

/// One product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub sku: String,
    pub title: String,
    /// Its price, in integer minor units (cents).
    pub unit_price: u64,
    /// ISO 4217 currency code.
    pub currency: String,
}

/// The catalog: products by sku, in one currency.
#[derive(Debug, Clone)]
pub struct Catalog {
    products: Vec<Product>,
    by_sku: HashMap<String, usize>,
    currency: Option<String>,
    /// Distinct for every catalog loaded by this process: what a rendered
    /// cart was rendered against ([`Catalog::generation`]).
    generation: u64,
}

/// Why a catalog file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("catalog {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is not a valid catalog.
    #[error("catalog {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl Catalog {
    /// Tells this catalog apart from every other one this process loaded
    /// (never 0, which stands for "no catalog"), so that a cart rendered
    /// against one is never served after a reload swapped it.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Loads a JSON array of products, checking every sku against the limits,
    /// that skus are unique, and that one currency is used throughout.
    pub fn load(path: &Path, limits: &Limits) -> Result<Self, CatalogError> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|e| CatalogError::Read {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let products: Vec<Product> =
            serde_json::from_slice(&text).map_err(|e| CatalogError::Invalid {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        Self::from_products(products, limits).map_err(|reason| CatalogError::Invalid {
            path: shown,
            reason,
        })
    }

    /// Builds a catalog from products.
    pub fn from_products(products: Vec<Product>, limits: &Limits) -> Result<Self, String> {
        let mut by_sku = HashMap::with_capacity(products.len());
        let mut currency: Option<String> = None;
        for (i, product) in products.iter().enumerate() {
            Sku::parse(&product.sku, limits)
                .map_err(|e| format!("product {:?}: {e}", product.sku))?;
            if by_sku.insert(product.sku.clone(), i).is_some() {
                return Err(format!("sku {:?} appears twice", product.sku));
            }
            match &currency {
                Some(c) if *c != product.currency => {
                    return Err(format!(
                        "product {:?} is priced in {}, others in {c}: one currency per catalog",
                        product.sku, product.currency
                    ));
                }
                _ => currency = Some(product.currency.clone()),
            }
        }
        static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Self {
            generation: GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            products,
            by_sku,
            currency,
        })
    }

    /// The product with this sku.
    pub fn get(&self, sku: &str) -> Option<&Product> {
        self.by_sku.get(sku).map(|&i| &self.products[i])
    }

    /// Every product, in file order.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// The catalog's currency, if it has products.
    pub fn currency(&self) -> Option<&str> {
        self.currency.as_deref()
    }
}
