//! Journal entries to table rows and back.
//!
//! Event types and statuses are stored as small integers (the `journal` view
//! shows their names); results and details as JSON text.

use std::path::Path;
use std::sync::Arc;

use dagflow::journal::{
    ms_to_system_time, take_definition, DetailsJson, EntryStatus, EventType, JournalEntry,
};
use serde_json::{Map, Value};

use crate::error::SqliteError;

/// Stored code of an event type. Codes are part of the file format: never
/// renumber them.
/// `None` for a type added to the core after this store was written.
pub(crate) fn event_code(event_type: EventType) -> Option<i64> {
    match event_type {
        EventType::WorkflowStart => Some(0),
        EventType::StepRetry => Some(1),
        EventType::StepComplete => Some(2),
        EventType::WorkflowComplete => Some(3),
        _ => None,
    }
}

fn event_from_code(code: i64) -> Option<EventType> {
    match code {
        0 => Some(EventType::WorkflowStart),
        1 => Some(EventType::StepRetry),
        2 => Some(EventType::StepComplete),
        3 => Some(EventType::WorkflowComplete),
        _ => None,
    }
}

/// Stored code of a status (part of the file format).
/// `None` for a status added to the core after this store was written.
pub(crate) fn status_code(status: EntryStatus) -> Option<i64> {
    match status {
        EntryStatus::Started => Some(0),
        EntryStatus::Completed => Some(1),
        EntryStatus::Failed => Some(2),
        EntryStatus::Skipped => Some(3),
        EntryStatus::Cancelled => Some(4),
        _ => None,
    }
}

pub(crate) fn status_from_code(code: i64) -> Option<EntryStatus> {
    match code {
        0 => Some(EntryStatus::Started),
        1 => Some(EntryStatus::Completed),
        2 => Some(EntryStatus::Failed),
        3 => Some(EntryStatus::Skipped),
        4 => Some(EntryStatus::Cancelled),
        _ => None,
    }
}

/// Code of `WorkflowStart`, for SQL text.
pub(crate) const WORKFLOW_START: i64 = 0;
/// Code of `StepComplete`, for SQL text.
pub(crate) const STEP_COMPLETE: i64 = 2;
/// Code of `WorkflowComplete`, for SQL text.
pub(crate) const WORKFLOW_COMPLETE: i64 = 3;
/// Code of `Completed`.
pub(crate) const COMPLETED: i64 = 1;

/// An entry encoded for insertion; built by the appending thread so that the
/// writer thread only binds values.
#[derive(Debug)]
pub(crate) struct Row {
    pub workflow_id: Arc<str>,
    pub workflow_name: Arc<str>,
    pub event_type: i64,
    pub step_name: Option<Arc<str>>,
    pub status: i64,
    pub timestamp_ms: i64,
    pub duration_ms: f64,
    pub duration_us: i64,
    pub attempt: i64,
    pub error: Option<String>,
    pub result: Option<String>,
    pub details: Option<String>,
}

impl Row {
    /// Encodes `entry`; fails only if its result or details cannot be
    /// serialized (a non-finite float cannot, for instance).
    pub(crate) fn encode(entry: &JournalEntry, path: &Path) -> Result<Row, SqliteError> {
        let encode_error = |detail: String| SqliteError::Encode {
            path: path.to_path_buf(),
            workflow_id: entry.workflow_id.to_string(),
            detail,
        };
        let result = match &entry.result {
            Some(value) => Some(
                serde_json::to_string(value)
                    .map_err(|e| encode_error(format!("its result is not valid JSON: {e}")))?,
            ),
            None => None,
        };
        // The details with a start entry's definition inside, written
        // straight to text (no JSON tree of the definition is built).
        let details = DetailsJson(entry);
        let details = if details.is_empty() {
            None
        } else {
            Some(
                serde_json::to_string(&details)
                    .map_err(|e| encode_error(format!("its details are not valid JSON: {e}")))?,
            )
        };
        Ok(Row {
            workflow_id: entry.workflow_id.clone(),
            workflow_name: entry.workflow_name.clone(),
            event_type: event_code(entry.event_type).ok_or_else(|| {
                encode_error(format!(
                    "its event type `{}` is newer than this journal format; upgrade dagflow-sqlite",
                    entry.event_type
                ))
            })?,
            step_name: entry.step_name.clone(),
            status: status_code(entry.status).ok_or_else(|| {
                encode_error(format!(
                    "its status `{}` is newer than this journal format; upgrade dagflow-sqlite",
                    entry.status
                ))
            })?,
            timestamp_ms: entry.timestamp_ms(),
            duration_ms: entry.duration_ms,
            duration_us: entry.duration_us(),
            attempt: i64::from(entry.attempt),
            error: entry.error.clone(),
            result,
            details,
        })
    }
}

