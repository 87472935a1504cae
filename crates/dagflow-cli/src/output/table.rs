//! Plain text tables with aligned columns (ANSI colours do not count
//! towards widths).

use console::measure_text_width;

/// Rows of cells under a header; the last column is not padded.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| measure_text_width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(measure_text_width(cell));
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self
            .headers
            .iter()
            .map(|h| console::style(h).bold().to_string())
            .collect();
        push_line(&mut out, &header, &widths);
        for row in &self.rows {
            push_line(&mut out, row, &widths);
        }
        out
    }
}

fn push_line(out: &mut String, cells: &[String], widths: &[usize]) {
    let last = cells.len().min(widths.len()).saturating_sub(1);
    for (i, cell) in cells.iter().enumerate().take(widths.len()) {
        out.push_str(cell);
        if i < last {
            let pad = widths[i].saturating_sub(measure_text_width(cell)) + 2;
            out.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.push('\n');
}

/// `text` cut to `max` characters with an ellipsis, on one line.
pub fn clip(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_last_is_not_padded() {
        console::set_colors_enabled(false);
        let mut t = Table::new(["A", "LONG"]);
        t.row(vec!["xyz".into(), "1".into()]);
        assert_eq!(t.render(), "A    LONG\nxyz  1\n");
    }

    #[test]
    fn clip_keeps_one_line() {
        assert_eq!(clip("a\nb   c", 10), "a b c");
        assert_eq!(clip("abcdefgh", 5), "abcd…");
    }
}
