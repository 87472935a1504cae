//! The pseudo-random generator every workload shares (WORKLOADS.md): a 64-bit
//! LCG, seed 42, state advanced before each draw.

/// The seed every standard workload starts from.
pub const SEED: u64 = 42;

/// A 64-bit linear congruential generator with Knuth's MMIX constants.
///
/// ```
/// use dagflow_bench::lcg::Lcg;
/// let mut a = Lcg::new(42);
/// let mut b = Lcg::new(42);
/// assert_eq!(a.draw(1000), b.draw(1000));
/// ```
#[derive(Debug, Clone)]
pub struct Lcg {
    state: u64,
}

impl Lcg {
    /// A generator whose first draw advances `seed` once.
    pub fn new(seed: u64) -> Self {
        Lcg { state: seed }
    }

    /// Advances the state, then returns `(state >> 33) % m`.
    ///
    /// `m` must be positive; every caller in this crate passes a constant.
    pub fn draw(&mut self, m: u64) -> u64 {
        self.state = self
            .state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.state >> 33) % m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_draw_advances_the_seed_before_drawing() {
        let mut lcg = Lcg::new(SEED);
        let expected_state = 42u64
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        assert_eq!(lcg.draw(u64::MAX), (expected_state >> 33) % u64::MAX);
        assert_eq!(lcg.state, expected_state);
    }

    #[test]
    fn draws_stay_below_the_modulus() {
        let mut lcg = Lcg::new(SEED);
        assert!((0..10_000).all(|_| lcg.draw(7) < 7));
    }
}
