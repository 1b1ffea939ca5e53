//! The integration tests: one binary, the real server on port 0.

mod browser;
mod helpers;
mod smoke;
