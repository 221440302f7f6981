//! HTTPS with the generated certificate.

use std::sync::Arc;

use reqwest::StatusCode;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use splunk_emulator::{Emulator, EmulatorConfig};

fn client_trusting(pem: Option<&str>) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = pem {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap()
}

#[tokio::test]
async fn https_is_served_with_a_certificate_clients_can_trust() {
    let emu = Emulator::start(EmulatorConfig {
        tls: true,
        bench_events: 10,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    assert!(emu.url().starts_with("https://127.0.0.1:"), "{}", emu.url());
    let pem = emu
        .ca_certificate_pem()
        .expect("a CA certificate when serving TLS");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));

    let trusted = client_trusting(Some(pem));
    let response = trusted
        .post(format!("{}/services/auth/login", emu.url()))
        .form(&[
            ("username", "admin"),
            ("password", "changeme"),
            ("output_mode", "json"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let localhost = emu.url().replace("127.0.0.1", "localhost");
    let response = trusted
        .get(format!("{localhost}/services/server/info"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the certificate also names localhost"
    );

    let untrusting = client_trusting(None);
    let result = untrusting
        .get(format!("{}/services/server/info", emu.url()))
        .send()
        .await;
    assert!(result.is_err(), "an unknown CA is refused");
    emu.shutdown().await;
}

#[tokio::test]
async fn plain_http_has_no_certificate() {
    let emu = Emulator::start(EmulatorConfig {
        bench_events: 10,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    assert!(emu.url().starts_with("http://"));
    assert!(emu.ca_certificate_pem().is_none());
}
