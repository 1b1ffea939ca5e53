//! The keyring and clock fixture of cartseal: a fixed clock and the real
//! one, private key folders, keyrings loaded as the service loads them, and
//! codecs over them. It lives in the library (`cartseal::fixture`, behind
//! its `fixture` feature) so that the library's own unit tests and fuzz
//! targets use the very same one; this module makes it one import for
//! tests/, the benchmarks and the load generator.

pub use cartseal::fixture::*;
