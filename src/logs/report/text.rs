//! The text renderer: aligned columns for a terminal, for the story of an entry and the summary
//! of a run.
//!
//! It only lays out the cells `story` and `summary` give (headline, rows, legend); it decides
//! no fact and reads no file.

use super::story::Story;
use super::summary::Summary;
use std::fmt::Write as _;
use std::path::Path;

/// The story of one entry: its headline, then one aligned row per line.
pub(super) fn story(story: &Story) -> String {
    let header = [
        "#",
        "time",
        "node",
        "event",
        "msg",
        "from → to",
        "lamport",
        "note",
    ]
    .map(String::from);
    let mut out = story.headline();
    out.push('\n');
    out.push_str(&columns(&header, &story.rows(), &[0, 2, 6]));
    out
}

/// The summary of a run in `dir`: its headline, the table, then the legend.
pub(super) fn summary(summary: &Summary, dir: &Path) -> String {
    let header = summary.header();
    let rows = summary.rows();
    let numeric: Vec<usize> = (1..header.len()).collect();
    format!(
        "{}\n{}{}\n",
        summary.headline(dir),
        columns(&header, &rows, &numeric),
        Summary::LEGEND
    )
}

/// Left-aligned columns (right-aligned for the `numeric` ones), two spaces apart, no trailing
/// blanks.
/// The layout of every text table.
pub(super) fn columns<R: AsRef<[String]>>(
    header: &[String],
    rows: &[R],
    numeric: &[usize],
) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.as_ref().iter().enumerate() {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(AsRef::as_ref)) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let w = width[i];
            if numeric.contains(&i) {
                let _ = write!(line, "{cell:>w$}");
            } else {
                let _ = write!(line, "{cell:<w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
