//! Reading the YAML into the raw types, with messages that name the field.
//!
//! The parser knows where a value is but not which field it was read for,
//! and words a shape mismatch in its own terms ("expected sequence start"
//! for `depends_on: b`). The deserializer is wrapped to track the field
//! path, so the message can say which field wants what, and how to write it.

use serde::Deserialize;
use serde_path_to_error::{Path, Segment};
use serde_saphyr::MessageFormatter;

use super::error::Location;
use super::raw::RawWorkflow;

/// The workflow as written, or where and why it could not be read.
pub(super) fn read(source: &str) -> Result<RawWorkflow, (Option<Location>, String)> {
    let mut failed_at = None;
    let raw = serde_saphyr::with_deserializer_from_str(source, |de| {
        let mut track = serde_path_to_error::Track::new();
        let raw = RawWorkflow::deserialize(serde_path_to_error::Deserializer::new(de, &mut track));
        if raw.is_err() {
            failed_at = Some(track.path());
        }
        raw
    });
    raw.map_err(|e| {
        let location = e.location().as_ref().and_then(Location::from_saphyr);
        let field = failed_at.as_ref().map(field_path).unwrap_or_default();
        (location, message(e.without_snippet(), &field))
    })
}

/// The path as a user would write it, `tasks[2].retry`, without the
/// `value` key that every [`Spanned`](serde_saphyr::Spanned) field adds (an `env` variable named
/// `value` loses its own segment too, which only makes the path shorter).
fn field_path(path: &Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if key == "value" => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// The message for `error`, read for the field at `field` (empty: the
/// whole file).
fn message(error: &serde_saphyr::Error, field: &str) -> String {
    let key = field.rsplit(['.', '[']).next().unwrap_or(field);
    match error {
        serde_saphyr::Error::Unexpected { expected, .. } => match (*expected, field) {
            ("mapping start", "") => {
                "a workflow file is a mapping of fields: `name:`, `tasks:` and the optional \
                 `concurrency:`, `timeout:`, `fail_fast:` and `env:`"
                    .to_string()
            }
            ("sequence start", "tasks") => "`tasks` must be a list: start each task with \
                `- name: NAME` on a line of its own, its other fields indented below it"
                .to_string(),
            ("sequence start", _) => format!(
                "`{field}` must be a list, such as `{key}: [a, b]` or one `- item` line per entry"
            ),
            ("mapping start", _) => format!(
                "`{field}` must be a mapping, such as `{key}: {{field: value}}` or `field: value` \
                 lines indented below it"
            ),
            _ => with_field(parser_message(error), field),
        },
        _ => {
            let text = parser_message(error);
            // The path of an unknown field ends with that field, which the
            // parser's message already names.
            let field = match text.starts_with("unknown field") {
                true => parent(field),
                false => field,
            };
            with_field(text, field)
        }
    }
}

fn parser_message(error: &serde_saphyr::Error) -> String {
    serde_saphyr::DefaultMessageFormatter
        .format_message(error)
        .escape_debug()
        .to_string()
}

fn with_field(text: String, field: &str) -> String {
    match field {
        "" => text,
        _ => format!("{text} (in `{field}`)"),
    }
}

/// `tasks[0]` for `tasks[0].depend_on`, `` for `name`.
fn parent(field: &str) -> &str {
    match field.rfind('.') {
        Some(dot) => &field[..dot],
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(yaml: &str) -> (Option<Location>, String) {
        match read(yaml) {
            Ok(raw) => panic!("expected an error, read {} tasks", raw.tasks.value.len()),
            Err(e) => e,
        }
    }

    #[test]
    fn paths_leave_out_the_span_wrappers() {
        let (location, text) = error("name: x\ntasks:\n  - name: a\n    depends_on: b\n");
        assert_eq!(location, Some(Location::new(4, 17)));
        assert_eq!(
            text,
            "`tasks[0].depends_on` must be a list, such as `depends_on: [a, b]` or one `- item` line per entry"
        );
    }

    #[test]
    fn a_mapping_of_tasks_is_shown_the_list_form() {
        let (location, text) = error("name: x\ntasks:\n  a:\n    run: echo\n");
        assert_eq!(location, Some(Location::new(3, 3)));
        assert!(text.starts_with("`tasks` must be a list: start each task with `- name: NAME`"));
    }

    #[test]
    fn a_scalar_where_a_mapping_goes_names_the_field() {
        let (_, text) = error("name: x\ntasks:\n  - name: a\n    run: echo\n    retry: 3\n");
        assert!(
            text.starts_with("`tasks[0].retry` must be a mapping, such as `retry: {field: value}`"),
            "{text}"
        );
        let (_, text) = error("- name: a\n");
        assert!(
            text.starts_with("a workflow file is a mapping of fields"),
            "{text}"
        );
    }

    #[test]
    fn other_messages_say_where_but_do_not_repeat_the_field() {
        let (_, text) = error("name: x\ntasks:\n  - name: a\n    depend_on: [b]\n");
        assert!(
            text.starts_with("unknown field `depend_on`, expected one of")
                && text.ends_with("(in `tasks[0]`)"),
            "{text}"
        );
        let (_, text) = error("name: x\ntasks:\n  - run: echo\n");
        assert_eq!(text, "missing field `name` (in `tasks[0]`)");
        let (_, text) = error("name: x\nconcurrency: many\ntasks:\n  - name: a\n    run: echo\n");
        assert!(text.ends_with("(in `concurrency`)"), "{text}");
        // At the top level there is nothing to add.
        let (_, text) = error("tasks:\n  - name: a\n    run: echo\n");
        assert_eq!(text, "missing field `name`");
    }
}
