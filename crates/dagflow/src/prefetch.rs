//! Cache prefetch hints for the engines' hot loops.
//!
//! Every task's action is a closure in a heap block of its own, placed
//! wherever the allocator found room while the graph was built. On graphs
//! of 100,000 tasks those blocks are scattered over tens of MiB, and
//! loading each one from memory when its task starts took longer than
//! running a no-op task. The engines know a little ahead which actions they
//! will call (the sync runner's plan order; in the async engine, a task
//! that has just become ready), so they ask the CPU to start loading them
//! early.

/// Asks the CPU to start loading the cache line holding the start of
/// `value`, without waiting for it.
///
/// Only a hint: it changes no result, and on targets other than x86-64 it
/// does nothing.
#[inline(always)]
pub(crate) fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let address = std::ptr::from_ref(value).cast::<i8>();
        // SAFETY: `prefetcht0` belongs to SSE, which every x86-64 CPU has.
        // It never faults and reads nothing into the program; the address
        // comes from a live reference anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(address) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Like [`prefetch`], for every cache line `value` spans.
#[inline(always)]
pub(crate) fn prefetch_all<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let start = std::ptr::from_ref(value).cast::<i8>();
        let size = std::mem::size_of::<T>();
        // Every 64 bytes from the start, and the last byte: a value that
        // does not start on a line boundary ends on one line more.
        for offset in (0..size).step_by(64).chain(size.checked_sub(1)) {
            // SAFETY: as in `prefetch`: the hint never faults, and the
            // addresses lie inside the referenced value.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