/// The columns [`decode`] expects, in order (a macro so that SQL text can
/// `concat!` it).
macro_rules! entry_columns {
    () => {
        "entries.id, entries.workflow_id, entries.workflow_name, entries.event_type, \
         entries.step_name, entries.status, entries.timestamp_ms, entries.duration_ms, \
         entries.attempt, entries.error, entries.result, entries.details"
    };
}
pub(crate) use entry_columns;

/// Reads one row selected with [`entry_columns!`].
pub(crate) fn decode(row: &rusqlite::Row<'_>, path: &Path) -> Result<JournalEntry, SqliteError> {
    let sql_error = |source| SqliteError::classify(path, "reading an entry", source, 0);
    let id: i64 = row.get(0).map_err(sql_error)?;
    let invalid = |detail: String| SqliteError::InvalidRow {
        path: path.to_path_buf(),
        row: id,
        detail,
    };
    let event_code: i64 = row.get(3).map_err(sql_error)?;
    let event_type = event_from_code(event_code)
        .ok_or_else(|| invalid(format!("unknown event type code {event_code}")))?;
    let status_code: i64 = row.get(5).map_err(sql_error)?;
    let status = status_from_code(status_code)
        .ok_or_else(|| invalid(format!("unknown status code {status_code}")))?;
    let attempt: i64 = row.get(8).map_err(sql_error)?;
    let attempt = u32::try_from(attempt)
        .map_err(|_| invalid(format!("attempt {attempt} is out of range")))?;
    let result: Option<String> = row.get(10).map_err(sql_error)?;
    let result = match result {
        Some(text) => Some(
            serde_json::from_str::<Value>(&text)
                .map_err(|e| invalid(format!("its result is not valid JSON: {e}")))?,
        ),
        None => None,
    };
    let details: Option<String> = row.get(11).map_err(sql_error)?;
    let mut details = match details {
        Some(text) => serde_json::from_str::<Map<String, Value>>(&text)
            .map_err(|e| invalid(format!("its details are not a JSON object: {e}")))?,
        None => Map::new(),
    };
    let definition = if event_type == EventType::WorkflowStart {
        take_definition(&mut details)
    } else {
        None
    };
    let timestamp_ms: i64 = row.get(6).map_err(sql_error)?;
    Ok(JournalEntry {
        workflow_id: Arc::from(row.get::<_, String>(1).map_err(sql_error)?),
        workflow_name: Arc::from(row.get::<_, String>(2).map_err(sql_error)?),
        event_type,
        step_name: row
            .get::<_, Option<String>>(4)
            .map_err(sql_error)?
            .map(Arc::from),
        status,
        timestamp: ms_to_system_time(timestamp_ms),
        duration_ms: row.get(7).map_err(sql_error)?,
        attempt,
        error: row.get(9).map_err(sql_error)?,
        result,
        details,
        definition,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_and_status_has_a_distinct_code_that_round_trips() {
        for event_type in EventType::ALL {
            let code = event_code(event_type).expect("every current type has a code");
            assert_eq!(event_from_code(code), Some(event_type));
        }
        for status in EntryStatus::ALL {
            let code = status_code(status).expect("every current status has a code");
            assert_eq!(status_from_code(code), Some(status));
        }
        assert_eq!(event_code(EventType::WorkflowStart), Some(WORKFLOW_START));
        assert_eq!(event_code(EventType::StepComplete), Some(STEP_COMPLETE));
        assert_eq!(
            event_code(EventType::WorkflowComplete),
            Some(WORKFLOW_COMPLETE)
        );
        assert_eq!(status_code(EntryStatus::Completed), Some(COMPLETED));
    }
}
