//! Finding a program named without a `/` on the PATH its process will see.
//!
//! Started with a bare name, a child searches PATH itself with `execve`,
//! one failed attempt per directory before the right one, and each attempt
//! costs the kernel a new exec context. Looking the name up here with
//! `stat` and starting the full path costs one `execve`. Found paths are
//! remembered per (name, PATH); names not found are looked up again on the
//! next start, so a program installed by an earlier task is seen by a later
//! one. The limit: once a name is found, a file of the same name added later
//! to a directory earlier on that PATH is not seen (a shell caches the same
//! way until `hash -r`).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// A program name and the PATH it is searched in.
type Key = (OsString, OsString);

/// Looks programs up on PATH and remembers where they were found.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProgramLookup {
    found: Arc<Mutex<HashMap<Key, PathBuf>>>,
}

impl ProgramLookup {
    fn found(&self) -> MutexGuard<'_, HashMap<Key, PathBuf>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.found.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The file `program` names when searched in `path_var` (a PATH value),
    /// or `None` when the child should search itself: the name contains a
    /// `/` or is empty, nothing matches, or a directory before the match is
    /// relative (it depends on the child's working directory).
    pub(crate) fn find(&self, program: &OsStr, path_var: &OsStr) -> Option<PathBuf> {
        if program.is_empty() || program.as_bytes().contains(&b'/') {
            return None;
        }
        let key = (program.to_owned(), path_var.to_owned());
        if let Some(path) = self.found().get(&key) {
            return Some(path.clone());
        }
        let path = search(program, path_var)?;
        self.found().insert(key, path.clone());
        Some(path)
    }

    /// Forgets where `program` was found in `path_var` (starting it from
    /// there failed, e.g. because the file was removed).
    pub(crate) fn forget(&self, program: &OsStr, path_var: &OsStr) {
        self.found()
            .remove(&(program.to_owned(), path_var.to_owned()));
    }
}

/// The first executable regular file called `program` in the directories
/// of `path_var`, in order, as `execvp` would pick it.
fn search(program: &OsStr, path_var: &OsStr) -> Option<PathBuf> {
    for dir in std::env::split_paths(path_var) {
        if !dir.is_absolute() {
            // An empty entry or a relative one is resolved against the
            // child's working directory: leave the whole search to it.
            return None;
        }
        let candidate = dir.join(program);
        if is_executable_file(&candidate) {
            return Some(candidate);
        }
    }
    None
}

fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_file(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn path_of(dirs: &[&Path]) -> OsString {
        std::env::join_paths(dirs).unwrap()
    }

    #[test]
    fn the_first_executable_match_in_path_order_wins() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        write_file(a.path(), "tool", 0o644);
        let expected = write_file(b.path(), "tool", 0o755);
        write_file(a.path(), "other", 0o755);
        let lookup = ProgramLookup::default();
        let found = lookup.find("tool".as_ref(), &path_of(&[a.path(), b.path()]));
        assert_eq!(found, Some(expected));
    }

    #[test]
    fn directories_named_like_the_program_are_skipped() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::create_dir(a.path().join("tool")).unwrap();
        let expected = write_file(b.path(), "tool", 0o700);
        let lookup = ProgramLookup::default();
        let found = lookup.find("tool".as_ref(), &path_of(&[a.path(), b.path()]));
        assert_eq!(found, Some(expected));
    }

    #[test]
    fn names_with_a_slash_and_relative_directories_are_left_to_the_child() {
        let a = tempfile::tempdir().unwrap();
        write_file(a.path(), "tool", 0o755);
        let lookup = ProgramLookup::default();
        let path = path_of(&[a.path()]);
        assert_eq!(lookup.find("./tool".as_ref(), &path), None);
        assert_eq!(lookup.find("".as_ref(), &path), None);
        let relative_first = path_of(&[Path::new("bin"), a.path()]);
        assert_eq!(lookup.find("tool".as_ref(), &relative_first), None);
        let empty_entry_first = OsString::from(format!(":{}", a.path().display()));
        assert_eq!(lookup.find("tool".as_ref(), &empty_entry_first), None);
    }

    #[test]
    fn a_relative_directory_after_the_match_does_not_matter() {
        let a = tempfile::tempdir().unwrap();
        let expected = write_file(a.path(), "tool", 0o755);
        let lookup = ProgramLookup::default();
        let path = path_of(&[a.path(), Path::new("bin")]);
        assert_eq!(lookup.find("tool".as_ref(), &path), Some(expected));
    }

    #[test]
    fn hits_are_remembered_until_forgotten_and_misses_are_not() {
        let a = tempfile::tempdir().unwrap();
        let path = path_of(&[a.path()]);
        let lookup = ProgramLookup::default();
        assert_eq!(lookup.find("tool".as_ref(), &path), None);
        let tool = write_file(a.path(), "tool", 0o755);
        assert_eq!(lookup.find("tool".as_ref(), &path), Some(tool.clone()));

        std::fs::remove_file(&tool).unwrap();
        // Still remembered: the start from there fails and the runner forgets.
        assert_eq!(lookup.find("tool".as_ref(), &path), Some(tool));
        lookup.forget("tool".as_ref(), &path);
        assert_eq!(lookup.find("tool".as_ref(), &path), None);
    }
}
