//! The window of `maekawa timeline --from A --to B`: which part of a run to draw, so that a few
//! seconds of a run of hundreds of entries can be read (a whole run is a barcode).
//!
//! A bound is written the way a student reading the logs already has it, with no arithmetic:
//!
//! * **seconds since the run's first event**, the picture's own time axis: `5`, `5.5s`,
//!   `1500ms`;
//! * **a time as the logs write it**: RFC 3339 UTC (`2026-11-24T07:33:13.308023Z`), or only the
//!   time of day, as `maekawa report` and the README's `jq` recipes print it (`07:33:13.308`),
//!   on the day of the run;
//! * **a CS entry**: `entry:40` is the 40th `enter` line of `critical_section.log` (its global
//!   order, from 1); `--from entry:N` starts where entry N entered, `--to entry:N` ends where it
//!   left (its `exit`, or the restart that ended a killed holder's CS), so both are drawn whole.
//!
//! This module only parses bounds and resolves them against the run's times; it reads no file
//! and draws nothing. Every error is one line naming the flag, the value and what to write.

use std::str::FromStr;

/// Microseconds since the Unix epoch, as the timeline reads times.
pub(super) type Micros = i128;

const MICROS_PER_DAY: Micros = 86_400_000_000;

/// What a bound may be, said in every parse error.
const FORMS: &str = "write seconds since the run's first event (5, 5.5s, 1500ms), a time as in the logs (2026-11-24T07:33:13.308Z, or 07:33:13.308), or a CS entry in critical_section.log's order (entry:40)";

/// What is wrong with a bound as written (the caller adds the flag and the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundError {
    /// Not one of the forms.
    #[error("not a time or an entry; {FORMS}")]
    Unknown,
    /// `entry:0`.
    #[error(
        "entries are numbered from 1 (entry:1 is the first enter line of critical_section.log)"
    )]
    EntryZero,
    /// `entry:` without a number.
    #[error("after entry: comes an entry number, as in entry:40; {FORMS}")]
    EntryNumber,
    /// A date that does not parse.
    #[error("not an RFC 3339 UTC time ({0}); {FORMS}")]
    Time(String),
    /// A negative number of seconds.
    #[error("a time before the run's first event; seconds since it are 0 or more; {FORMS}")]
    Negative,
}

/// Why a window cannot be drawn; each message is one line naming the flags as written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WindowError {
    /// A bound that does not parse.
    #[error("{flag} {value}: {problem}")]
    Bound {
        /// `--from` or `--to`.
        flag: &'static str,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        problem: BoundError,
    },
    /// `entry:N` past the run's entries.
    #[error(
        "{said}: critical_section.log has {entries} entries; write entry:1 to entry:{entries}"
    )]
    NoEntry {
        /// The flag and its value.
        said: String,
        /// The run's entries.
        entries: usize,
    },
    /// The window starts after the run's last event.
    #[error("{flags}: the window starts after the run's last event; {run}")]
    AfterRun {
        /// The flags as written.
        flags: String,
        /// The run's span, in words.
        run: String,
    },
    /// The window ends before the run's first event.
    #[error("{flags}: the window ends before the run's first event; {run}")]
    BeforeRun {
        /// The flags as written.
        flags: String,
        /// The run's span, in words.
        run: String,
    },
    /// `--to` not later than `--from`.
    #[error("{flags}: the window is empty ({from_s:.3} s to {to_s:.3} s since the run's first event); --to must be later than --from")]
    Empty {
        /// The flags as written.
        flags: String,
        /// Where it starts, s since the run's first event.
        from_s: f64,
        /// Where it ends, s since the run's first event.
        to_s: f64,
    },
}

/// One edge of the window, as read from the command line.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Bound {
    /// Milliseconds since the run's first event (written in seconds or milliseconds).
    Offset(f64),
    /// A moment given with its date (RFC 3339, UTC), in microseconds since the Unix epoch.
    At(Micros),
    /// A time of day (UTC) in microseconds since midnight, on the day of the run.
    TimeOfDay(Micros),
    /// The n-th `enter` line of the CS log, from 1.
    Entry(usize),
}

impl FromStr for Bound {
    type Err = BoundError;

