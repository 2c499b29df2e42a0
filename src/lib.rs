//! maekawa: distributed mutual exclusion among peer nodes by Maekawa's quorum voting, with
//! Sanders' deadlock correction.
//!
//! The algorithm lives in the `maekawa-core` crate, a pure state machine (events in, actions
//! out) with the simulator and explorer that check it. This crate is everything around it that
//! touches the world, in layers (ARCHITECTURE.md): [`config`], [`logdir`] and [`tls`] at the
//! bottom ([`certs`] makes what [`tls`] reads),
//! then [`daemon`] (runs a node) beside [`logs`] (reads what nodes wrote), then [`bench`](mod@bench)
//! (starts daemons and reads their logs) and [`scale`] (runs it at several sizes beside the
//! simulator) beside [`client`] (takes named locks from a daemon:
//! what a program links to hold a lock). A module never imports a layer above its own.
#![warn(missing_docs, unreachable_pub)]

pub mod bench;
pub mod certs;
pub mod client;
pub mod config;
pub mod daemon;
pub mod logdir;
pub mod logs;
pub mod node_event;
pub mod scale;
pub mod tls;
