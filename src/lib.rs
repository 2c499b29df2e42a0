//! maekawa: distributed mutual exclusion among peer nodes by Maekawa's quorum voting, with
//! Sanders' deadlock correction.
//!
//! The algorithm lives in [`protocol`], a pure state machine (events in, actions out); everything
//! that touches the world (files, sockets, clocks) is built around it. [`sim`] and [`explore`]
//! drive the same core through random and exhaustive schedules to check its invariants.
#![warn(missing_docs, unreachable_pub)]

pub mod bench;
pub mod check;
pub mod cluster;
pub mod config;
pub mod control;
pub mod cslog;
pub mod explore;
pub mod id;
pub mod journal;
pub mod logfmt;
pub mod node;
pub mod proclock;
pub mod protocol;
pub mod quorum;
pub mod report;
pub mod sim;
pub mod timeline;
pub mod transport;
mod wire;
