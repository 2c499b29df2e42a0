//! maekawa: distributed mutual exclusion among peer nodes by Maekawa's quorum voting, with
//! Sanders' deadlock correction.
//!
//! The algorithm lives in the `maekawa-core` crate, a pure state machine (events in, actions
//! out) with the simulator and explorer that check it; the gRPC messages in `maekawa-wire`; the
//! library a program links to take a lock in `maekawa-client` (the lock client, the cluster
//! file, the client side of TLS), which this crate re-exports as [`client`], [`config`] and
//! (with the server side added) [`tls`]. This crate is everything else that touches the world,
//! in layers above those crates (ARCHITECTURE.md): [`logdir`] and [`tls`] at the bottom
//! ([`certs`] makes what [`tls`] reads), then [`daemon`] (runs a node) beside [`logs`] (reads
//! what nodes wrote), then [`bench`](mod@bench) (starts daemons, takes locks through
//! [`client`] and reads their logs) and [`scale`] (runs it at several sizes beside the
//! simulator). A module never imports a layer above its own.
#![warn(missing_docs, unreachable_pub)]

pub mod bench;
pub mod certs;
pub mod daemon;
pub mod logdir;
pub mod logs;
pub mod node_event;
pub mod scale;
pub mod simd;
pub mod tls;
pub mod watch;

// The client crate's modules under their old paths, so `maekawa::client` and
// `maekawa::config` name what `maekawa_client` has (`tls` re-exports its half of TLS too).
pub use maekawa_client::{client, config};
