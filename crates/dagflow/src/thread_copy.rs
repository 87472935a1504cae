//! Per-thread copies of strings that many threads share.
//!
//! Every event of a run carries the run's id as an `Arc<str>`, and the
//! journal's entries carry it and the workflow's name. Cloning one shared
//! `Arc` from every worker thread makes its reference count a cache line
//! that moves between the cores on each task: on two cores, several of
//! those per task cost more than journaling the task itself. A thread that
//! asks for its own copy gets one `Arc` per thread instead, whose count
//! only that thread touches (the copies compare equal to the original:
//! they hold the same text).

use std::cell::RefCell;
use std::sync::Arc;

/// How many strings each thread keeps copies of (the run ids and workflow
/// names of the runs it recently worked on).
const KEPT: usize = 4;

#[derive(Default)]
struct Copies {
    kept: [Option<Arc<str>>; KEPT],
    next: usize,
}

thread_local! {
    static COPIES: RefCell<Copies> = RefCell::default();
}

/// A copy of `shared` owned by this thread (the same text, in an
/// allocation only this thread's clones touch); `shared` itself when the
/// thread is shutting down.
pub(crate) fn thread_copy(shared: &Arc<str>) -> Arc<str> {
    COPIES
        .try_with(|copies| {
            let mut copies = copies.borrow_mut();
            if let Some(own) = copies.kept.iter().flatten().find(|own| ***own == **shared) {
                return Arc::clone(own);
            }
            let own: Arc<str> = Arc::from(&**shared);
            let slot = copies.next;
            copies.kept[slot] = Some(Arc::clone(&own));
            copies.next = (slot + 1) % KEPT;
            own
        })
        .unwrap_or_else(|_| Arc::clone(shared))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_reuses_its_copy_and_other_threads_get_their_own() {
        let shared: Arc<str> = Arc::from("run-1");
        let first = thread_copy(&shared);
        let again = thread_copy(&shared);
        assert_eq!(*first, *shared);
        assert!(
            !Arc::ptr_eq(&first, &shared),
            "a copy, not the shared string"
        );
        assert!(Arc::ptr_eq(&first, &again), "the same copy each time");
        let elsewhere = std::thread::scope(|s| s.spawn(|| thread_copy(&shared)).join())
            .expect("the thread ends");
        assert_eq!(*elsewhere, *shared);
        assert!(!Arc::ptr_eq(&elsewhere, &first));
    }

    #[test]
    fn older_strings_make_room_for_new_ones() {
        let strings: Vec<Arc<str>> = (0..KEPT + 1).map(|i| Arc::from(format!("s{i}"))).collect();
        let copies: Vec<Arc<str>> = strings.iter().map(thread_copy).collect();
        // The first was replaced by the last; the others are still kept.
        assert!(!Arc::ptr_eq(&thread_copy(&strings[0]), &copies[0]));
        assert!(Arc::ptr_eq(&thread_copy(&strings[KEPT]), &copies[KEPT]));
        for (s, c) in strings.iter().zip(&copies) {
            assert_eq!(**s, **c);
        }
    }
}
