use dagflow::journal::{EntryStatus, EventType, JournalEntry, JournalStore};
use std::time::{Instant, SystemTime};
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let threads: usize = std::env::args().nth(2).map_or(1, |t| t.parse().unwrap());
    let _ = std::fs::remove_file(&path);
    let store = std::sync::Arc::new(dagflow_sqlite::SqliteStore::open(&path).unwrap());
    let mut s = JournalEntry::new(
        "run1",
        "wf",
        EventType::WorkflowStart,
        None,
        EntryStatus::Started,
        SystemTime::now(),
    );
    store.append(std::slice::from_ref(&s)).unwrap();
    s.event_type = EventType::StepComplete;
    s.status = EntryStatus::Completed;
    let t = Instant::now();
    std::thread::scope(|sc| {
        for th in 0..threads {
            let store = store.clone();
            let s = s.clone();
            sc.spawn(move || {
                for i in 0..(std::env::var("N").map_or(1000, |n| n.parse().unwrap()) / threads) {
                    let mut e = s.clone();
                    e.step_name = Some(format!("t{th}_{i}"));
                    e.duration_ms = 1.5;
                    e.attempt = 1;
                    e.result = Some(serde_json::Value::String(String::new()));
                    store.append(std::slice::from_ref(&e)).unwrap();
                }
            });
        }
    });
    let el = t.elapsed();
    println!(
        "{threads} threads: {:?} total, {:.1} us/append",
        el,
        el.as_secs_f64() * 1e6 / std::env::var("N").map_or(1000.0, |n| n.parse().unwrap())
    );
}
