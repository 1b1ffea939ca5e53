//! The request mixes shoppers draw from, each with its own seeded random
//! stream, so that a run repeats: [`Churn`] changes a cart in every way the
//! API allows (the rotation tests' steady load); [`Browse`] mostly reads a
//! built cart and changes a line now and then (the load benchmark's mix,
//! docs/benchmarks.md).

use std::time::Duration;

use super::{Cart, Line, Op};

/// Every kind of step, new lines to a few at most, lines with and without
/// properties, quantity changes, removals and clears; a bearer shopper
/// without a token first creates a cart.
#[derive(Debug, Clone)]
pub struct Churn {
    id: usize,
    /// Most lines a cart holds: further adds change existing lines.
    max_lines: usize,
    rng: u64,
    /// Numbers the skus of new lines, so that none repeats.
    made: usize,
}

impl Churn {
    /// The mix of shopper `id`.
    pub fn new(id: usize, max_lines: usize) -> Self {
        Self {
            id,
            max_lines,
            rng: (id as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            made: 0,
        }
    }

    /// A number below `below` (xorshift).
    fn random(&mut self, below: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % below
    }

    /// 10 to 29 ms of thought between clicks, so that shoppers spread over
    /// time.
    pub fn think(&mut self) -> Duration {
        Duration::from_millis(10 + self.random(20))
    }

    /// A held sku, chosen at random (in sku order).
    fn some_line(&mut self, cart: &Cart) -> Option<String> {
        let mut skus: Vec<&str> = cart.held().map(|l| l.sku.as_str()).collect();
        if skus.is_empty() {
            return None;
        }
        skus.sort_unstable();
        let i = self.random(skus.len() as u64) as usize;
        Some(skus[i].to_owned())
    }

    /// A new line: `RR-<id>-<n>`, every third with a size.
    fn add_new(&mut self) -> Op {
        self.made += 1;
        let quantity = 1 + self.random(3);
        let size = self
            .made
            .is_multiple_of(3)
            .then_some(["S", "M", "L"][self.made % 9 / 3]);
        Op::Add {
            sku: format!("RR-{}-{}", self.id, self.made),
            quantity,
            properties: size.map(|size| format!(r#"{{"size":"{size}"}}"#)),
        }
    }

    /// The next step, for a shopper whose cart is `cart`; `holds_token`
    /// says whether it holds a credential, `must_create` whether it needs
    /// `POST /cart` first (a bearer client without a token).
    pub fn choose(&mut self, cart: &Cart, holds_token: bool, must_create: bool) -> Op {
        if must_create {
            return Op::Create;
        }
        let roll = self.random(100);
        let held = self.some_line(cart);
        match (roll, held) {
            (_, None) if !holds_token => self.add_new(),
            (0..30, _) => Op::Get,
            (30..50, _) if cart.len() < self.max_lines => self.add_new(),
            (30..50, None) => self.add_new(),
            (50..60, Some(sku)) if cart.get(&sku).is_some_and(|l| l.quantity < 900) => Op::Add {
                properties: cart.get(&sku).and_then(|l| l.properties.clone()),
                sku,
                quantity: 1 + self.random(3),
            },
            (30..75, Some(sku)) => Op::Set {
                sku,
                quantity: 1 + self.random(20),
            },
            (75..82, Some(sku)) => Op::Set { sku, quantity: 0 },
            (82..92, Some(sku)) => Op::Remove { sku },
            (92..95, _) => Op::Clear,
            (_, None) if roll < 92 => self.add_new(),
            _ => Op::Get,
        }
    }
}

/// Never add above this quantity (the server's default `max_quantity`).
const MAX_QUANTITY: u64 = 999;

/// What a [`Browse`] step is, for the benchmark's per-kind tallies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// `GET /cart`.
    Read,
    /// `GET /cart` to catch up after a failure: its cart becomes the
    /// expectation.
    Resync,
    /// One more of a held line.
    Add,
    /// A line's quantity set.
    Patch,
    /// A line removed.
    Remove,
    /// The removed line added again.
    ReAdd,
}

/// 70% reads, 20% one more of a line, 8% a quantity change, 2% a removal
/// (added again by the next step), over a cart built beforehand.
#[derive(Debug, Clone)]
pub struct Browse {
    rng: u64,
}

impl Browse {
    /// The mix of shopper `id`.
    pub fn new(id: usize) -> Self {
        Self {
            rng: 0x9E37_79B9_7F4A_7C15 ^ (id as u64).wrapping_mul(0xD134_2543_DE82_EF95),
        }
    }

    /// splitmix64.
    fn rand(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.rand() % n as u64) as usize
    }

    /// Six random alphanumeric characters: a property value that deflate
    /// cannot guess, as engraving or gift notes are.
    pub fn word(&mut self) -> String {
        const ALPHABET: &[u8; 62] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..6)
            .map(|_| char::from(ALPHABET[self.below(ALPHABET.len())]))
            .collect()
    }

    /// The next step over `cart`: a catch-up read when `resync`, else the
    /// removed line added again when there is one, else the mix.
    pub fn choose(&mut self, cart: &Cart, resync: bool) -> (Pick, Op) {
        if resync {
            return (Pick::Resync, Op::Get);
        }
        let lines = cart.lines();
        let one_more = |l: &Line| Op::Add {
            sku: l.sku.clone(),
            quantity: 1,
            properties: l.properties.clone(),
        };
        if let Some(removed) = lines.iter().find(|l| !l.present) {
            return (Pick::ReAdd, one_more(removed));
        }
        let present = cart.len();
        if present == 0 {
            return (Pick::Read, Op::Get);
        }
        let r = self.below(100);
        let k = self.below(present);
        let line = cart.held().nth(k).unwrap_or(&lines[0]);
        let sku = line.sku.clone();
        if r < 70 {
            (Pick::Read, Op::Get)
        } else if r < 90 {
            if line.quantity < MAX_QUANTITY {
                (Pick::Add, one_more(line))
            } else {
                (Pick::Patch, Op::Set { sku, quantity: 1 })
            }
        } else if line.line.is_none() {
            // No line key known (should not happen): read the cart instead.
            (Pick::Resync, Op::Get)
        } else if r < 98 {
            let quantity = 1 + self.below(10) as u64;
            (Pick::Patch, Op::Set { sku, quantity })
        } else {
            (Pick::Remove, Op::Remove { sku })
        }
    }
}
