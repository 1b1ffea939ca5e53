//! One file per group of endpoints.

pub mod cart;
pub mod demo;
pub mod ops;
pub mod products;
