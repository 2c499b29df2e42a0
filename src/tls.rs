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
//! This module is the server side; the client side (the certificates directory, the choice
//! between TLS and plaintext, loading an identity: [`Security`], [`Credentials`]) is
//! `maekawa_client::tls`, whose every item this module re-exports, so `maekawa::tls::Security`
//! names the same type a client crate uses. Neither opens sockets itself. The daemon mounts
//! [`ServerTls::server`] on its server and asks a [`Gate`] ([`SecurityGate::gate`]) in each
//! call; clients build their channels with [`Security::endpoint`].

pub use maekawa_client::tls::*;

use maekawa_core::id::NodeId;
use std::fmt;
use std::time::Duration;
use tonic::transport::ServerTlsConfig;

/// The CA's private key (only `maekawa certs init` reads it; no daemon needs it).
pub const CA_KEY: &str = "ca.key";
/// How long a TLS handshake may take before the connection is dropped: a stranger that opens
/// a connection and says nothing holds it no longer than this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The DNS name naming node `id` in its certificate.
pub fn node_dns(id: NodeId) -> String {
    format!("node-{id}.{CLUSTER_NAME}")
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

/// The daemon's half of [`Credentials`]: the server configuration, which needs tonic's server
/// (left out of the client crate). Import it where a server mounts TLS.
pub trait ServerTls {
    /// The server side: present this identity, and accept only clients whose certificate the
    /// cluster's CA signed.
    fn server(&self) -> ServerTlsConfig;
}

impl ServerTls for Credentials {
    fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new()
            .identity(self.identity().clone())
            .client_ca_root(self.ca().clone())
            .timeout(HANDSHAKE_TIMEOUT)
    }
}

/// The daemon's half of [`Security`]: the [`Gate`] its services ask (roles come from
/// certificates with x509-parser, which the client crate leaves out). Import it where a
/// daemon builds its services.
pub trait SecurityGate {
    /// The check each service makes of its callers under this security.
    fn gate(&self) -> Gate;
}

impl SecurityGate for Security {
    fn gate(&self) -> Gate {
        Gate {
            mutual: self.is_tls(),
        }
    }
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
}
