//! maekawa-core: Maekawa's quorum voting (with Sanders' deadlock correction) as a pure state
//! machine, and the tools that check it.
//!
//! This crate is sans-IO, like `quinn-proto` and raft-rs: it never reads a file, opens a
//! socket, looks at a clock or spawns a task. Events go in ([`protocol::Node::handle`],
//! `request_cs`, `exit_cs`), a list of [`protocol::Action`]s comes out, and the caller (the
//! daemon in the `maekawa` crate, or the in-memory [`cluster`]) carries them out. That is what
//! lets [`sim`] and [`explore`] run the very code the daemon runs through millions of random
//! and exhaustive schedules. Its dependency list is checked by `.ci/run`: no tokio, tonic,
//! prost or tracing-appender, ever.
#![warn(missing_docs, unreachable_pub)]

pub mod baseline;
pub mod cluster;
pub mod explore;
pub mod id;
pub mod member;
pub mod protocol;
pub mod quorum;
pub mod rng;
pub mod sim;
