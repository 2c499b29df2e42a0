//! `maekawa certs init`: a certificate authority for one cluster and every certificate its
//! nodes and clients need, so that mutual TLS is one command ([`crate::tls`] says what each
//! certificate may do).
//!
//! Files, in one directory (default: `certs` beside the cluster file):
//! `ca.pem`/`ca.key` (the authority; keep `ca.key` off the nodes), `node-<id>.pem`/`.key`
//! for every node of the cluster file, `admin.pem`/`.key` and `client.pem`/`.key`. Keys are
//! written readable by their owner only. Running it again keeps what exists and adds what is
//! missing (a node added to the cluster file gets its certificate from the same authority).

use crate::config::Config;
use crate::tls::{self, Role, CA_CERT, CA_KEY};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How long the certificates made here are valid, in years.
pub const VALID_YEARS: i32 = 10;

/// Why certificates could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// A file could not be written or read.
    #[error("{path}: {why}; pass --out a directory that can be created and written")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        why: String,
    },
    /// The existing CA could not be used.
    #[error("{path}: not a usable CA ({why}); remove the directory's ca.pem and ca.key to start a new CA (every certificate must then be made again)")]
    BadCa {
        /// The CA file.
        path: PathBuf,
        /// What failed.
        why: String,
    },
    /// rcgen refused the parameters (a host name it cannot put in a certificate, say).
    #[error("making {what}: {why}")]
    Generate {
        /// The certificate.
        what: String,
        /// What rcgen said.
        why: String,
    },
}

/// What `init` did with each file.
#[derive(Debug, Default)]
pub struct Made {
    /// Files written now.
    pub written: Vec<PathBuf>,
    /// Files that existed and were kept.
    pub kept: Vec<PathBuf>,
}

/// Makes the CA (unless `out` has one) and every certificate of the cluster that is missing.
pub fn init(config: &Config, out: &Path) -> Result<Made, CertsError> {
    std::fs::create_dir_all(out).map_err(|e| CertsError::Io {
        path: out.to_path_buf(),
        why: format!("cannot create the directory ({e})"),
    })?;
    let mut made = Made::default();
    let issuer = ca(out, &mut made)?;
    let mut wanted: Vec<(String, Role, Vec<SanType>)> = config
        .nodes
        .iter()
        .map(|n| {
            let mut names = vec![
                dns(&tls::node_dns(n.id))?,
                dns(tls::CLUSTER_NAME)?,
                // "localhost" too, so tools that connect by that name can check it.
                dns("localhost")?,
            ];
            names.extend(host_san(&n.addr)?);
            Ok((tls::node_stem(n.id), Role::Node(n.id), names))
        })
        .collect::<Result<_, CertsError>>()?;
    wanted.push((tls::ADMIN.to_string(), Role::Admin, Vec::new()));
    wanted.push((tls::CLIENT.to_string(), Role::Client, Vec::new()));
    for (stem, role, names) in wanted {
        let cert_path = out.join(format!("{stem}.pem"));
        let key_path = out.join(format!("{stem}.key"));
        if cert_path.exists() && key_path.exists() {
            made.kept.push(cert_path);
            continue;
        }
        let (cert, key) = leaf(&issuer, &stem, role, names)?;
        write(&key_path, key.as_bytes(), true)?;
        write(&cert_path, cert.as_bytes(), false)?;
        made.written.push(cert_path);
    }
    Ok(made)
}

fn generate_error(what: &str) -> impl Fn(rcgen::Error) -> CertsError + '_ {
    move |e| CertsError::Generate {
        what: what.to_string(),
        why: e.to_string(),
    }
}

fn dns(name: &str) -> Result<SanType, CertsError> {
    let name = name.to_string().try_into().map_err(generate_error(name))?;
    Ok(SanType::DnsName(name))
}

/// The host of `host:port` as a subject alternative name (an IP address or a DNS name).
fn host_san(addr: &str) -> Result<Option<SanType>, CertsError> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(Some(SanType::IpAddress(ip)));
    }
    if host.is_empty() || host.eq_ignore_ascii_case("localhost") {
        return Ok(None);
    }
    dns(host).map(Some)
}

