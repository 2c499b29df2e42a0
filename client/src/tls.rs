//! The client side of the cluster's mutual TLS: whether a process talks to the cluster in TLS
//! or plaintext, the identity it presents, and the name it checks the server by (README,
//! "Security").
//!
//! One cluster has one certificate authority (`maekawa certs init`), whose certificates sit in
//! one directory, by default `certs/` beside the cluster file ([`default_dir`]): `ca.pem`, and a
//! `<stem>.pem` and `<stem>.key` per identity (`node-<id>`, `admin`, `client`). [`Security::choose`]
//! picks TLS when that directory has a CA, and plaintext only when every address of the
//! cluster file is a loopback address (one machine: a classroom demo) or with `--insecure`.
//! In plaintext there are no roles: anyone who reaches a port is anyone.
//!
//! This module decides and loads; it opens no sockets itself, and it knows nothing of the
//! server side (which role a certificate names, who may call what: `maekawa::tls`, in the
//! daemon's crate, which re-exports this module's items). Clients build their channels with
//! [`Security::endpoint`].

use crate::config::Config;
use maekawa_core::id::NodeId;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// The CA's certificate file in a certificates directory.
pub const CA_CERT: &str = "ca.pem";
/// The file stem of the admin certificate `ctl` uses by default.
pub const ADMIN: &str = "admin";
/// The file stem of the lock-client certificate `lock` and `locks` use by default.
pub const CLIENT: &str = "client";
/// The DNS name every node's certificate is valid for and every client checks: "a member of
/// this cluster". Which member is checked by the protocol itself (a Hello names its receiver).
pub const CLUSTER_NAME: &str = "maekawa";

/// The file stem of node `id`'s certificate and key (`node-<id>.pem`, `node-<id>.key`).
pub fn node_stem(id: NodeId) -> String {
    format!("node-{id}")
}

/// The default certificates directory: `certs` beside the cluster file, where `maekawa certs
/// init` puts them, so a node and its clients started from one cluster file agree.
pub fn default_dir(config: &Path) -> PathBuf {
    config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
        .join("certs")
}

/// Why TLS could not be set up. Every message is one line naming the file or flag and the fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file is missing or unreadable.
    #[error("{path}: cannot read ({why}); make the certificates with `maekawa certs init --config {config}` (or pass --certs DIR)")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        why: String,
        /// The cluster file, for the fix.
        config: String,
    },
    /// Non-loopback addresses and no certificates.
    #[error("{config}: node addresses are not all loopback ({addr}) and {dir} has no {CA_CERT}: make certificates with `maekawa certs init --config {config}`, or pass --insecure to send everything in plaintext")]
    NoCertificates {
        /// The cluster file.
        config: String,
        /// The first address that is not loopback.
        addr: String,
        /// The certificates directory looked in.
        dir: String,
    },
    /// tonic refused the TLS configuration.
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// The CA and one identity (certificate and key), read from a certificates directory.
#[derive(Debug, Clone)]
pub struct Credentials {
    ca: Certificate,
    identity: Identity,
    /// The certificate file, for messages.
    pub cert_path: PathBuf,
}

impl Credentials {
    /// Reads `ca.pem`, `<stem>.pem` and `<stem>.key` from `dir`. `config` only names the
    /// cluster file in the fix of an error.
    pub fn load(dir: &Path, stem: &str, config: &Path) -> Result<Credentials, TlsError> {
        let read = |name: String| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| TlsError::Unreadable {
                why: e.to_string(),
                path,
                config: config.display().to_string(),
            })
        };
        let ca = read(CA_CERT.to_string())?;
        let cert = read(format!("{stem}.pem"))?;
        let key = read(format!("{stem}.key"))?;
        Ok(Credentials {
            ca: Certificate::from_pem(ca),
            identity: Identity::from_pem(cert, key),
            cert_path: dir.join(format!("{stem}.pem")),
        })
    }

    /// The CA certificate, which the daemon's server side checks its callers against.
    pub fn ca(&self) -> &Certificate {
        &self.ca
    }

    /// The certificate and key this process presents (as a server, too).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The client side: present this identity, and accept only a server the CA signed as a
    /// member of the cluster.
    pub fn client(&self) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .identity(self.identity.clone())
            .domain_name(CLUSTER_NAME)
    }
}

