//! The shared, mutable context every step of a sync run reads and writes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::plan::Plan;

/// The state a sync run passes from step to step: the specification's
/// context dict.
///
/// It holds values you put in (before the run or from a step) and, under
/// each completed step's name, that step's result. Reading a key looks at
/// your values first, then at step results, and the most recent write wins:
/// when a step completes, its result replaces a value of the same name.
///
/// ```
/// use dagflow::engine::runner::{WorkflowContext, WorkflowRunner, WorkflowStep};
/// use serde_json::json;
///
/// let mut runner = WorkflowRunner::new("sum");
/// runner.add_step(WorkflowStep::new("a").action(|ctx: &mut WorkflowContext| {
///     Ok::<_, String>(json!(ctx.get("base").and_then(|v| v.as_i64()).unwrap_or(0) + 1))
/// }))?;
/// runner.add_step(WorkflowStep::new("b").depends_on(["a"]).action(|ctx: &mut WorkflowContext| {
///     let a = ctx.get("a").and_then(|v| v.as_i64()).ok_or("step a has no result")?;
///     ctx.insert("note", "b ran");
///     Ok::<_, String>(json!(a * 10))
/// }))?;
/// let mut start = WorkflowContext::new();
/// start.insert("base", 4);
/// let result = runner.run(start)?;
/// assert_eq!(result.context.get("b"), Some(&json!(50)));
/// assert_eq!(result.context.get("note"), Some(&json!("b ran")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct WorkflowContext {
    values: Map<String, Value>,
    results: Results,
    cancelled: Option<Arc<AtomicBool>>,
}

/// Where a context keeps the step results of its run.
///
/// The runner owns them outright while steps run inline, so recording a
/// result is a plain write. A step with a timeout runs on a helper thread
/// that reads them too: they are moved into an `Arc` for as long as the
/// thread may read them. When the thread returns in time they are owned
/// again without a copy; if it timed out and still runs, the next write
/// copies them once, so the abandoned step keeps a consistent snapshot.
#[derive(Debug, Clone, Default)]
enum Results {
    #[default]
    None,
    Owned(StepResults),
    Shared(Arc<StepResults>),
}

impl Results {
    fn get(&self) -> Option<&StepResults> {
        match self {
            Results::None => None,
            Results::Owned(results) => Some(results),
            Results::Shared(results) => Some(results),
        }
    }

    /// The results to write into (inlined: the run loop calls it once per
    /// step, and the owned case is one comparison).
    #[inline]
    fn make_mut(&mut self) -> Option<&mut StepResults> {
        if let Results::Shared(_) = self {
            self.unshare();
        }
        match self {
            Results::Owned(results) => Some(results),
            _ => None,
        }
    }

    /// The owned slots, if the next free one is `position` and there is
    /// room for it: the one case [`WorkflowContext::record_result`] handles
    /// inline. No call, so nothing to unwind.
    #[inline(always)]
    fn next_slot(&mut self, position: usize) -> Option<&mut Vec<Option<Value>>> {
        match self {
            Results::Owned(results)
                if results.slots.len() == position
                    && results.slots.len() < results.slots.capacity() =>
            {
                Some(&mut results.slots)
            }
            _ => None,
        }
    }

    /// Turns shared results into owned ones (copied if a fork still holds
    /// them: a step that timed out and still runs).
    #[cold]
    fn unshare(&mut self) {
        if let Results::Shared(shared) = std::mem::take(self) {
            let owned = Arc::try_unwrap(shared).unwrap_or_else(|s| StepResults::clone(&s));
            *self = Results::Owned(owned);
        }
    }

    fn share(&mut self) -> Option<Arc<StepResults>> {
        if let Results::Owned(_) = self {
            if let Results::Owned(owned) = std::mem::take(self) {
                *self = Results::Shared(Arc::new(owned));
            }
        }
        match self {
            Results::Shared(results) => Some(Arc::clone(results)),
            _ => None,
        }
    }
}

/// Results of the steps of one run, by position in execution order.
#[derive(Debug, Clone)]
pub(crate) struct StepResults {
    plan: Arc<Plan>,
    /// Filled front to back as steps finish: position `p` has no result
    /// yet when `p >= slots.len()` (writing each slot once, in order, keeps
    /// memory traffic at one pass).
    slots: Vec<Option<Value>>,
}

impl StepResults {
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.at(self.plan.position_of(name)?)
    }

    pub(crate) fn at(&self, position: usize) -> Option<&Value> {
        self.slots.get(position).and_then(Option::as_ref)
    }
}

