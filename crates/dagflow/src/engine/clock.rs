//! The clock both engines time tasks with.
//!
//! Every task's duration is measured, so the clock is read once or twice
//! per task. `Instant::now()` costs 20-30 ns (a vDSO call), more than a
//! no-op step, so the engines read a CPU counter and convert tick counts
//! to nanoseconds: the time-stamp counter on x86-64 CPUs that report it
//! invariant (`rdtsc`, about 11 ns in a VM), the generic timer's count on
//! 64-bit ARM (`cntvct_el0`). Elsewhere they read `Instant` as nanoseconds
//! since the process's first reading.
//!
//! Converting ticks needs the counter's rate, and measuring it up front
//! (as `quanta` does: at least 500 busy-wait rounds of 1 µs) cost the first
//! run of every process 0.6 ms, 10-15 ms on a busy machine. Instead, the
//! [`Timebase`] pairs one counter reading with one `Instant` when it is
//! created and estimates the rate from that pair and a fresh one whenever a
//! conversion is asked for at more than twice the age of the last estimate:
//! a few dozen estimates over a process's life, at about 150 ns each.
//!
//! The estimate's error shrinks with its age: a pair is read to within the
//! few tens of nanoseconds between two counter readings around one
//! `Instant::now()`, so a rate estimated `E` after the base is off by that
//! much over `E`. A span converted with it ends at most `2 E` after the
//! base (or a new estimate would have been made), so its duration is off
//! by at most a few times that width (tens of nanoseconds) whatever its
//! length: well below the microseconds the journal stores.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Fractional bits of the fixed-point nanoseconds-per-tick scale.
const SCALE_SHIFT: u32 = 32;

/// Readings of a [`Timebase`]'s source and their conversion to
/// nanoseconds. Cheap to copy; every copy shares the process's timebase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TaskClock {
    /// The timebase's `counter`, copied so that a reading needs no load
    /// through the reference.
    counter: bool,
    timebase: &'static Timebase,
}

impl TaskClock {
    /// The process's clock (its timebase is made by the first call).
    pub(crate) fn get() -> TaskClock {
        static TIMEBASE: OnceLock<Timebase> = OnceLock::new();
        TaskClock::on(TIMEBASE.get_or_init(Timebase::new))
    }

    /// A clock reading `timebase`.
    pub(crate) fn on(timebase: &'static Timebase) -> TaskClock {
        TaskClock {
            counter: timebase.counter,
            timebase,
        }
    }

    /// The current raw reading (ticks of the source).
    #[inline(always)]
    pub(crate) fn raw(&self) -> u64 {
        if self.counter {
            counter::read()
        } else {
            self.timebase.monotonic_nanos()
        }
    }

    /// Nanoseconds from the reading `start` to the later reading `end`
    /// (0 if `end` is earlier, as readings on two cores can be).
    #[inline]
    pub(crate) fn between(&self, start: u64, end: u64) -> u64 {
        self.span_nanos(end.saturating_sub(start), end)
    }

    /// Nanoseconds in `span` ticks, for a span that ended at or before the
    /// reading `recent`.
    #[inline]
    pub(crate) fn span_nanos(&self, span: u64, recent: u64) -> u64 {
        if !self.counter {
            return span;
        }
        let scale = self.timebase.scale_at(recent);
        ((u128::from(span) * u128::from(scale)) >> SCALE_SHIFT) as u64
    }
}

/// Where a process's clock readings start, and the current estimate of
/// the counter's rate.
#[derive(Debug)]
pub(crate) struct Timebase {
    /// Whether readings come from the time-stamp counter (else from
    /// `Instant`, already in nanoseconds).
    counter: bool,
    base_instant: Instant,
    base_ticks: u64,
    /// Nanoseconds per tick in 32.32 fixed point; 0 before the first
    /// estimate.
    scale: AtomicU64,
    /// Ticks from the base to the pair the scale was estimated from.
    estimated_at: AtomicU64,
}

impl Timebase {
    /// A timebase on the best source of this machine.
    pub(crate) fn new() -> Timebase {
        Timebase::with_counter(counter::usable())
    }

    /// A timebase reading the counter (`true`) or `Instant` (`false`).
    pub(crate) fn with_counter(counter: bool) -> Timebase {
        let (base_instant, base_ticks) = if counter {
            paired_reading()
        } else {
            (Instant::now(), 0)
        };
        Timebase {
            counter,
            base_instant,
            base_ticks,
            scale: AtomicU64::new(0),
            estimated_at: AtomicU64::new(0),
        }
    }

