//! Step timing for the run loop.
//!
//! Every step's duration is measured, so the clock is read once per step.
//! `Instant::now()` costs 20-30 ns (a vDSO call), more than a no-op step
//! itself, so the loop reads `quanta`'s raw counter (the CPU's time-stamp
//! counter where it is invariant, a monotonic clock elsewhere) and converts
//! the differences to nanoseconds with `quanta`'s calibration, when a
//! duration is read rather than for every step after the run.

/// Raw counter readings and their conversion to nanoseconds.
#[derive(Debug, Clone)]
pub(crate) struct StepClock {
    clock: quanta::Clock,
}

/// The process's clock. `quanta::Clock::new()` calibrates the counter the
/// first time (about 0.6 ms here) and checks the CPU's features every time
/// (about 15 µs in a VM, where `cpuid` traps): both engines take copies of
/// this one instead.
pub(crate) fn shared_clock() -> quanta::Clock {
    static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new).clone()
}

impl StepClock {
    /// A clock ready to read.
    pub(crate) fn start() -> StepClock {
        StepClock {
            clock: shared_clock(),
        }
    }

    /// The current raw reading.
    #[inline(always)]
    pub(crate) fn now(&self) -> u64 {
        self.clock.raw()
    }

    /// Nanoseconds between two readings.
    #[inline]
    pub(crate) fn nanos(&self, span: u64) -> u64 {
        self.clock.delta_as_nanos(0, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn spans_are_converted_to_nanoseconds_of_wall_time() {
        let clock = StepClock::start();
        let before = clock.now();
        std::thread::sleep(Duration::from_millis(30));
        let ms = clock.nanos(clock.now() - before) as f64 / 1e6;
        assert!((29.0..200.0).contains(&ms), "{ms} ms");
    }
}
