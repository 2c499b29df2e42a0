//! The daemon: one node of the cluster as a process. It drives the protocol core with real
//! sockets, timers and files.
//!
//! [`node`] wires one node (its logs, servers, transport and core) from a listener, a
//! connector and a log directory given from outside, so several nodes can share a process.
//! `driver` is the one task that owns the core: it feeds it what [`transport`] receives,
//! timers and [`command`]s from [`control`] and [`lock_service`], and `execute` carries out
//! the core's actions in order: [`journal`] before a GRANT leaves, [`cslog`] at each entry and
//! exit, the node's [`node_log`] for every line, [`metrics`] for the counts a scrape shows.
//! `workload` is the emulated CS, [`sessions`] the client locks. [`proclock`] and
//! [`incarnation`] make each start a single, new process. Nothing in this folder reads logs
//! back (that is `crate::logs`), and prost types never leave the edge modules ([`transport`],
//! whose every inbound frame [`validate`] checks before the core sees it, [`control`] and
//! [`lock_service`]).

pub mod command;
pub mod control;
pub mod cslog;
mod driver;
pub mod env;
mod execute;
pub mod health;
pub mod incarnation;
pub mod journal;
pub mod limits;
pub mod liveness;
pub mod lock_service;
pub mod membership;
pub mod metrics;
pub mod node;
pub mod node_log;
pub mod proclock;
pub mod recall;
mod reconfig;
pub mod rotating;
pub mod sessions;
pub mod settings;
pub mod transport;
pub mod validate;
mod workload;
// The generated protobuf and gRPC types, from crate `maekawa-wire` (wire/): under their old
// path so the edge modules say `crate::daemon::wire`. Public only for tests that speak the
// wire directly (tests/hostile.rs, security.rs, limits.rs): not a stable API.
#[doc(hidden)]
pub use maekawa_wire as wire;

pub use env::{Clock, Env, Flaws, OsStorage, Storage};
pub use node::{run, NodeError};
pub use settings::{MsRange, NodeSettings, Workload};
