//! Process groups: signalling a task's whole process tree, and the registry
//! of groups still alive so that nothing outlives `dagflow`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Sends `signal` to every process of group `pgid`. Returns whether any
/// process received it (false once the group is gone).
pub(crate) fn signal_group(pgid: i32, signal: libc::c_int) -> bool {
    if pgid <= 1 {
        // Never signal "every process" (-1) or our own group (0).
        return false;
    }
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
    // addresses the process group.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

/// Whether any process of group `pgid` still exists (zombies included).
pub(crate) fn group_alive(pgid: i32) -> bool {
    signal_group(pgid, 0)
}

/// The name of a signal number, for messages.
pub(crate) fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        _ => "a signal",
    }
}

#[derive(Debug, Clone, Copy)]
struct GroupState {
    /// When SIGTERM was sent, if it was.
    terminated_at: Option<Instant>,
}

/// The process groups started by a [`ProcessRunner`](super::ProcessRunner)
/// that may still have live processes.
///
/// Groups are added when a task's process starts and removed once nothing of
/// them is left. [`kill_all`](Self::kill_all) is the "second Ctrl-C" path;
/// [`shutdown`](Self::shutdown) makes sure no group outlives the program.
#[derive(Debug, Clone, Default)]
pub struct ProcessGroups {
    inner: Arc<Mutex<HashMap<i32, GroupState>>>,
}

impl ProcessGroups {
    fn lock(&self) -> MutexGuard<'_, HashMap<i32, GroupState>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn register(&self, pgid: i32) {
        self.lock().insert(
            pgid,
            GroupState {
                terminated_at: None,
            },
        );
    }

    pub(crate) fn deregister(&self, pgid: i32) {
        self.lock().remove(&pgid);
    }

    /// Sends SIGTERM to the group and remembers when.
    pub(crate) fn terminate(&self, pgid: i32) {
        if let Some(state) = self.lock().get_mut(&pgid) {
            state.terminated_at.get_or_insert_with(Instant::now);
        }
        signal_group(pgid, libc::SIGTERM);
    }

    /// Number of groups that may still have live processes.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no group is left.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Sends SIGKILL to every group at once.
    pub fn kill_all(&self) {
        let groups: Vec<i32> = self.lock().keys().copied().collect();
        for pgid in groups {
            signal_group(pgid, libc::SIGKILL);
        }
    }

    /// Waits until every group is gone: groups sent SIGTERM get SIGKILL once
    /// `grace` has passed since; groups never terminated (tasks still
    /// running) are sent SIGTERM first. Returns when nothing is left, or
    /// after a final SIGKILL and a short wait.
    pub async fn shutdown(&self, grace: Duration) {
        let groups: Vec<(i32, GroupState)> = self.lock().iter().map(|(k, v)| (*k, *v)).collect();
        let now = Instant::now();
        let mut deadline = now;
        for (pgid, state) in groups {
            if !group_alive(pgid) {
                self.deregister(pgid);
                continue;
            }
            let since = match state.terminated_at {
                Some(t) => t,
                None => {
                    self.terminate(pgid);
                    now
                }
            };
            deadline = deadline.max(since + grace);
        }
        loop {
            self.lock().retain(|pgid, _| group_alive(*pgid));
            if self.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.kill_all();
        let give_up = Instant::now() + Duration::from_secs(1);
        while !self.is_empty() && Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.lock().retain(|pgid, _| group_alive(*pgid));
        }
    }
}
