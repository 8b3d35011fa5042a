//! The edge's certificate: the spec's files, or one generated for local
//! hosts (written out so clients can trust it, like `curl --cacert`).

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

use crate::EdgeError;

/// A certificate chain and key in PEM.
#[derive(Debug, Clone)]
pub struct Pem {
    pub cert: String,
    pub key: String,
}

/// A self-signed certificate for `hosts`, `localhost` and the loopback addresses.
pub fn self_signed(hosts: &[String]) -> Result<Pem, EdgeError> {
    let mut names: Vec<String> = hosts.to_vec();
    for local in ["localhost", "127.0.0.1", "::1"] {
        if !names.iter().any(|n| n == local) {
            names.push(local.to_owned());
        }
    }
    let cert = rcgen::generate_simple_self_signed(names).map_err(|e| EdgeError::Tls(e.to_string()))?;
    Ok(Pem { cert: cert.cert.pem(), key: cert.signing_key.serialize_pem() })
}

pub fn from_files(cert: &Path, key: &Path) -> Result<Pem, EdgeError> {
    let read =
        |p: &Path| std::fs::read_to_string(p).map_err(|e| EdgeError::Tls(format!("cannot read {}: {e}", p.display())));
    Ok(Pem { cert: read(cert)?, key: read(key)? })
}

/// The certificate for names the edge serves. A client that names
/// another (SNI) gets no handshake, as nginx's `ssl_reject_handshake` does:
/// scanners that try names learn nothing, not even the certificate. A
/// client that names none (an IP address) gets the certificate and then
/// the Host check.
#[derive(Debug)]
struct ServedNames {
    hosts: Vec<String>,
    key: Arc<rustls::sign::CertifiedKey>,
}

impl rustls::server::ResolvesServerCert for ServedNames {
    fn resolve(&self, hello: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        match hello.server_name() {
            Some(name) if !crate::host::served(&self.hosts, Some(&name.to_ascii_lowercase())) => None,
            _ => Some(self.key.clone()),
        }
    }
}

/// A rustls server with HTTP/2 and HTTP/1.1 offered by ALPN, for `hosts`
/// (lower case; empty: any name).
pub fn server_config(pem: &Pem, min_tls13: bool, hosts: &[String]) -> Result<Arc<ServerConfig>, EdgeError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.cert.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| EdgeError::Tls(format!("certificate: {e}")))?;
    let key =
        PrivateKeyDer::from_pem_slice(pem.key.as_bytes()).map_err(|e| EdgeError::Tls(format!("private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] =
        if min_tls13 { &[&rustls::version::TLS13] } else { &[&rustls::version::TLS13, &rustls::version::TLS12] };
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| EdgeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(ServedNames {
            hosts: hosts.to_vec(),
            key: Arc::new(
                rustls::sign::CertifiedKey::from_der(certs, key, &provider)
                    .map_err(|e| EdgeError::Tls(e.to_string()))?,
            ),
        }));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