impl WorkflowContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// A context holding `values`.
    pub fn from_map(values: Map<String, Value>) -> Self {
        WorkflowContext {
            values,
            ..Self::default()
        }
    }

    /// The value under `key`: one you inserted, else the result of the
    /// completed step called `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values
            .get(key)
            .or_else(|| self.results.get().and_then(|r| r.get(key)))
    }

    /// The result of the step called `step` in the current (or last) run,
    /// ignoring inserted values.
    pub fn result(&self, step: &str) -> Option<&Value> {
        self.results.get().and_then(|r| r.get(step))
    }

    /// Whether `key` has a value (inserted or a step result).
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`, returning the value it replaces among inserted values.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        self.values.insert(key.into(), value.into())
    }

    /// Removes an inserted value. Step results of the run cannot be removed;
    /// [`get`](Self::get) falls back to them.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.values.remove(key)
    }

    /// The inserted values (without step results).
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    /// Every key and value: step results of completed steps, overridden by
    /// values inserted after them.
    pub fn to_map(&self) -> Map<String, Value> {
        let mut map = self.values.clone();
        self.merge_results_into(&mut map);
        map
    }

    /// Like [`to_map`](Self::to_map), consuming the context.
    pub fn into_map(self) -> Map<String, Value> {
        let mut map = self.values;
        if let Some(results) = self.results.get() {
            merge(results, &mut map);
        }
        map
    }

    /// True inside a step whose timeout expired: the runner has moved on and
    /// will ignore what the step does from now on, so it should return soon.
    /// Always false for steps without a timeout.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Acquire))
    }

    /// Prepares the context for a run of `dag`: results of an earlier run
    /// become plain values (unless a later value replaced them) and new
    /// result slots are attached.
    pub(crate) fn begin_run(&mut self, plan: Arc<Plan>) {
        if let Some(previous) = std::mem::take(&mut self.results).get() {
            merge(previous, &mut self.values);
        }
        let slots = Vec::with_capacity(plan.len());
        self.results = Results::Owned(StepResults { plan, slots });
        self.cancelled = None;
    }

    /// Stores the result of the step at `position`; it replaces an inserted
    /// value of the same name (the most recent write wins).
    ///
    /// Inlined into each action's wrapper, so that the value the action
    /// builds is stored straight into its slot. Nothing between the action's
    /// return and that store may call out (a call that can unwind makes the
    /// compiler keep the value on the stack and copy it).
    #[inline(always)]
    pub(crate) fn record_result(&mut self, position: usize, value: Value) {
        match self.results.next_slot(position) {
            Some(slots) => {
                slots.spare_capacity_mut()[0].write(Some(value));
                // SAFETY: the slot at `len` (= `position`) was just written.
                unsafe { slots.set_len(position + 1) };
            }
            None => self.record_result_after_gap(position, value),
        }
        if !self.values.is_empty() {
            self.remove_value_of_step(position);
        }
    }

    /// [`record_result`](Self::record_result) when the slot is not the next
    /// free one: steps before it failed or were skipped (their slots stay
    /// empty), or the results are shared with a step on a helper thread.
    #[cold]
    #[inline(never)]
    fn record_result_after_gap(&mut self, position: usize, value: Value) {
        if let Some(results) = self.results.make_mut() {
            if results.slots.len() < position {
                results.slots.resize(position, None);
            }
            results.slots.push(Some(value));
        }
    }

    /// Removes the inserted value named like the step at `position`.
    #[cold]
    fn remove_value_of_step(&mut self, position: usize) {
        if let Some(results) = self.results.get() {
            let name = results.plan.name_at(position);
            self.values.remove(name);
        }
    }

    /// The recorded result of the step at `position`, to move out and back
    /// in (observers are shown it without a copy).
    pub(crate) fn result_slot(&mut self, position: usize) -> Option<&mut Option<Value>> {
        self.results.make_mut()?.slots.get_mut(position)
    }

    /// The results of the current run, shared.
    pub(crate) fn share_results(&mut self) -> Option<Arc<StepResults>> {
        self.results.share()
    }

    /// A copy for a step that runs on a helper thread: own values, shared
    /// results, and a flag the runner raises when the step times out.
    pub(crate) fn fork(&mut self, cancelled: Arc<AtomicBool>) -> WorkflowContext {
        WorkflowContext {
            values: self.values.clone(),
            results: self.share_results().map_or(Results::None, Results::Shared),
            cancelled: Some(cancelled),
        }
    }

    /// Takes over the values of a fork whose step finished in time.
    pub(crate) fn adopt(&mut self, fork: WorkflowContext) {
        self.values = fork.values;
    }

    fn merge_results_into(&self, map: &mut Map<String, Value>) {
        if let Some(results) = self.results.get() {
            merge(results, map);
        }
    }
}

/// Adds each recorded result to `map` unless `map` already has the key
/// (a value written after the step completed).
fn merge(results: &StepResults, map: &mut Map<String, Value>) {
    for (position, slot) in results.slots.iter().enumerate() {
        let name = results.plan.name_at(position);
        if let Some(value) = slot {
            if !map.contains_key(name) {
                map.insert(name.to_string(), Value::clone(value));
            }
        }
    }
}

impl From<Map<String, Value>> for WorkflowContext {
    fn from(values: Map<String, Value>) -> Self {
        WorkflowContext::from_map(values)
    }
}

impl serde::Serialize for WorkflowContext {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(serializer)
    }
}
