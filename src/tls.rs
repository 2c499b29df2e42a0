//! Mutual TLS between nodes, and between nodes and their clients: who may connect, and who the
//! connection speaks for (README, "Security").
//!
//! One cluster has one certificate authority (`maekawa certs init`, [`crate::certs`]). Every
//! certificate it signs names one **role** in a subject-alternative-name URI:
//!
//! | certificate      | URI                 | may                                                  |
//! |------------------|---------------------|------------------------------------------------------|
//! | `node-<id>.pem`  | `maekawa://node/<id>` | open peer links as node `<id>`; serve as a node     |
//! | `admin.pem`      | `maekawa://admin`   | `ctl request/release/cancel`, and everything a client may |
//! | `client.pem`     | `maekawa://client`  | hold named locks (`Lock.Session`)                    |
//!
//! Anyone with a certificate of the cluster may read (`ctl status`, `Lock.List`). A node's
//! server certificate is also valid for the DNS names `node-<id>.maekawa` and `maekawa` (the
//! name every client checks: any member of the cluster may answer), and for the host of its
//! address in `quorums.json`, so standard tools can check it too.
//!
//! Without certificates the daemon speaks plaintext only when every address of the cluster
//! file is a loopback address (one machine: a classroom demo), or with `--insecure`; both log
//! a warning at start. In plaintext there are no roles: anyone who reaches a port is anyone.
//!
//! This module decides and checks; it opens no sockets itself. The daemon mounts
//! [`Credentials::server`] on its server and asks a [`Gate`] in each call; clients build
//! their channels with [`Security::endpoint`].

use crate::config::Config;
use maekawa_core::id::NodeId;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// The CA's certificate file in a certificates directory.
pub const CA_CERT: &str = "ca.pem";
/// The CA's private key (only `maekawa certs init` reads it; no daemon needs it).
pub const CA_KEY: &str = "ca.key";
/// The file stem of the admin certificate `ctl` uses by default.
pub const ADMIN: &str = "admin";
/// The file stem of the lock-client certificate `lock` and `locks` use by default.
pub const CLIENT: &str = "client";
/// The DNS name every node's certificate is valid for and every client checks: "a member of
/// this cluster". Which member is checked by the protocol itself (a Hello names its receiver).
pub const CLUSTER_NAME: &str = "maekawa";
/// How long a TLS handshake may take before the connection is dropped: a stranger that opens
/// a connection and says nothing holds it no longer than this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The file stem of node `id`'s certificate and key (`node-<id>.pem`, `node-<id>.key`).
pub fn node_stem(id: NodeId) -> String {
    format!("node-{id}")
}

/// The DNS name naming node `id` in its certificate.
pub fn node_dns(id: NodeId) -> String {
    format!("node-{id}.{CLUSTER_NAME}")
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

/// What a certificate of the cluster allows its holder to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A member of the cluster: may open peer links as this node.
    Node(NodeId),
    /// An operator: may move a node in and out of the CS (`ctl`), and hold locks.
    Admin,
    /// A program that holds named locks.
    Client,
}

const URI_PREFIX: &str = "maekawa://";

impl Role {
    /// The URI that names this role in a certificate.
    pub fn uri(self) -> String {
        match self {
            Role::Node(id) => format!("{URI_PREFIX}node/{id}"),
            Role::Admin => format!("{URI_PREFIX}admin"),
            Role::Client => format!("{URI_PREFIX}client"),
        }
    }

    /// The role a URI names, or `None` for anything else.
    pub fn from_uri(uri: &str) -> Option<Role> {
        match uri.strip_prefix(URI_PREFIX)? {
            "admin" => Some(Role::Admin),
            "client" => Some(Role::Client),
            rest => {
                let id = rest.strip_prefix("node/")?;
                // Digits only: "+1" or " 1" are not how a certificate names node 1.
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                id.parse().ok().map(|n| Role::Node(NodeId(n)))
            }
        }
    }

