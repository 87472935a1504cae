//! Retry with exponential backoff.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::error::TaskError;

type RetryPredicate = dyn Fn(&TaskError) -> bool + Send + Sync;

/// How often and how patiently a failed task is tried again.
///
/// The wait after failed attempt `n` (from 1) is
/// `min(initial_delay * exponential_base^(n-1), max_delay)`, shortened by a
/// random part of up to `jitter` of itself when jitter is set. A cancelled
/// attempt is never retried; other errors are retried unless a
/// [`retry_if`](Self::retry_if) predicate says no.
///
/// The default is 3 attempts, 1 s initial delay, 60 s maximum delay, base 2,
/// no jitter. A task without a retry policy is attempted once.
///
/// ```
/// use dagflow::engine::workflow::{RetryPolicy, TaskError};
/// use std::time::Duration;
///
/// let policy = RetryPolicy::default()
///     .max_attempts(5)
///     .initial_delay(Duration::from_millis(100))
///     .retry_if(|e: &TaskError| !e.is_timeout());
/// assert_eq!(policy.delay(1), Duration::from_millis(100));
/// assert_eq!(policy.delay(3), Duration::from_millis(400));
/// assert!(!policy.should_retry(&TaskError::Timeout { after: Duration::from_secs(1) }));
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
    exponential_base: f64,
    jitter: f64,
    retry_if: Option<Arc<RetryPredicate>>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            exponential_base: 2.0,
            jitter: 0.0,
            retry_if: None,
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("initial_delay", &self.initial_delay)
            .field("max_delay", &self.max_delay)
            .field("exponential_base", &self.exponential_base)
            .field("jitter", &self.jitter)
            .field("retry_if", &self.retry_if.as_ref().map(|_| ".."))
            .finish()
    }
}

impl RetryPolicy {
    /// The default policy (3 attempts, 1 s, 60 s, base 2).
    pub fn new() -> Self {
        Self::default()
    }

    /// A policy that makes a single attempt.
    pub fn none() -> Self {
        Self::default().max_attempts(1)
    }

    /// Total number of attempts, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The wait after the first failed attempt.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest wait between two attempts.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The factor by which the wait grows after each failed attempt.
    /// Negative or non-finite values are replaced by 1 (constant delay).
    pub fn exponential_base(mut self, base: f64) -> Self {
        self.exponential_base = if base.is_finite() && base >= 0.0 {
            base
        } else {
            1.0
        };
        self
    }

    /// Randomly shortens each wait by up to `fraction` of itself (clamped to
    /// `0.0..=1.0`), so that many tasks failing together do not retry in
    /// lockstep.
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// Retries only errors for which `predicate` returns true.
    pub fn retry_if<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&TaskError) -> bool + Send + Sync + 'static,
    {
        self.retry_if = Some(Arc::new(predicate));
        self
    }

    /// The configured number of attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait after failed attempt `attempt` (from 1), without jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(i32::MAX as u32) as i32;
        let secs = self.initial_delay.as_secs_f64() * self.exponential_base.powi(exponent);
        if !secs.is_finite() {
            return self.max_delay;
        }
        Duration::try_from_secs_f64(secs)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The wait after failed attempt `attempt`, with jitter applied.
    pub fn delay_with_jitter(&self, attempt: u32) -> Duration {
        let delay = self.delay(attempt);
        if self.jitter == 0.0 {
            return delay;
        }
        delay.mul_f64(1.0 - self.jitter * fastrand::f64())
    }

    /// Whether an attempt that failed with `error` may be retried (ignoring
    /// the attempt count).
    pub fn should_retry(&self, error: &TaskError) -> bool {
        if matches!(error, TaskError::Cancelled) {
            return false;
        }
        self.retry_if.as_ref().is_none_or(|p| p(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_grows_exponentially_up_to_the_maximum() {
        let p = RetryPolicy::default();
        let secs: Vec<u64> = (1..=8).map(|a| p.delay(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn huge_exponents_saturate_at_the_maximum() {
        let p = RetryPolicy::default().exponential_base(10.0);
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn jitter_only_shortens_the_delay() {
        let p = RetryPolicy::default().jitter(0.5);
        for _ in 0..100 {
            let d = p.delay_with_jitter(2);
            assert!(
                d <= Duration::from_secs(2) && d >= Duration::from_secs(1),
                "{d:?}"
            );
        }
    }

    #[test]
    fn cancelled_attempts_are_never_retried() {
        let p = RetryPolicy::default().retry_if(|_| true);
        assert!(!p.should_retry(&TaskError::Cancelled));
        assert!(p.should_retry(&TaskError::Panicked {
            message: "x".into()
        }));
    }
}