    /// Nanoseconds since the base on `Instant` (the fallback source).
    #[inline]
    fn monotonic_nanos(&self) -> u64 {
        u64::try_from(self.base_instant.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The scale to convert a span ending at or before the reading `recent`:
    /// the current estimate, unless `recent` is more than twice as far
    /// from the base as that estimate, which is then renewed.
    #[inline]
    fn scale_at(&self, recent: u64) -> u64 {
        let age = recent.saturating_sub(self.base_ticks);
        let scale = self.scale.load(Ordering::Relaxed);
        if scale != 0 && age <= self.estimated_at.load(Ordering::Relaxed).saturating_mul(2) {
            return scale;
        }
        self.estimate()
    }

    /// Estimates the scale from the base and a fresh pair of readings.
    /// Threads that estimate at the same time each store a valid estimate;
    /// whichever lands last stays.
    #[cold]
    fn estimate(&self) -> u64 {
        let (instant, ticks) = paired_reading();
        let nanos = instant
            .saturating_duration_since(self.base_instant)
            .as_nanos();
        let elapsed = ticks.saturating_sub(self.base_ticks);
        if elapsed == 0 || nanos == 0 {
            // Too soon to tell: one tick per nanosecond until the next try.
            return self.scale.load(Ordering::Relaxed).max(1 << SCALE_SHIFT);
        }
        let scale = ((nanos << SCALE_SHIFT) / u128::from(elapsed)).clamp(1, u128::from(u64::MAX));
        let scale = scale as u64;
        self.estimated_at.store(elapsed, Ordering::Relaxed);
        self.scale.store(scale, Ordering::Relaxed);
        scale
    }
}

/// An `Instant` and the counter reading taken with it: of three tries,
/// the one whose two counter readings around the `Instant` lie closest,
/// its counter value halfway between them (a try interrupted by the
/// scheduler is left out).
fn paired_reading() -> (Instant, u64) {
    let read = || {
        let before = counter::read();
        let instant = Instant::now();
        let width = counter::read().saturating_sub(before);
        (width, instant, before + width / 2)
    };
    let (_, instant, ticks) =
        (0..2).map(|_| read()).fold(
            read(),
            |best, next| {
                if next.0 < best.0 {
                    next
                } else {
                    best
                }
            },
        );
    (instant, ticks)
}

/// The time-stamp counter.
#[cfg(target_arch = "x86_64")]
mod counter {
    use std::arch::x86_64::{__cpuid, _rdtsc};

    /// Whether the counter runs at a constant rate in every power state
    /// (CPUID's invariant-TSC flag), so that tick counts convert to time.
    pub(super) fn usable() -> bool {
        const ADVANCED_POWER_MANAGEMENT: u32 = 0x8000_0007;
        const INVARIANT_TSC: u32 = 1 << 8;
        let highest = __cpuid(0x8000_0000).eax;
        highest >= ADVANCED_POWER_MANAGEMENT
            && __cpuid(ADVANCED_POWER_MANAGEMENT).edx & INVARIANT_TSC != 0
    }

    #[inline(always)]
    pub(super) fn read() -> u64 {
        // SAFETY: `rdtsc` exists on every x86-64 CPU and only reads the
        // counter.
        unsafe { _rdtsc() }
    }
}

/// The generic timer's virtual count (ARMv8 and later), which runs at a
/// constant rate by definition. Not on iOS, where user code cannot read it.
#[cfg(all(target_arch = "aarch64", not(target_os = "ios")))]
mod counter {
    pub(super) fn usable() -> bool {
        true
    }

    #[inline(always)]
    pub(super) fn read() -> u64 {
        let ticks: u64;
        // SAFETY: `mrs cntvct_el0` only reads the counter register, which
        // Linux, macOS and Windows let user code read.
        unsafe {
            std::arch::asm!(
                "mrs {ticks}, cntvct_el0",
                ticks = out(reg) ticks,
                options(nomem, nostack, preserves_flags)
            );
        }
        ticks
    }
}

/// No counter: the clock reads `Instant`.
#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", not(target_os = "ios"))
)))]
mod counter {
    pub(super) fn usable() -> bool {
        false
    }

    #[inline(always)]
    pub(super) fn read() -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn leaked(timebase: Timebase) -> &'static Timebase {
        Box::leak(Box::new(timebase))
    }

    /// Converted spans agree with `Instant` to within 1 % and 20 µs,
    /// for a span measured right after the timebase was made (the first
    /// estimate) and for later ones.
    fn assert_spans_match_instant(clock: TaskClock) {
        for sleep_ms in [0, 1, 3, 12] {
            let started = Instant::now();
            let start = clock.raw();
            std::thread::sleep(Duration::from_millis(sleep_ms));
            let end = clock.raw();
            let reference = started.elapsed().as_nanos() as f64;
            let converted = clock.between(start, end) as f64;
            let tolerance = reference * 0.01 + 20_000.0;
            assert!(
                (converted - reference).abs() <= tolerance,
                "sleep {sleep_ms} ms: counter {converted} ns, Instant {reference} ns"
            );
        }
    }

    #[test]
    fn spans_on_a_fresh_counter_timebase_match_instant() {
        let timebase = leaked(Timebase::with_counter(counter::usable()));
        assert_spans_match_instant(TaskClock::on(timebase));
    }

    #[test]
    fn spans_on_the_instant_fallback_match_instant() {
        let timebase = leaked(Timebase::with_counter(false));
        let clock = TaskClock::on(timebase);
        assert_spans_match_instant(clock);
        assert_eq!(clock.span_nanos(1234, clock.raw()), 1234);
    }

    #[test]
    fn the_scale_is_renewed_only_when_spans_end_twice_as_late() {
        if !counter::usable() {
            return;
        }
        let timebase = leaked(Timebase::with_counter(true));
        let clock = TaskClock::on(timebase);
        std::thread::sleep(Duration::from_millis(2));
        let first = clock.raw();
        clock.between(first, first);
        let estimated_at = timebase.estimated_at.load(Ordering::Relaxed);
        assert!(estimated_at > 0);
        // Within twice the age: the same estimate.
        let scale = timebase.scale.load(Ordering::Relaxed);
        assert_eq!(
            timebase.scale_at(timebase.base_ticks + estimated_at * 2),
            scale
        );
        assert_eq!(timebase.estimated_at.load(Ordering::Relaxed), estimated_at);
        // Later: a new estimate, from a later pair.
        std::thread::sleep(Duration::from_millis(2));
        timebase.scale_at(timebase.base_ticks + estimated_at * 2 + 1);
        assert!(timebase.estimated_at.load(Ordering::Relaxed) > estimated_at);
    }

    #[test]
    fn spans_ending_before_they_start_last_nothing() {
        let clock = TaskClock::get();
        let now = clock.raw();
        assert_eq!(clock.between(now + 1_000_000, now), 0);
    }
}
