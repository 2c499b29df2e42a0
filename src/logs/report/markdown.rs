//! The Markdown renderer: a bold headline and a table, ready to paste into a report (GitHub
//! renders it), for the story of an entry and the summary of a run.
//!
//! It only lays out the cells `story` and `summary` give, escaping each so that no log content
//! can break the table; it decides no fact and reads no file.

use super::story::Story;
use super::summary::Summary;
use std::fmt::Write as _;
use std::path::Path;

/// The story of one entry as a table, its detours, kills and restarts in bold.
pub(super) fn story(story: &Story) -> String {
    let mut out = format!("**{}**\n\n", md_escape(&story.headline()));
    out.push_str("| # | time | node | event | msg | from → to | lamport | note |\n");
    out.push_str("|--:|---|--:|---|---|---|--:|---|\n");
    for (row, step) in story.rows().iter().zip(&story.steps) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c = md_escape(c);
                // Detours, kills and restarts stand out in the msg and note cells.
                if step.stands_out && (i == 4 || i == 7) && !c.is_empty() {
                    format!("**{c}**")
                } else {
                    c
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The summary of a run in `dir` as a table, the legend under it.
pub(super) fn summary(summary: &Summary, dir: &Path) -> String {
    let header = summary.header();
    let mut out = format!("**{}**\n\n", md_escape(&summary.headline(dir)));
    let _ = writeln!(
        out,
        "| {} |",
        header
            .iter()
            .map(|h| md_escape(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let align: Vec<&str> = (0..header.len())
        .map(|i| if i == 0 { "---" } else { "--:" })
        .collect();
    let _ = writeln!(out, "|{}|", align.join("|"));
    for row in summary.rows() {
        let _ = writeln!(
            out,
            "| {} |",
            row.iter()
                .map(|c| md_escape(c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let _ = writeln!(out, "\n{}", md_escape(Summary::LEGEND));
    out
}

/// A Markdown table cell: `|` would end the cell and a newline the row.
fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::md_escape;
    use crate::logs::report::text::columns;

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(md_escape("a | b\nc"), r"a \| b c");
        let header = ["a".to_string(), "bb".to_string()];
        let rows = [["ccc".to_string(), "1".to_string()]];
        assert_eq!(columns(&header, &rows, &[1]), "a    bb\nccc   1\n");
    }
}
