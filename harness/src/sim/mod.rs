//! Seeded randomness: one `u64` seed per run, forked by name.
//!
//! Every consumer asks for its own stream with [`SeedRng::fork`] (`rng.fork("fapi.latency")`),
//! so adding a consumer never shifts the draws of the others. Streams are ChaCha8, whose
//! output is fixed by its specification (and pinned in Cargo.toml), so a seed replays the
//! same on every machine.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::model::server::mix64;

/// A named, seeded random stream.
#[derive(Clone, Debug)]
pub struct SeedRng {
    seed: u64,
    rng: ChaCha8Rng,
}

impl SeedRng {
    pub fn new(seed: u64) -> SeedRng {
        SeedRng { seed, rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A child stream whose seed depends only on this stream's seed and `name`.
    pub fn fork(&self, name: &str) -> SeedRng {
        SeedRng::new(fork_seed(self.seed, name))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Uniform in `0..n` (n > 0), without modulo bias worth caring about at these sizes.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "below(0) has no values");
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// The 32 bytes proptest's ChaCha runner takes as its seed.
    pub fn seed_bytes(&mut self) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        bytes
    }
}

/// The seed of the child stream `name` of `seed` (FNV-1a over the name, then mixed).
pub fn fork_seed(seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix64(seed ^ h)
}

/// The seed of case `index` of a campaign: a pure function of (campaign seed, index), so any
/// shard of a campaign can compute its cases without running the others.
pub fn case_seed(campaign_seed: u64, index: u64) -> u64 {
    mix64(fork_seed(campaign_seed, "case") ^ mix64(index))
}

/// Parses a seed as printed (`0x5eed0001`) or decimal.
pub fn parse_seed(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => t.replace('_', "").parse(),
    };
    parsed.map_err(|_| {
        format!("bad seed `{text}`: expected a 64-bit number, hex (0x5eed0001) or decimal")
    })
}

pub fn format_seed(seed: u64) -> String {
    format!("{seed:#018x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forks_are_independent_of_order_and_stable() {
        let root = SeedRng::new(42);
        let a1 = root.fork("a").next_u64();
        let _b = root.fork("b").next_u64();
        let a2 = root.fork("a").next_u64();
        assert_eq!(a1, a2);
        assert_ne!(root.fork("a").seed(), root.fork("b").seed());
    }

    #[test]
    fn seeds_parse_in_both_forms() {
        assert_eq!(parse_seed("0x5eed0001"), Ok(0x5eed0001));
        assert_eq!(parse_seed("42"), Ok(42));
        assert!(parse_seed("nope").unwrap_err().contains("bad seed"));
        assert_eq!(parse_seed(&format_seed(7)), Ok(7));
    }
}
