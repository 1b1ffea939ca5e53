//! What keeping a cart in memory costs, weighed once for every holder: the
//! verified-token cache (`token::cache`) and the memory store
//! (`store::memory`) bound their bytes with the same function, so that a
//! budget in config.toml means the memory the allocator gives.

use crate::cart::Cart;

/// What keeping `cart` under `key` costs: the cart as the allocator holds
/// it ([`Cart::approx_bytes`]), the key's heap allocation (rounded up to a
/// 16-byte size class), and `entry`, the holder's own bytes per entry (its
/// struct, its map's slot, any index).
pub fn held_bytes(key: &str, cart: &Cart, entry: usize) -> usize {
    cart.approx_bytes() + key.len().next_multiple_of(16) + entry
}
