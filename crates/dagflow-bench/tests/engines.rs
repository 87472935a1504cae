//! Every engine adapter runs the small workloads it supports and returns
//! every task's value exactly once (checked inside `measure`).

use dagflow_bench::engines::{self, BenchError, Engine};
use dagflow_bench::workload::Workload;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("tokio runtime: {e}"))
}

fn workload(name: &str) -> Workload {
    Workload::by_name(name).unwrap_or_else(|| panic!("workload {name} is not defined"))
}

#[test]
fn every_engine_runs_the_small_workloads_it_supports() {
    let rt = runtime();
    for name in ["chain-1000", "fanout-10000", "sleepy-10x100"] {
        let spec = workload(name).generate();
        for &engine in engines::ALL {
            let outcome = engine.measure(&spec, Some(&rt));
            match (engine.unsupported_reason(&spec.workload), outcome) {
                (None, Ok(sample)) => assert!(!sample.run.is_zero(), "{} {name}", engine.name()),
                (Some(_), Err(BenchError::Unsupported { .. })) => {}
                (reason, outcome) => panic!(
                    "{} on {name}: reason {reason:?}, outcome {outcome:?}",
                    engine.name()
                ),
            }
        }
    }
}

#[test]
fn sync_engines_refuse_sleeping_bodies() {
    let spec = workload("sleepy-10x100").generate();
    for engine in [
        Engine::RefSync,
        Engine::DagflowSync,
        Engine::DagflowSyncUntimed,
    ] {
        let err = engine.measure(&spec, None).err();
        assert!(
            matches!(
                err,
                Some(BenchError::Unsupported {
                    workload: "sleepy-10x100",
                    ..
                })
            ),
            "{}: {err:?}",
            engine.name()
        );
    }
}

#[test]
fn async_engine_without_runtime_is_an_error_not_a_panic() {
    let spec = workload("chain-1000").generate();
    let err = Engine::RefTokio
        .measure(&spec, None)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("engine `ref-tokio` failed on workload `chain-1000`: the harness gave an async engine no tokio runtime")
    );
}

#[test]
fn sleepy_takes_at_least_its_ten_dependent_sleeps_on_every_async_engine() {
    let rt = runtime();
    let spec = workload("sleepy-10x100").generate();
    for &engine in engines::ALL.iter().filter(|e| e.is_async()) {
        let sample = engine
            .measure(&spec, Some(&rt))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            sample.run.as_millis() >= 100,
            "{}: {:?}",
            engine.name(),
            sample.run
        );
        // Sequential bodies would take 10 s.
        assert!(
            sample.run.as_secs() < 2,
            "{}: {:?}",
            engine.name(),
            sample.run
        );
    }
}
