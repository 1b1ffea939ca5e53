//! The data-loss and abuse holes an outside review found, each with the
//! test that failed before its fix (docs/security.md says what the service
//! does about each, and why). The lost cart that sealed but never opened is
//! in `limits.rs`; the rules that live below HTTP (colliding line keys,
//! writes past the absolute expiry, JWT binding, property text) are unit
//! tests of their modules.

mod admin;
mod demo;
mod dev_keys;
mod flooding;
mod labels;
mod pricing;
mod reload;
mod text;
