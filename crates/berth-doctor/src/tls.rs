//! Certificates: read from PEM files, or as a listener serves them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};

/// What the doctor reads off a leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub not_after: Timestamp,
    /// DNS names (and IP addresses, as text) it is valid for.
    pub names: Vec<String>,
    pub self_signed: bool,
}

pub fn leaf_from_der(der: &[u8]) -> Result<Leaf, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let not_after = Timestamp::from_second(cert.validity().not_after.timestamp()).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => names.push((*dns).to_owned()),
                GeneralName::IPAddress(ip) => {
                    let text = match ip.len() {
                        4 => <[u8; 4]>::try_from(*ip).map(|b| std::net::IpAddr::from(b).to_string()).ok(),
                        16 => <[u8; 16]>::try_from(*ip).map(|b| std::net::IpAddr::from(b).to_string()).ok(),
                        _ => None,
                    };
                    names.extend(text);
                }
                _ => {}
            }
        }
    }
    Ok(Leaf { not_after, names, self_signed: cert.issuer() == cert.subject() })
}

/// The first certificate of a PEM file: the leaf, by convention.
pub fn leaf_from_pem(pem: &[u8]) -> Result<Leaf, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem).map_err(|e| format!("no PEM certificate: {e}"))?;
    leaf_from_der(&block.contents)
}

/// Whether `names` cover `host`, with one-label wildcards as browsers read them.
pub fn covers(names: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    names.iter().any(|name| {
        let name = name.to_ascii_lowercase();
        match name.strip_prefix("*.") {
            Some(suffix) => host.split_once('.').is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
            None => name == host,
        }
    })
}

/// The leaf certificate `addr` serves for `server_name`.
pub async fn served(addr: SocketAddr, server_name: &str) -> Result<Leaf, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ReadOnly(provider)))
        .with_no_client_auth();
    let name = ServerName::try_from(server_name.to_owned()).map_err(|e| e.to_string())?;
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let tls =
            tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.map_err(|e| e.to_string())?;
        let (_, session) = tls.get_ref();
        let der = session.peer_certificates().and_then(|c| c.first()).ok_or("the server sent no certificate")?;
        leaf_from_der(der)
    };
    tokio::time::timeout(Duration::from_secs(5), handshake)
        .await
        .map_err(|_| "no TLS handshake within 5 s".to_owned())?
}

/// Accepts any certificate: the doctor reads what is served (self-signed
/// ones included) to judge it; it sends nothing over the connection.
#[derive(Debug)]
struct ReadOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for ReadOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_expiry_and_names_from_pem() {
        let mut params =
            rcgen::CertificateParams::new(vec!["shop.example".to_owned(), "*.shop.example".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2027, 3, 1);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let leaf = leaf_from_pem(cert.pem().as_bytes()).unwrap();
        assert_eq!(leaf.not_after, "2027-03-01T00:00:00Z".parse().unwrap());
        assert_eq!(leaf.names, ["shop.example", "*.shop.example"]);
        assert!(leaf.self_signed);
        assert!(covers(&leaf.names, "api.shop.example"));
        assert!(covers(&leaf.names, "SHOP.example"));
        assert!(!covers(&leaf.names, "a.b.shop.example"));
        assert!(!covers(&leaf.names, "other.example"));
        assert!(leaf_from_pem(b"not a certificate").is_err());
    }
}