    /// The role named by a DER certificate (already verified against the CA by TLS), or
    /// `None` when it names none or more than one.
    pub fn of_certificate(der: &[u8]) -> Option<Role> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let san = cert.subject_alternative_name().ok()??;
        let mut roles = san
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                x509_parser::extensions::GeneralName::URI(uri) => Role::from_uri(uri),
                _ => None,
            });
        let role = roles.next()?;
        // Two roles in one certificate would make every check below ambiguous.
        roles.next().is_none().then_some(role)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Node(id) => write!(f, "node {id}"),
            Role::Admin => f.write_str("admin"),
            Role::Client => f.write_str("lock client"),
        }
    }
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

    /// The server side: present this identity, and accept only clients whose certificate the
    /// cluster's CA signed.
    pub fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity.clone())
            .client_ca_root(self.ca.clone())
            .timeout(HANDSHAKE_TIMEOUT)
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
    pub fn endpoint(&self, addr: &str) -> Result<Endpoint, String> {
        match self {
            Security::Plaintext => Endpoint::from_shared(format!("http://{addr}"))
                .map_err(|e| format!("bad address {addr}: {e}")),
            Security::Tls(creds) => Endpoint::from_shared(format!("https://{addr}"))
                .map_err(|e| format!("bad address {addr}: {e}"))?
                .tls_config(creds.client())
                .map_err(|e| format!("TLS setup for {addr}: {e}")),
        }
    }

    /// The check each service makes of its callers under this security.
    pub fn gate(&self) -> Gate {
        Gate {
            mutual: self.is_tls(),
        }
    }
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

/// What a service asks of each call: under mutual TLS, the caller's role (from its verified
/// certificate); in plaintext, nothing (every check passes).
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    mutual: bool,
}

impl Gate {
    /// A gate that lets everyone in (plaintext; also tests of the services themselves).
    pub fn open() -> Gate {
        Gate { mutual: false }
    }

    /// The caller's role: `Ok(None)` in plaintext, `Ok(Some(role))` under TLS, and
    /// `PERMISSION_DENIED` for a certificate that names no role.
    pub fn caller<T>(&self, request: &tonic::Request<T>) -> Result<Option<Role>, tonic::Status> {
        if !self.mutual {
            return Ok(None);
        }
        let certs = request.peer_certs().ok_or_else(|| {
            tonic::Status::unauthenticated("a client certificate of this cluster is required")
        })?;
        let leaf = certs.first().ok_or_else(|| {
            tonic::Status::unauthenticated("a client certificate of this cluster is required")
        })?;
        Role::of_certificate(leaf).map(Some).ok_or_else(|| {
            tonic::Status::permission_denied(
                "the client certificate names no maekawa role (see `maekawa certs init`)",
            )
        })
    }

    /// Lets the call through when the caller's role passes `allowed` (or in plaintext);
    /// otherwise `PERMISSION_DENIED` saying what `action` needs.
    pub fn require<T>(
        &self,
        request: &tonic::Request<T>,
        action: &str,
        allowed: impl Fn(Role) -> bool,
        needs: &str,
    ) -> Result<(), tonic::Status> {
        match self.caller(request)? {
            None => Ok(()),
            Some(role) if allowed(role) => Ok(()),
            Some(role) => Err(tonic::Status::permission_denied(format!(
                "{action} needs {needs}; this certificate is for {role}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_uris() {
        for role in [
            Role::Node(NodeId(0)),
            Role::Node(NodeId(41)),
            Role::Admin,
            Role::Client,
        ] {
            assert_eq!(Role::from_uri(&role.uri()), Some(role));
        }
        for bad in [
            "maekawa://node/",
            "maekawa://node/+1",
            "maekawa://node/1/2",
            "maekawa://node/99999999999",
            "maekawa://root",
            "https://admin",
            "",
        ] {
            assert_eq!(Role::from_uri(bad), None, "{bad}");
        }
    }

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
