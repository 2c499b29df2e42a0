//! The tools that read a run back from the files its nodes wrote: `maekawa check` (is it
//! correct?), `report` (how did one entry get in? what happened overall?) and `timeline` (a
//! picture).
//!
//! They share one reader of node logs ([`reader`]) and one of the CS log ([`cslog`]). Nothing
//! here writes, truncates or rotates a log, and nothing imports the daemon: the file formats
//! (README.md, "Logs") are the only contract between the two.
//!
//! All three tell a kill from a clean stop the same way: a process that logged `stop` in its
//! `node-<id>.log` stopped cleanly (SIGTERM/SIGINT; it left the CS first); one that did not
//! before the node's next `start` was killed (or crashed), and a CS it held ended at that
//! `start`. Without the node log, a restart counts as after a kill.

pub mod check;
pub mod cslog;
pub mod reader;
pub mod report;
pub mod timeline;
