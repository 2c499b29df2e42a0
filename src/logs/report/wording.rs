//! How the reports word values in prose: comma-separated lists, entry ranges, clock times and
//! yes/no, so that the notes, headlines and error messages say them alike in every format.
//!
//! Pure string helpers: they know nothing of logs, entries or formats.

/// `HH:MM:SS.ffffff` of an RFC 3339 timestamp (the date is the same for a whole run).
pub(super) fn short_time(t: &str) -> &str {
    t.get(11..26).unwrap_or(t)
}

/// An optional flag of a log line in words (`unknown` when the line lacks it).
pub(super) fn yes_no(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    }
}

/// `a, b, c`: how every report and error message lists nodes, votes and incarnations.
pub(super) fn join<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `1..=42`, or `1..=5, 7..=9` with gaps (lines lost by a kill), in the order given.
pub(super) fn ranges(entries: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let start = entries[i];
        let mut end = start;
        while i + 1 < entries.len() && entries[i + 1] == end + 1 {
            end += 1;
            i += 1;
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}..={end}")
        });
        i += 1;
    }
    parts.join(", ")
}