    /// Parses one bound; the error says what is wrong with it (the caller adds the flag).
    fn from_str(s: &str) -> Result<Bound, BoundError> {
        let s = s.trim();
        let entry = s
            .get(..6)
            .filter(|p| p.eq_ignore_ascii_case("entry:"))
            .map(|_| &s[6..]);
        if let Some(n) = entry {
            return match n.trim().parse::<usize>() {
                Ok(0) => Err(BoundError::EntryZero),
                Ok(n) => Ok(Bound::Entry(n)),
                Err(_) => Err(BoundError::EntryNumber),
            };
        }
        if s.len() >= 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' {
            let t =
                humantime::parse_rfc3339_weak(s).map_err(|e| BoundError::Time(e.to_string()))?;
            let us = match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => d.as_micros() as Micros,
                Err(e) => -(e.duration().as_micros() as Micros),
            };
            return Ok(Bound::At(us));
        }
        if s.contains(':') {
            return time_of_day(s)
                .map(Bound::TimeOfDay)
                .ok_or(BoundError::Unknown);
        }
        let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
            (n, 1.0)
        } else if let Some(n) = s.strip_suffix('s') {
            (n, 1000.0)
        } else {
            (s, 1000.0)
        };
        match number.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(Bound::Offset(v * scale)),
            Ok(v) if v.is_finite() => Err(BoundError::Negative),
            _ => Err(BoundError::Unknown),
        }
    }
}

/// `HH:MM:SS` with an optional fraction, in microseconds since midnight.
fn time_of_day(s: &str) -> Option<Micros> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let num = |p: &str, max: Micros| {
        (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<Micros>().ok())
            .flatten()
            .filter(|&v| v < max)
    };
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let micros: Micros = format!("{frac:0<6}")[..6].parse().ok()?;
    Some(((num(h, 24)? * 60 + num(m, 60)?) * 60 + num(whole, 60)?) * 1_000_000 + micros)
}

/// An RFC 3339 UTC time with microseconds, as the logs write it.
pub(super) fn rfc3339(us: Micros) -> String {
    let t = if us >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_micros(us as u64)
    } else {
        std::time::UNIX_EPOCH - std::time::Duration::from_micros((-us) as u64)
    };
    humantime::format_rfc3339_micros(t).to_string()
}

/// What to draw: the whole run (the default), or from one bound, to one, or between two.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    /// `--from` as read and as written; `None`: the run's first event.
    from: Option<(Bound, String)>,
    /// `--to` as read and as written; `None`: the run's last event.
    to: Option<(Bound, String)>,
}

