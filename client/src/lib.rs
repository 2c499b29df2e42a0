//! maekawa-client: what a program links to take named locks from a maekawa cluster, and
//! nothing of the daemon.
//!
//! [`client`] takes, holds and releases named locks and semaphores through a daemon's `Lock`
//! service (the wire of crate `maekawa-wire`); [`election`] campaigns for a named lock and
//! watches who leads; [`config`] reads the cluster file (`quorums.json`) that
//! [`client::LockClient::connect_node`] looks a node up in; [`tls`] decides between mutual TLS
//! and plaintext from the certificates directory and loads the client's identity. The daemon
//! (crate `maekawa`) builds on the same three modules and re-exports them under its own paths
//! (`maekawa::client`, `maekawa::config`, `maekawa::tls`); the server side of TLS (roles read
//! from certificates, the check each service makes of its callers) is the daemon's and not
//! here.
//!
//! ```no_run
//! # async fn example() -> Result<(), maekawa_client::LockError> {
//! use maekawa_client::{LockClient, LockOptions};
//!
//! let mut client = LockClient::connect("127.0.0.1:50051").await?;
//! let guard = client.lock("counter", LockOptions::default()).await?;
//! println!("fencing token {}", guard.token());
//! guard.release().await?;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs, unreachable_pub)]

pub mod client;
pub mod config;
pub mod election;
pub mod tls;

pub use client::{LockClient, LockError, LockGuard, LockInfo, LockOptions, NodeLocks};
