//! Numbers as an operator reads them (ages, sizes, ratios) and aligned tables.

use std::time::Duration;

/// An age or a span in seconds, in its two largest units, the second left out when it is
/// zero: `45s`, `3m12s`, `30m`, `2h05m`, `1h`, `3d04h`.
pub(crate) fn age(secs: u64) -> String {
    let (big, big_unit, small, small_unit) = match secs {
        0..60 => return format!("{secs}s"),
        60..3_600 => (secs / 60, "m", secs % 60, "s"),
        3_600..86_400 => (secs / 3_600, "h", secs % 3_600 / 60, "m"),
        _ => (secs / 86_400, "d", secs % 86_400 / 3_600, "h"),
    };
    if small == 0 {
        format!("{big}{big_unit}")
    } else {
        format!("{big}{big_unit}{small:02}{small_unit}")
    }
}

/// `n` and a noun, plural unless `n` is one: `1 page`, `3 pages`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A size in bytes, binary units: `512 B`, `12.3 KiB`, `1.0 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    // Display only: the precision lost past 2^53 bytes is invisible at one decimal.
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A ratio as a percentage with one decimal, or `-` when there is nothing to divide.
pub(crate) fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// `part / whole`, or `None` when `whole` is zero.
pub(crate) fn ratio(part: u64, whole: u64) -> Option<f64> {
    // Display only, as above.
    #[allow(clippy::cast_precision_loss)]
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A duration as seconds with two decimals below a minute, else like [`age`].
pub(crate) fn took(duration: Duration) -> String {
    if duration < Duration::from_secs(60) {
        format!("{:.2}s", duration.as_secs_f64())
    } else {
        age(duration.as_secs())
    }
}

/// How a column lines up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    /// Text: padded on the right.
    Left,
    /// Numbers: padded on the left.
    Right,
}

/// A table whose columns are as wide as their widest cell, two spaces apart.
#[derive(Debug)]
pub(crate) struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub(crate) fn new(columns: &[(&str, Align)]) -> Self {
        Self {
            columns: columns
                .iter()
                .map(|(name, align)| ((*name).to_owned(), *align))
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column; missing cells are empty).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table, a header line then one line per row, each ending in a newline; cells never
    /// carry trailing spaces.
    pub(crate) fn render(&self) -> String {
        let width = |text: &str| text.chars().count();
        let mut widths: Vec<usize> = self.columns.iter().map(|(name, _)| width(name)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(widths.len()) {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let header: Vec<String> = self.columns.iter().map(|(name, _)| name.clone()).collect();
        let mut out = String::new();
        for cells in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (_, align)) in self.columns.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let pad = " ".repeat(widths[i] - width(cell).min(widths[i]));
                if i > 0 {
                    line.push_str("  ");
                }
                match align {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_two_units() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(192), "3m12s");
        assert_eq!(age(1_800), "30m");
        assert_eq!(age(3_600), "1h");
        assert_eq!(age(7_500), "2h05m");
        assert_eq!(age(86_400), "1d");
        assert_eq!(age(3 * 86_400 + 4 * 3_600 + 1), "3d04h");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(12_595), "12.3 KiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        assert_eq!(bytes(u64::MAX), "16777216.0 TiB");
    }

    #[test]
    fn ratios_and_durations() {
        assert_eq!(percent(ratio(1, 4)), "25.0%");
        assert_eq!(percent(ratio(1, 0)), "-");
        assert_eq!(took(Duration::from_millis(420)), "0.42s");
        assert_eq!(took(Duration::from_secs(61)), "1m01s");
        assert_eq!(count(1, "page"), "1 page");
        assert_eq!(count(0, "page"), "0 pages");
    }

    #[test]
    fn tables_line_up_without_trailing_spaces() {
        let mut table = Table::new(&[
            ("KEY", Align::Left),
            ("BYTES", Align::Right),
            ("TAGS", Align::Left),
        ]);
        table.row(vec!["/docs/é".into(), "12".into(), String::new()]);
        table.row(vec!["/".into(), "1024".into(), "a,b".into()]);
        assert_eq!(
            table.render(),
            "KEY      BYTES  TAGS\n/docs/é     12\n/         1024  a,b\n"
        );
    }
}
