//! Reading a child's output: whole lines for live display, the beginning of
//! stdout for the task's result, and the tail of each stream for the journal.

use std::collections::VecDeque;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// What was kept of one output stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    head: Vec<u8>,
    head_cap: usize,
    head_truncated: bool,
    tail: VecDeque<u8>,
    tail_cap: usize,
    total: u64,
}

impl Captured {
    /// Keeps up to `head_cap` bytes from the start and `tail_cap` bytes from
    /// the end.
    pub fn new(head_cap: usize, tail_cap: usize) -> Self {
        Captured {
            head: Vec::new(),
            head_cap,
            head_truncated: false,
            tail: VecDeque::with_capacity(tail_cap.min(64 * 1024)),
            tail_cap,
            total: 0,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.head_cap.saturating_sub(self.head.len());
        if bytes.len() > room {
            self.head_truncated = true;
        }
        self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        if self.tail_cap == 0 {
            return;
        }
        let keep = &bytes[bytes.len().saturating_sub(self.tail_cap)..];
        let overflow = (self.tail.len() + keep.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.tail.extend(keep);
    }

    /// The first bytes, up to the head capacity.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Whether the stream was longer than the head capacity.
    pub fn head_truncated(&self) -> bool {
        self.head_truncated
    }

    /// The last bytes as text (invalid UTF-8 replaced), starting at a line
    /// boundary when the tail was cut.
    pub fn tail_text(&self) -> String {
        let bytes: Vec<u8> = self.tail.iter().copied().collect();
        let text = String::from_utf8_lossy(&bytes);
        if self.total as usize > self.tail.len() {
            if let Some(pos) = text.find('\n') {
                return text[pos + 1..].to_owned();
            }
        }
        text.into_owned()
    }

    /// Number of bytes the stream produced in total.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }
}

/// Longest piece of a line handed to the line sink at once; longer lines
/// are split so memory stays bounded.
const MAX_LINE: usize = 16 * 1024;

/// Reads `reader` to its end, feeding `capture` and calling `on_line` with
/// each complete line (without its newline).
pub(crate) async fn read_lines<R, F>(reader: R, capture: &mut Captured, mut on_line: F)
where
    R: AsyncRead + Unpin,
    F: FnMut(&str),
{
    let mut reader = BufReader::with_capacity(16 * 1024, reader);
    let mut line: Vec<u8> = Vec::new();
    loop {
        let buf = match reader.fill_buf().await {
            Ok([]) => break,
            Ok(buf) => buf,
            Err(e) => {
                tracing::debug!(error = %e, "reading child output failed; keeping what was read");
                break;
            }
        };
        capture.push(buf);
        let mut consumed = 0;
        while consumed < buf.len() {
            let rest = &buf[consumed..];
            let room = MAX_LINE - line.len();
            match rest.iter().take(room).position(|&b| b == b'\n') {
                Some(newline) => {
                    line.extend_from_slice(&rest[..newline]);
                    emit(&mut line, &mut on_line);
                    consumed += newline + 1;
                }
                None if rest.len() >= room => {
                    line.extend_from_slice(&rest[..room]);
                    emit(&mut line, &mut on_line);
                    consumed += room;
                }
                None => {
                    line.extend_from_slice(rest);
                    consumed = buf.len();
                }
            }
        }
        reader.consume(consumed);
    }
    if !line.is_empty() {
        emit(&mut line, &mut on_line);
    }
}

fn emit<F: FnMut(&str)>(line: &mut Vec<u8>, on_line: &mut F) {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    on_line(&String::from_utf8_lossy(line));
    line.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_and_tail_keep_their_ends() {
        let mut c = Captured::new(4, 6);
        c.push(b"abc");
        c.push(b"defgh\nij");
        assert_eq!(c.head(), b"abcd");
        assert!(c.head_truncated());
        assert_eq!(c.total_bytes(), 11);
        // tail is "fgh\nij", cut inside a line: starts after the newline
        assert_eq!(c.tail_text(), "ij");
    }

    #[test]
    fn short_output_is_kept_whole() {
        let mut c = Captured::new(100, 100);
        c.push(b"one\ntwo\n");
        assert!(!c.head_truncated());
        assert_eq!(c.tail_text(), "one\ntwo\n");
    }

    #[tokio::test]
    async fn lines_are_split_on_newlines_and_long_lines_are_cut() {
        let mut data = b"first\r\nsecond\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_LINE + 5));
        let mut lines = Vec::new();
        let mut c = Captured::new(10, 10);
        read_lines(&data[..], &mut c, |l| lines.push(l.to_owned())).await;
        assert_eq!(lines.len(), 4);
        assert_eq!(&lines[..2], ["first", "second"]);
        assert_eq!(lines[2].len(), MAX_LINE);
        assert_eq!(lines[3], "xxxxx");
    }
}
