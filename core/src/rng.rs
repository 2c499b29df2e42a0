//! The seeded random number generator of the simulator, the baselines and the daemon's
//! automatic workload: one fixed algorithm, so that a seed replays the same choices forever.
//!
//! Pure arithmetic: no clock, no entropy source, no global state (the caller picks the seed).
//! It must never change its output for a given seed: printed seeds of failed simulations and
//! pinned test figures depend on it.

/// SplitMix64: tiny, fast, and — unlike a library RNG whose algorithm may change between
/// versions — fixed forever, so a seed printed today replays the same schedule next year.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started at `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}