/// The validity window: from the start of this year for [`VALID_YEARS`] years (a start in
/// the past tolerates clocks a little behind).
fn validity(params: &mut CertificateParams) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Average Gregorian year: the year may come out one early near New Year, never late.
    let year = 1970 + (secs / 31_556_952) as i32;
    params.not_before = rcgen::date_time_ymd(year, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + VALID_YEARS, 1, 1);
}

/// Loads the CA of `out`, or makes one when it has none.
fn ca(out: &Path, made: &mut Made) -> Result<Issuer<'static, KeyPair>, CertsError> {
    let cert_path = out.join(CA_CERT);
    let key_path = out.join(CA_KEY);
    if cert_path.exists() || key_path.exists() {
        let bad = |why: String| CertsError::BadCa {
            path: cert_path.clone(),
            why,
        };
        let cert = std::fs::read_to_string(&cert_path).map_err(|e| bad(e.to_string()))?;
        let key = std::fs::read_to_string(&key_path)
            .map_err(|e| bad(format!("{}: {e}", key_path.display())))?;
        let key = KeyPair::from_pem(&key).map_err(|e| bad(e.to_string()))?;
        let issuer = Issuer::from_ca_cert_pem(&cert, key).map_err(|e| bad(e.to_string()))?;
        made.kept.push(cert_path);
        return Ok(issuer);
    }
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "maekawa cluster CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params);
    let key = KeyPair::generate().map_err(generate_error("the CA key"))?;
    let cert = params
        .self_signed(&key)
        .map_err(generate_error("the CA certificate"))?;
    write(&key_path, key.serialize_pem().as_bytes(), true)?;
    write(&cert_path, cert.pem().as_bytes(), false)?;
    made.written.push(cert_path);
    Ok(Issuer::new(params, key))
}

/// One certificate signed by the CA: its PEM and its key's PEM.
fn leaf(
    issuer: &Issuer<'static, KeyPair>,
    stem: &str,
    role: Role,
    mut names: Vec<SanType>,
) -> Result<(String, String), CertsError> {
    let uri = role.uri().try_into().map_err(generate_error(stem))?;
    names.push(SanType::URI(uri));
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, stem);
    params.subject_alt_names = names;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = match role {
        // A node is a server to its peers and clients, and a client of its peers.
        Role::Node(_) => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
        Role::Admin | Role::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
    };
    validity(&mut params);
    let key = KeyPair::generate().map_err(generate_error(stem))?;
    let cert = params
        .signed_by(&key, issuer)
        .map_err(generate_error(stem))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Writes a file whole; keys readable by their owner only.
fn write(path: &Path, bytes: &[u8], private: bool) -> Result<(), CertsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e: std::io::Error| CertsError::Io {
        path: path.to_path_buf(),
        why: e.to_string(),
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
        .map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_certificate_names_its_role_and_a_second_run_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::parse(
            &dir.path().join("q.json"),
            r#"{"nodes": [{"id": 0, "addr": "127.0.0.1:1"}, {"id": 1, "addr": "db-1.example:2"}]}"#,
        )
        .unwrap();
        let out = dir.path().join("certs");
        let made = init(&config, &out).unwrap();
        assert_eq!(made.written.len(), 5, "{made:?}");
        for (stem, role) in [
            ("node-0", Role::Node(maekawa_core::id::NodeId(0))),
            ("node-1", Role::Node(maekawa_core::id::NodeId(1))),
            ("admin", Role::Admin),
            ("client", Role::Client),
        ] {
            let pem = std::fs::read(out.join(format!("{stem}.pem"))).unwrap();
            let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
            assert_eq!(Role::of_certificate(&pem.contents), Some(role), "{stem}");
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(out.join(format!("{stem}.key")))
                    .unwrap()
                    .permissions(),
            );
            assert_eq!(mode & 0o077, 0, "{stem}.key is private");
        }
        let again = init(&config, &out).unwrap();
        assert!(again.written.is_empty(), "{again:?}");
        std::fs::remove_file(out.join("client.pem")).unwrap();
        let third = init(&config, &out).unwrap();
        assert_eq!(third.written, vec![out.join("client.pem")]);
    }
}
