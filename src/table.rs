//! Plain-text tables for the terminal: every column as wide as its widest cell, so rows stay
//! aligned whatever the length of the ids and names in them. Widths are terminal columns (a
//! wide character counts two); a cell wider than [`MAX_CELL`] is cut with an ellipsis.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The widest a cell is printed, in terminal columns.
pub const MAX_CELL: usize = 64;
/// Between two columns.
const GAP: &str = "  ";

/// How a column's cells sit in it: text left, numbers right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A header row and the rows under it.
#[derive(Debug, Clone)]
pub struct Table {
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings and alignments.
    pub fn new(header: &[(&str, Align)]) -> Table {
        Table {
            aligns: header.iter().map(|h| h.1).collect(),
            rows: vec![header.iter().map(|h| h.0.to_owned()).collect()],
        }
    }

    /// Add a row: one cell per column (missing cells are empty, extra ones dropped).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = cells
            .into_iter()
            .take(self.aligns.len())
            .map(|c| fit(&c.into(), MAX_CELL))
            .collect();
        row.resize(self.aligns.len(), String::new());
        self.rows.push(row);
    }

    /// The header and every row, one line each, without trailing spaces.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.aligns.len())
            .map(|c| self.rows.iter().map(|r| r[c].width()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str(GAP);
                }
                let pad = " ".repeat(widths[c] - cell.width());
                match self.aligns[c] {
                    Align::Left => {
                        line.push_str(cell);
                        line.push_str(&pad);
                    }
                    Align::Right => {
                        line.push_str(&pad);
                        line.push_str(cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `s` cut to at most `max` terminal columns, ending in `…` when it was cut; line breaks and
/// tabs become spaces, so a cell is one line.
pub fn fit(s: &str, max: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.width() <= max {
        return s;
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    let mut out = out.trim_end().to_owned();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_their_widest_cell() {
        let mut t = Table::new(&[
            ("id", Align::Left),
            ("loss", Align::Right),
            ("note", Align::Left),
        ]);
        t.row(["a_rather_long_importer_identifier", "$1.2m", ""]);
        t.row(["eu", "$0", "flagged"]);
        assert_eq!(
            t.render(),
            "id                                  loss  note\n\
             a_rather_long_importer_identifier  $1.2m\n\
             eu                                    $0  flagged\n"
        );
    }

    #[test]
    fn long_cells_are_cut_with_an_ellipsis() {
        let long = "x".repeat(MAX_CELL + 10);
        let cut = fit(&long, MAX_CELL);
        assert_eq!(cut.width(), MAX_CELL);
        assert!(cut.ends_with('…'));
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("two words here", 10), "two words…");
        assert_eq!(fit("a\nb", 10), "a b");
        // Wide characters count two columns.
        assert_eq!(fit("日本日本日本", 7), "日本日…");
        let mut t = Table::new(&[("name", Align::Left), ("n", Align::Right)]);
        t.row(["日本", "1"]);
        t.row(["Japan", "22"]);
        assert_eq!(t.render(), "name    n\n日本    1\nJapan  22\n");
    }
}
