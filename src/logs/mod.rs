//! The tools that read a run back from the files its nodes wrote: `maekawa check` (is it
//! correct?), `report` (how did one entry get in? what happened overall?) and `timeline` (a
//! picture).
//!
//! They share one reader of node logs ([`reader`]) and one of the CS log ([`cslog`]). Nothing
//! here writes, truncates or rotates a log, and nothing imports the daemon: the file formats
//! (README.md, "Logs") are the only contract between the two.

pub mod check;
pub mod cslog;
pub mod reader;
pub mod report;
pub mod timeline;
