//! Finds the `enter_cs` line an [`EntrySelector`] names in the entering node's log: entry numbers
//! restart at 1 in every process, so without `--incarnation` the last process that has the entry
//! is meant. When there is none, the error lists what the log does have.
//!
//! It only looks at the entering node's own log, already read; it does not gather the lines of
//! the story (that is `story`).

use super::node_logs::{Ev, Line, NodeLog};
use super::wording::{join, ranges};
use super::{EntrySelector, ReportError};

/// The `enter_cs` line `sel` names (its index in the log and the line), or why there is none.
pub(super) fn find_entry<'a>(
    log: &'a NodeLog,
    sel: &EntrySelector,
) -> Result<(usize, &'a Line), ReportError> {
    let node = sel.node;
    if let Some(want) = sel.incarnation {
        let starts: Vec<u64> = log
            .lines
            .iter()
            .filter_map(|l| match l.ev {
                Ev::Start { inc } => Some(inc),
                _ => None,
            })
            .collect();
        if !starts.contains(&want) {
            return Err(ReportError::NoIncarnation {
                node,
                incarnation: want,
                path: log.path.clone(),
                have: if starts.is_empty() {
                    "none (no start line)".to_string()
                } else {
                    join(&starts)
                },
            });
        }
    }
    let in_scope = |l: &Line| sel.incarnation.is_none_or(|i| l.inc == Some(i));
    let found = log.lines.iter().enumerate().rev().find(|(_, l)| {
        in_scope(l) && matches!(l.ev, Ev::EnterCs { entry, .. } if entry == sel.entry)
    });
    if let Some(found) = found {
        return Ok(found);
    }
    // Entries per incarnation, in log order.
    let mut have: Vec<(Option<u64>, Vec<u64>)> = Vec::new();
    for l in log.lines.iter().filter(|l| in_scope(l)) {
        if let Ev::EnterCs { entry, .. } = l.ev {
            match have.last_mut() {
                Some((inc, entries)) if *inc == l.inc => entries.push(entry),
                _ => have.push((l.inc, vec![entry])),
            }
        }
    }
    let have = match have.as_slice() {
        [] => "no entries".to_string(),
        [(_, entries)] => format!("entries {}", ranges(entries)),
        several => format!(
            "entries {}",
            several
                .iter()
                .map(|(inc, e)| match inc {
                    Some(i) => format!("{} in incarnation {i}", ranges(e)),
                    None => format!("{} before any start line", ranges(e)),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Err(ReportError::NoEntry {
        who: match sel.incarnation {
            Some(i) => format!("node {node} incarnation {i}"),
            None => format!("node {node}"),
        },
        entry: sel.entry,
        path: log.path.clone(),
        have,
    })
}

#[cfg(test)]
mod tests {
    use crate::logs::report::test_logs::{
        enter, in_order, md_rows, restarted, sel, start, write_log,
    };
    use crate::logs::report::wording::ranges;
    use crate::logs::report::{entry_report, Format};

    #[test]
    fn the_last_incarnation_with_the_entry_is_the_default() {
        let dir = tempfile::tempdir().unwrap();
        restarted(dir.path());
        let last = entry_report(dir.path(), &sel(1, 1, None), Format::Markdown).unwrap();
        assert_eq!(
            last,
            entry_report(dir.path(), &sel(1, 1, Some(2)), Format::Markdown).unwrap()
        );
        assert!(
            last.starts_with(
                "**node 1, entry 1 (incarnation 2): request (1, 1), votes 0, waited 2 ms;"
            ),
            "{last}"
        );
        // Only incarnation 2's messages: the same (msg, from, to, lamport) of incarnation 1
        // and the revote about it belong to another request.
        assert_eq!(md_rows(&last).len(), 6, "{last}");
        assert!(!last.contains("revote"), "{last}");

        let first = entry_report(dir.path(), &sel(1, 1, Some(1)), Format::Markdown).unwrap();
        assert!(
            first.starts_with(
                "**node 1, entry 1 (incarnation 1): request (1, 1), votes 0, waited 1 ms;"
            ),
            "{first}"
        );
        assert_eq!(md_rows(&first).len(), 6, "{first}");

        let err = entry_report(dir.path(), &sel(1, 1, Some(3)), Format::Text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "node 1 has no incarnation 3 in {}; it has incarnations 1, 2",
                dir.path().join("node-1.log").display()
            )
        );
        let err = entry_report(dir.path(), &sel(1, 2, None), Format::Text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "node 1 has no entry 2 in {}; it has entries 1 in incarnation 1, 1 in incarnation 2",
                dir.path().join("node-1.log").display()
            )
        );
    }

    #[test]
    fn an_entry_that_does_not_exist_is_named_with_the_ones_that_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = vec![start(1)];
        lines.extend((1..=42).map(|k| enter(k, 10 * k, 1, "[1]", 0.1)));
        write_log(dir.path(), 1, &in_order(lines));
        let err = entry_report(dir.path(), &sel(1, 99, None), Format::Text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "node 1 has no entry 99 in {}/node-1.log; it has entries 1..=42",
                dir.path().display()
            )
        );
        let err = entry_report(dir.path(), &sel(4, 1, None), Format::Text).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: no log of node 4 here (there are logs of nodes 1); pass one of those to --node",
                dir.path().display()
            )
        );
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1..=3, 5, 7..=8");
    }
}
