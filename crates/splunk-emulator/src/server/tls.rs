//! The certificate a fresh Splunk serves: a generated CA (like `SplunkCommonCA`) signing the
//! server certificate for `localhost`/`127.0.0.1`, and the rustls server config using it.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::EmulatorError;

/// The server's TLS material.
pub(crate) struct TlsMaterial {
    /// PEM of the CA that signed the server certificate (what clients should trust).
    pub(crate) ca_pem: String,
    /// The rustls config (ring provider) for the accept loop.
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

/// Generates a CA and a server certificate for the loopback names.
pub(crate) fn generate() -> Result<TlsMaterial, EmulatorError> {
    let tls_err = |e: rcgen::Error| EmulatorError::Tls(e.to_string());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "SplunkEmulatorCA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "Splunk emulator");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(tls_err)?)
        .map_err(tls_err)?;

    let mut leaf_params = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(tls_err)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "SplunkServerDefaultCert");
    let leaf_key = KeyPair::generate().map_err(tls_err)?;
    let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(tls_err)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca.der().clone()];
    let mut server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EmulatorError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| EmulatorError::Tls(e.to_string()))?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_pem: ca.pem(),
        server_config: Arc::new(server_config),
    })
}

/// A rustls client config (ring provider) trusting the given PEM certificates, for reqwest.
pub(crate) fn client_config(
    extra_ca_pem: Option<&str>,
) -> Result<rustls::ClientConfig, EmulatorError> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = extra_ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| EmulatorError::Tls(format!("bad IdP CA PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| EmulatorError::Tls(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| EmulatorError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