impl Window {
    /// The window of `--from` and `--to` as written (each optional); the error is one line
    /// naming the flag, the value and the forms a bound may take.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Window, WindowError> {
        let one = |flag: &'static str, v: Option<&str>| {
            v.map(|v| {
                v.parse::<Bound>()
                    .map(|b| (b, v.trim().to_string()))
                    .map_err(|problem| WindowError::Bound {
                        flag,
                        value: v.to_string(),
                        problem,
                    })
            })
            .transpose()
        };
        Ok(Window {
            from: one("--from", from)?,
            to: one("--to", to)?,
        })
    }

    /// Whether this is the whole run (neither `--from` nor `--to`).
    pub fn is_whole(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// `--from A --to B` as the user wrote them, for messages.
    fn flags(&self) -> String {
        [("--from", &self.from), ("--to", &self.to)]
            .iter()
            .filter_map(|(flag, b)| b.as_ref().map(|(_, text)| format!("{flag} {text}")))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The run's facts a window is resolved against.
pub(super) struct Run<'a> {
    /// The run's first event (the origin of the time axis).
    pub(super) first: Micros,
    /// Milliseconds from the first to the last event.
    pub(super) end_ms: f64,
    /// Every CS interval in the CS log's order of `enter` lines: (enter, end) in ms.
    pub(super) entries: &'a [(f64, f64)],
}

impl Run<'_> {
    /// The window in milliseconds since the first event, cut to the run; an error (one line)
    /// when a bound names no entry of the run, or the window is empty or outside the run.
    pub(super) fn resolve(&self, w: &Window) -> Result<(f64, f64), WindowError> {
        let from = match &w.from {
            Some((b, text)) => self.ms(b, &format!("--from {text}"), false)?,
            None => 0.0,
        };
        let to = match &w.to {
            Some((b, text)) => self.ms(b, &format!("--to {text}"), true)?,
            None => self.end_ms,
        };
        let run = format!(
            "the run lasts {:.3} s, from {} to {}",
            self.end_ms / 1000.0,
            rfc3339(self.first),
            rfc3339(self.first + (self.end_ms * 1000.0).round() as Micros)
        );
        let flags = w.flags();
        if from >= self.end_ms {
            return Err(WindowError::AfterRun { flags, run });
        }
        if to <= 0.0 {
            return Err(WindowError::BeforeRun { flags, run });
        }
        if from >= to {
            return Err(WindowError::Empty {
                flags,
                from_s: from / 1000.0,
                to_s: to / 1000.0,
            });
        }
        Ok((from.max(0.0), to.min(self.end_ms)))
    }

    /// A bound in ms since the first event; `said` is the flag and value, for errors; `end`:
    /// an entry ends where it left the CS (else where it entered).
    fn ms(&self, b: &Bound, said: &str, end: bool) -> Result<f64, WindowError> {
        let since = |us: Micros| (us - self.first) as f64 / 1000.0;
        Ok(match b {
            Bound::Offset(ms) => *ms,
            Bound::At(us) => since(*us),
            Bound::TimeOfDay(tod) => {
                // On the run's (UTC) day; on the next one if that is earlier than the run and
                // the run goes past midnight.
                let day = self.first.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY;
                let same = day + tod;
                let last = self.first + (self.end_ms * 1000.0) as Micros;
                if same < self.first && same + MICROS_PER_DAY <= last {
                    since(same + MICROS_PER_DAY)
                } else {
                    since(same)
                }
            }
            Bound::Entry(n) => {
                let Some(&(enter, exit)) = self.entries.get(n - 1) else {
                    return Err(WindowError::NoEntry {
                        said: said.to_string(),
                        entries: self.entries.len(),
                    });
                };
                if end {
                    exit
                } else {
                    enter
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Result<Bound, String> {
        s.parse().map_err(|e: BoundError| e.to_string())
    }

    #[test]
    fn bounds_are_read_as_seconds_times_or_entries() {
        assert_eq!(b("5"), Ok(Bound::Offset(5000.0)));
        assert_eq!(b("5.5s"), Ok(Bound::Offset(5500.0)));
        assert_eq!(b(" 1500ms "), Ok(Bound::Offset(1500.0)));
        assert_eq!(b("entry:40"), Ok(Bound::Entry(40)));
        assert_eq!(b("Entry: 7"), Ok(Bound::Entry(7)));
        assert_eq!(
            b("07:33:13.308"),
            Ok(Bound::TimeOfDay(
                ((7 * 60 + 33) * 60 + 13) * 1_000_000 + 308_000
            ))
        );
        assert_eq!(b("00:00:01"), Ok(Bound::TimeOfDay(1_000_000)));
        let at = b("2026-11-24T07:33:13.308023Z").unwrap();
        assert_eq!(at, Bound::At(1_795_503_600_000_000 + 1_993_308_023));
        assert_eq!(b("2026-11-24T07:33:13.308023"), Ok(at));
        for bad in [
            "5x", "-2", "entry:", "entry:x", "7:60:00", "07:33", "1.2.3", "", "nan",
        ] {
            let e = b(bad).unwrap_err();
            assert!(!e.contains('\n'), "{bad}: {e}");
            assert!(e.contains("entry:40"), "{bad}: {e}");
        }
        assert!(b("entry:0").unwrap_err().contains("numbered from 1"));
        assert!(b("2026-13-01T00:00:00Z")
            .unwrap_err()
            .starts_with("not an RFC 3339 UTC time"));
    }

    #[test]
    fn a_window_names_its_flag_in_errors_and_is_cut_to_the_run() {
        let err = Window::parse(Some("5"), Some("soon"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("--to soon: not a time or an entry; write seconds"),
            "{err}"
        );
        let entries = [(100.0, 150.0), (200.0, 400.0), (450.0, 500.0)];
        // 2026-11-24T07:00:00Z
        let first: Micros = 1_795_503_600_000_000;
        let run = Run {
            first,
            end_ms: 500.0,
            entries: &entries,
        };
        let resolve = |from: Option<&str>, to: Option<&str>| {
            run.resolve(&Window::parse(from, to).unwrap())
                .map_err(|e| e.to_string())
        };
        assert_eq!(resolve(None, None), Ok((0.0, 500.0)));
        assert_eq!(resolve(Some("0.1"), Some("300ms")), Ok((100.0, 300.0)));
        assert_eq!(
            resolve(Some("entry:2"), Some("entry:2")),
            Ok((200.0, 400.0)),
            "an entry is drawn whole"
        );
        assert_eq!(
            resolve(Some("07:00:00.2"), Some("2026-11-24T07:00:09Z")),
            Ok((200.0, 500.0)),
            "cut at the run's end"
        );
        assert_eq!(
            resolve(Some("entry:4"), None).unwrap_err(),
            "--from entry:4: critical_section.log has 3 entries; write entry:1 to entry:3"
        );
        assert_eq!(
            resolve(Some("0.3"), Some("0.2")).unwrap_err(),
            "--from 0.3 --to 0.2: the window is empty (0.300 s to 0.200 s since the run's first event); --to must be later than --from"
        );
        assert_eq!(
            resolve(Some("2"), None).unwrap_err(),
            "--from 2: the window starts after the run's last event; the run lasts 0.500 s, from 2026-11-24T07:00:00.000000Z to 2026-11-24T07:00:00.500000Z"
        );
        assert!(resolve(None, Some("06:59:59"))
            .unwrap_err()
            .starts_with("--to 06:59:59: the window ends before the run's first event;"));
        assert!(resolve(None, Some("0"))
            .unwrap_err()
            .starts_with("--to 0: the window ends before the run's first event;"));
        assert!(resolve(Some("0.2"), Some("0.1"))
            .unwrap_err()
            .contains("the window is empty"));
    }
}
