//! Cancelling a run from outside (another task, a Ctrl-C handler).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

/// Cancels a workflow's runs; cloneable, `Send + Sync`.
///
/// Cancelling stops the run in flight (or the next one, if none runs yet):
/// no new task starts, running actions see
/// [`TaskContext::cancellation`](super::TaskContext::cancellation)
/// cancelled, and `run()` returns [`WorkflowError::Cancelled`](super::WorkflowError::Cancelled)
/// once they returned (see [`Workflow::cancel_grace`](super::Workflow::cancel_grace)).
/// A cancelled workflow stays cancelled: every later `run()` is cancelled
/// at once.
///
/// ```
/// use dagflow::engine::workflow::{TaskContext, TaskOptions, Workflow, WorkflowError};
/// use serde_json::json;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut wf = Workflow::new("long");
/// wf.add_task("wait", |ctx: TaskContext| async move {
///     ctx.cancellation().cancelled().await;   // a long action that watches the token
///     Ok::<_, String>(json!("stopped"))
/// }, TaskOptions::new());
/// let cancel = wf.cancel_handle();
/// tokio::spawn(async move { cancel.cancel() });
/// assert!(matches!(wf.run().await, Err(WorkflowError::Cancelled { .. })));
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelHandle {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    cancelled: AtomicBool,
    token: CancellationToken,
}

impl CancelHandle {
    /// A handle that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation. Idempotent.
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::Release);
        self.inner.token.cancel();
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Acquire)
    }

    pub(crate) fn token(&self) -> &CancellationToken {
        &self.inner.token
    }
}
