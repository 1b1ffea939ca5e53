//! cartseal keeps a web shop's cart in a token that the client holds, instead
//! of in a server-side session store.
//!
//! On every write the cart is compressed, encrypted and authenticated into a
//! token (PASETO v4.local by default, or a JWT whose cart claim is
//! encrypted). The client sends it back on its next request, from an HttpOnly
//! cookie (SPA) or an `Authorization: Bearer` header (mobile). Any replica
//! holding the keys opens it: no store, no sticky sessions, nothing lost when
//! a replica dies.
//!
//! # Layout
//! Each module uses only those listed before it (tests/layers.rs holds
//! this; unit tests may reach higher). docs/architecture.md walks
//! through the layers, the request path, the store interface and the token
//! pipeline.
//! - [`limits`], [`expiry`], [`base64url`], [`ids`], [`clock`]: one home each
//!   for the size limits, the idle and absolute lifetimes, strict base64url,
//!   random ids (written in it), and time.
//! - [`cart`]: the domain: [`cart::Cart`], its lines, and the operations on
//!   them, each all or nothing.
//! - [`weight`]: what a cart kept in memory costs, one weighing for every
//!   holder.
//! - [`catalog`]: titles and prices, resolved when a cart is read.
//! - [`keys`]: the keyring, its rotation states and atomic reload.
//! - [`token`]: sealing and opening: the claims, capped compression, the
//!   `paseto` and `jwt` formats, in the order "untrusted until opened".
//! - [`config`]: typed settings from config.toml and the environment.
//! - [`store`]: where a cart lives between requests, behind one
//!   [`store::CartStore`] trait: the token (the product), one central store
//!   over Redis, Memcached or memory, and the benchmark's `none` ceiling.
//! - [`http`]: the actix-web service: composition root, route table,
//!   extractors, transports, CSRF and CORS, problem+json errors, metrics.
//! - [`cli`]: the subcommands `serve`, `keygen`, `inspect`, `check-config`;
//!   `main.rs` only parses arguments.
//! - `fixture` (only in tests, under `cfg(fuzzing)` and with the `fixture`
//!   feature): the one keyring and clock fixture of the unit tests, the
//!   fuzz targets, and, through the kit crate, tests/ and the benchmarks.
//! - `fuzzing` (only under `cfg(fuzzing)` and in tests): the bodies of the
//!   fuzz targets in `fuzz/`; docs/security.md, "Fuzzing".
//!
//! # Limitations
//! A token store cannot revoke a cart before it expires, cannot keep two
//! devices in sync (each holds its own token until they merge), and cannot
//! stop a client from replaying an older token of its own: the absolute
//! expiry bounds how long one opens. Prices never ride in tokens, so a
//! replayed token can bring back old lines but never an old price.

pub mod base64url;
pub mod cart;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod expiry;
#[cfg(any(fuzzing, test, feature = "fixture"))]
pub mod fixture;
#[cfg(any(fuzzing, test))]
pub mod fuzzing;
pub mod http;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod store;
pub mod token;
pub mod weight;
