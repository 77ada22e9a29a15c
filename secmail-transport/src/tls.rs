//! TLS settings: which certificate authorities to trust, and the one rustls configuration this
//! crate builds from them (aws-lc-rs provider, TLS 1.2 minimum, no client certificate).

use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::{Error, Result};

/// Which servers to trust. There is no "accept any certificate" switch here: a caller that
/// truly needs one builds its own rustls [`ClientConfig`] through rustls's `dangerous()` API
/// and hands it to [`TlsConfig::from_rustls`], where the name says what it is.
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig").finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Trust the Mozilla root programme (the `webpki-roots` crate): the default.
    pub fn webpki_roots() -> Result<Self> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Self::from_roots(roots)
    }

    /// Trust only the certificate authorities in a PEM file (e.g. a private CA).
    pub fn with_ca_file(path: &Path) -> Result<Self> {
        let pem = std::fs::read(path)
            .map_err(|e| Error::Config(format!("cannot read CA file {}: {e}", path.display())))?;
        Self::with_ca_pem(&pem)
            .map_err(|e| Error::Config(format!("CA file {}: {e}", path.display())))
    }

    /// Trust only the certificate authorities in PEM text.
    pub fn with_ca_pem(pem: &[u8]) -> Result<Self> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::Config(format!("bad PEM certificate: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::Config(format!("unusable CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(Error::Config("no certificate in the CA PEM".into()));
        }
        Self::from_roots(roots)
    }

    /// Use a rustls configuration built by the caller, as it is (its verifier, its versions).
    pub fn from_rustls(config: Arc<ClientConfig>) -> Self {
        TlsConfig { config }
    }

    fn from_roots(roots: RootCertStore) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        // TLS 1.3 and 1.2 only; rustls has nothing older.
        let config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsConfig {
            config: Arc::new(config),
        })
    }

    pub(crate) fn rustls(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }
}
