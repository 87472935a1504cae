//! The dependency names a task's options carry until the task is added.

use std::fmt;

use smallvec::SmallVec;

/// Bytes kept inline before the list moves to the heap: one name of up to
/// 23 bytes, two of up to 10 or three of up to 6, each with its length byte.
const INLINE: usize = 24;

/// Dependency names end to end in one buffer, each after its length
/// (LEB128: one byte below 128).
///
/// `TaskOptions::depends_on` copies the caller's names, which may be
/// temporaries. A `Vec<Box<str>>` made that two allocations for a task with
/// one dependency, freed again as soon as the graph builder had copied the
/// names: a third of the instructions of adding a task to a chain. Here a
/// few short names take none, and any number of names at most one.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct DependencyNames {
    bytes: SmallVec<[u8; INLINE]>,
}

impl DependencyNames {
    /// Appends `name`.
    pub(crate) fn push(&mut self, name: &str) {
        let mut len = name.len();
        while len >= 0x80 {
            self.bytes.push((len as u8) | 0x80);
            len >>= 7;
        }
        self.bytes.push(len as u8);
        self.bytes.extend_from_slice(name.as_bytes());
    }

    /// The names, in the order added.
    pub(crate) fn iter(&self) -> Names<'_> {
        Names { rest: &self.bytes }
    }
}

impl<S: AsRef<str>> Extend<S> for DependencyNames {
    fn extend<I: IntoIterator<Item = S>>(&mut self, names: I) {
        for name in names {
            self.push(name.as_ref());
        }
    }
}

impl fmt::Debug for DependencyNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over [`DependencyNames`].
pub(crate) struct Names<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Names<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let (&byte, rest) = self.rest.split_first()?;
            self.rest = rest;
            len |= usize::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                break;
            }
            shift += 7;
        }
        let (name, rest) = self.rest.split_at_checked(len)?;
        self.rest = rest;
        // Only `push` writes the buffer, and only whole `&str`s.
        std::str::from_utf8(name).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_names_stay_inline() {
        let mut names = DependencyNames::default();
        names.extend(["t123456", "t123457", "t123458"]);
        assert!(!names.bytes.spilled());
        assert_eq!(
            names.iter().collect::<Vec<_>>(),
            ["t123456", "t123457", "t123458"]
        );
        assert_eq!(format!("{names:?}"), r#"["t123456", "t123457", "t123458"]"#);
    }

    proptest! {
        /// Any names, empty, long (multi-byte lengths) or not ASCII, come
        /// back as given, repeats and order included.
        #[test]
        fn names_come_back_as_given(given in proptest::collection::vec(
            prop_oneof![".{0,12}", ".{100,400}"], 0..8)
        ) {
            let mut names = DependencyNames::default();
            names.extend(&given);
            prop_assert_eq!(names.iter().collect::<Vec<_>>(), given.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}
