//! Step timing for the run loop.
//!
//! Every step's duration is measured, so the clock is read once per step.
//! `Instant::now()` costs 20-30 ns (a vDSO call), more than a no-op step
//! itself; on x86_64 CPUs with an invariant time-stamp counter the loop
//! reads the counter instead (a few ns) and converts ticks to nanoseconds at
//! the end of the run, calibrated against `Instant` over the same run. When
//! observers are attached, events need durations at once, so the loop uses
//! `Instant` directly.

use std::sync::OnceLock;
use std::time::Instant;

/// Reads either the time-stamp counter or nanoseconds since `origin`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepClock {
    origin: Instant,
    origin_ticks: u64,
    tsc: bool,
}

impl StepClock {
    /// A clock starting now; `allow_tsc` is false when durations must be in
    /// nanoseconds immediately.
    pub(crate) fn start(allow_tsc: bool) -> StepClock {
        let tsc = allow_tsc && invariant_tsc();
        let origin_ticks = if tsc { read_tsc() } else { 0 };
        StepClock {
            origin: Instant::now(),
            origin_ticks,
            tsc,
        }
    }

    /// The current reading, in ticks or nanoseconds.
    #[inline(always)]
    pub(crate) fn now(&self) -> u64 {
        if self.tsc {
            read_tsc()
        } else {
            self.origin.elapsed().as_nanos() as u64
        }
    }

    /// Converts readings differences taken since [`start`](Self::start) to
    /// nanoseconds, in place.
    pub(crate) fn finish(&self, spans: &mut [u64]) {
        if !self.tsc {
            return;
        }
        let nanos = self.origin.elapsed().as_nanos() as f64;
        let ticks = read_tsc().wrapping_sub(self.origin_ticks) as f64;
        let scale = if ticks > 0.0 { nanos / ticks } else { 0.0 };
        for span in spans {
            *span = (*span as f64 * scale).round() as u64;
        }
    }
}

/// Whether the CPU's time-stamp counter ticks at a constant rate in every
/// power state (CPUID 0x8000_0007, EDX bit 8), checked once.
fn invariant_tsc() -> bool {
    static INVARIANT: OnceLock<bool> = OnceLock::new();
    *INVARIANT.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::__cpuid;
            __cpuid(0x8000_0000).eax >= 0x8000_0007 && (__cpuid(0x8000_0007).edx >> 8) & 1 == 1
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

#[inline(always)]
fn read_tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: RDTSC only reads the time-stamp counter; it has no memory
    // effects and exists on every x86_64 CPU.
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn spans_are_converted_to_nanoseconds_of_wall_time() {
        for allow_tsc in [false, true] {
            let clock = StepClock::start(allow_tsc);
            let before = clock.now();
            std::thread::sleep(Duration::from_millis(30));
            let mut spans = [clock.now() - before];
            clock.finish(&mut spans);
            let ms = spans[0] as f64 / 1e6;
            assert!((29.0..200.0).contains(&ms), "tsc {allow_tsc}: {ms} ms");
        }
    }
}
