//! Why a keyring was refused: one line per problem, naming the key, never
//! its material.

use super::{MaterialError, Purpose};

/// Why a keyring was refused. Each message is one line naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    /// No key of a purpose that the configured format needs is active.
    #[error("no active {0} key: exactly one key per purpose must have state = \"active\"")]
    NoActive(Purpose),
    /// Two keys of one purpose are active.
    #[error("two active {purpose} keys ({first}, {second}): exactly one may be active")]
    TwoActive {
        purpose: Purpose,
        /// One active key.
        first: String,
        /// The other.
        second: String,
    },
    /// Two keys share an id.
    #[error("duplicate key id {0:?}")]
    DuplicateId(String),
    /// Two entries hold the same key material.
    #[error("keys {0:?} and {1:?} hold the same key material")]
    DuplicateKid(String, String),
    /// The key file is missing or unreadable.
    #[error("key {id:?}: cannot read {path}: {reason}")]
    Unreadable {
        /// The key.
        id: String,
        /// Its file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The key file does not hold a valid key for its purpose.
    #[error("key {id:?} ({purpose}): {reason}")]
    Material {
        /// The key.
        id: String,
        /// Its configured purpose.
        purpose: Purpose,
        /// What is wrong.
        reason: MaterialError,
    },
    /// The configured kid is not the one the material gives.
    #[error("key {id:?}: configured kid {configured} does not match the key material ({derived})")]
    KidMismatch {
        /// The key.
        id: String,
        /// From config.toml.
        configured: String,
        /// From the material.
        derived: String,
    },
    /// A key file that others than its owner can read.
    #[error("key {id:?}: {path} is readable by group or others (mode {mode:o}); chmod 600 it")]
    Readable {
        /// The key.
        id: String,
        /// Its file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The shipped development keys, on a listener other machines reach.
    #[error(
        "key {id:?} is a development key shipped in the repository, and server.host {host:?} is not loopback: make your own keys with `cartseal keygen`, or set server.allow_dev_keys = true for a development machine"
    )]
    DevKeyExposed {
        /// The key.
        id: String,
        /// The configured host.
        host: String,
    },
    /// A signing key of the wrong algorithm for `token.jwt_algorithm`.
    #[error("key {id:?}: a {found:?} key, but token.jwt_algorithm is {expected:?}")]
    WrongAlgorithm {
        /// The key.
        id: String,
        /// Configured.
        expected: jsonwebtoken::Algorithm,
        /// Found in the file.
        found: jsonwebtoken::Algorithm,
    },
}