/// How a process talks to the cluster: in plaintext, or with mutual TLS.
#[derive(Debug, Clone)]
pub enum Security {
    /// No encryption, no authentication (loopback-only clusters, or `--insecure`).
    Plaintext,
    /// Mutual TLS with these credentials.
    Tls(Arc<Credentials>),
}

impl Security {
    /// Decides for a process of the cluster in `config`: TLS with `<dir>/<stem>.pem` when
    /// `dir` has a CA certificate, otherwise plaintext if every address is loopback or
    /// `insecure` is set, otherwise an error. The second value is the warning to log when the
    /// answer is plaintext.
    pub fn choose(
        config: &Config,
        dir: &Path,
        stem: &str,
        insecure: bool,
    ) -> Result<(Security, Option<String>), TlsError> {
        let addrs = config.nodes.iter().map(|n| n.addr.as_str());
        Security::choose_for(&config.path, addrs, dir, stem, insecure)
    }

    /// [`Security::choose`] for a process that talks to `addrs` (`config` names the cluster
    /// file, or what stands for it, in messages).
    pub fn choose_for<'a>(
        config: &Path,
        mut addrs: impl Iterator<Item = &'a str>,
        dir: &Path,
        stem: &str,
        insecure: bool,
    ) -> Result<(Security, Option<String>), TlsError> {
        if insecure {
            return Ok((
                Security::Plaintext,
                Some("--insecure: plaintext, no authentication: anyone who can reach a port can act as any node or client".to_string()),
            ));
        }
        if dir.join(CA_CERT).exists() {
            let creds = Credentials::load(dir, stem, config)?;
            return Ok((Security::Tls(Arc::new(creds)), None));
        }
        if let Some(addr) = addrs.find(|a| !is_loopback(a)) {
            return Err(TlsError::NoCertificates {
                config: config.display().to_string(),
                addr: addr.to_string(),
                dir: dir.display().to_string(),
            });
        }
        Ok((
            Security::Plaintext,
            Some(format!(
                "plaintext: every address is loopback and {} has no {CA_CERT}; any local user can act as any node or client (make certificates with `maekawa certs init`)",
                dir.display()
            )),
        ))
    }

    /// Whether this is mutual TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Security::Tls(_))
    }

    /// An endpoint for `addr` (`host:port`) with the right scheme and, for TLS, this
    /// process's identity.
    pub fn endpoint(&self, addr: &str) -> Result<Endpoint, EndpointError> {
        let bad_address = |source| EndpointError::BadAddress {
            addr: addr.to_string(),
            source,
        };
        match self {
            Security::Plaintext => {
                Endpoint::from_shared(format!("http://{addr}")).map_err(bad_address)
            }
            Security::Tls(creds) => Endpoint::from_shared(format!("https://{addr}"))
                .map_err(bad_address)?
                .tls_config(creds.client())
                .map_err(|source| EndpointError::TlsSetup {
                    addr: addr.to_string(),
                    source,
                }),
        }
    }
}

/// Why [`Security::endpoint`] could not make an endpoint for an address: typed so a caller
/// can tell a bad address from a TLS setup failure; the text names the address.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The address does not make a URI.
    #[error("bad address {addr}: {source}")]
    BadAddress {
        /// The address as given.
        addr: String,
        /// What the URI parser said.
        source: tonic::transport::Error,
    },
    /// The TLS identity or CA could not be set on the endpoint.
    #[error("TLS setup for {addr}: {source}")]
    TlsSetup {
        /// The address as given.
        addr: String,
        /// What tonic said.
        source: tonic::transport::Error,
    },
}

/// Whether `addr` (`host:port`) is a loopback address: 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback(addr: &str) -> bool {
    let host = match addr.rsplit_once(':') {
        Some((host, _)) => host,
        None => addr,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_means_127_8_or_ipv6_one_or_localhost() {
        for yes in ["127.0.0.1:1", "127.9.9.9:50051", "[::1]:7", "localhost:80"] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "10.0.0.1:1",
            "0.0.0.0:5",
            "[::]:5",
            "node-1:50051",
            "example.com:1",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }

    #[test]
    fn the_default_directory_is_beside_the_cluster_file() {
        assert_eq!(default_dir(Path::new("quorums.json")), Path::new("./certs"));
        assert_eq!(
            default_dir(Path::new("/a/b/q.json")),
            Path::new("/a/b/certs")
        );
    }
}
