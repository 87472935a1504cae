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
/// first time (about 0.6 ms here, 10-15 ms while other threads keep the
/// cores busy) and checks the CPU's features every time (about 15 µs in a
/// VM, where `cpuid` traps): both engines take copies of this one instead.
/// A caller that cannot wait for the calibration starts it early with
/// [`calibrate_in_background`]; a run that needs the clock meanwhile waits
/// for that calibration instead of starting a second one.
pub(crate) fn shared_clock() -> quanta::Clock {
    CLOCK.get_or_init(quanta::Clock::new).clone()
}

static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();

/// Calibrates the process's clock on a thread of its own (see
/// [`crate::engine::calibrate_clock_in_background`]).
pub(crate) fn calibrate_in_background() -> Option<std::thread::JoinHandle<()>> {
    if CLOCK.get().is_some() {
        return None;
    }
    let spawned = std::thread::Builder::new()
        .name("dagflow-clock".to_string())
        .spawn(|| drop(shared_clock()));
    match spawned {
        Ok(handle) => Some(handle),
        Err(error) => {
            // Not fatal: the first run calibrates the clock itself.
            tracing::debug!(%error, "cannot start the clock calibration thread");
            None
        }
    }
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
    fn a_background_calibration_leaves_the_shared_clock_ready() {
        if let Some(thread) = calibrate_in_background() {
            thread.join().unwrap();
        }
        assert!(CLOCK.get().is_some());
        assert!(calibrate_in_background().is_none());
    }

    #[test]
    fn spans_are_converted_to_nanoseconds_of_wall_time() {
        let clock = StepClock::start();
        let before = clock.now();
        std::thread::sleep(Duration::from_millis(30));
        let ms = clock.nanos(clock.now() - before) as f64 / 1e6;
        assert!((29.0..200.0).contains(&ms), "{ms} ms");
    }
}
