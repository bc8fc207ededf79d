//! Faults drawn from a seed: a small deterministic generator of [`FaultSpec`]s, so a fuzz run
//! can script FAPI trouble from its one `u64` seed (DESIGN.md §4, "one clock, one seed").
//!
//! The stream is SplitMix64 over a counter, the same mixing step the server model uses: no
//! global RNG, no dependency on a crate's stream staying stable across versions.

use crate::model::server::mix64;
use crate::model::vocab::{Endpoint, FaultKind, FaultSpec};

/// Statuses a drawn server error uses.
pub const SERVER_ERROR_STATUSES: [u16; 4] = [500, 502, 503, 504];
/// `Retry-After` values a drawn 429 uses, in ms (some not whole seconds, to exercise rounding).
pub const RETRY_AFTER_MS: [u64; 5] = [500, 1_000, 1_500, 3_000, 10_000];
/// Latencies a drawn latency fault uses, in ms: from unnoticeable to past a token's life.
pub const LATENCIES_MS: [u64; 6] = [10, 100, 1_000, 5_000, 30_000, 90_000];
/// Most requests one drawn fault covers.
pub const FAULT_COUNT_MAX: u32 = 3;

/// A deterministic stream of faults.
#[derive(Clone, Debug)]
pub struct FaultDraw {
    seed: u64,
    counter: u64,
}

impl FaultDraw {
    pub fn new(seed: u64) -> FaultDraw {
        FaultDraw { seed, counter: 0 }
    }

    fn next_u64(&mut self) -> u64 {
        self.counter += 1;
        mix64(self.seed ^ mix64(self.counter))
    }

    fn below(&mut self, n: u64) -> u64 {
        // Modulo bias is irrelevant at these sizes; determinism is what matters.
        self.next_u64() % n
    }

    /// One fault kind, every kind equally likely.
    pub fn kind(&mut self) -> FaultKind {
        match self.below(7) {
            0 => FaultKind::ServerError {
                status: SERVER_ERROR_STATUSES
                    [self.below(SERVER_ERROR_STATUSES.len() as u64) as usize],
            },
            1 => FaultKind::RateLimited {
                retry_after_ms: RETRY_AFTER_MS[self.below(RETRY_AFTER_MS.len() as u64) as usize],
            },
            2 => FaultKind::Unauthorized,
            3 => FaultKind::MissingExpiredToken,
            4 => FaultKind::DropBeforeCommit,
            5 => FaultKind::DropAfterCommit,
            _ => FaultKind::Latency {
                ms: LATENCIES_MS[self.below(LATENCIES_MS.len() as u64) as usize],
            },
        }
    }

    /// One fault spec: a kind, 1..=3 requests, and half the time one target endpoint.
    pub fn spec(&mut self) -> FaultSpec {
        let kind = self.kind();
        let count = 1 + self.below(FAULT_COUNT_MAX as u64) as u32;
        let on = if self.below(2) == 0 {
            None
        } else {
            Some(Endpoint::ALL[self.below(Endpoint::ALL.len() as u64) as usize])
        };
        FaultSpec { kind, count, on }
    }
}

impl Iterator for FaultDraw {
    type Item = FaultSpec;

    fn next(&mut self) -> Option<FaultSpec> {
        Some(self.spec())
    }
}

/// The first `n` faults of `seed`'s stream.
pub fn draw(seed: u64, n: usize) -> Vec<FaultSpec> {
    FaultDraw::new(seed).take(n).collect()
}
