//! `wordgate healthcheck`: a probe for container runtimes whose images have
//! no curl (distroless). One HTTP/1.1 `GET` over a std `TcpStream`, through
//! TLS for an `https://` URL, with a short timeout on connecting, writing
//! and reading; healthy means a `200` status line.
//!
//! Without `--url` the probe finds the server the way `wordgate serve`
//! would: from the same configuration (file, `WORDGATE_*`), it GETs
//! `/healthz` on the configured port over loopback, with HTTPS when built-in
//! TLS is configured. So the image's `HEALTHCHECK` needs no URL, and keeps
//! working when an operator turns TLS on.
//!
//! Over HTTPS the probe does not check the server's certificate: the
//! container asks its own process over loopback, where the certificate names
//! the public host (not `127.0.0.1`) and its issuer may not be in the image.
//! What it checks is that the server completes a TLS handshake (signatures
//! verified) and answers `/healthz` with 200.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use tokio_rustls::rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::Config;

/// How long each step (connect, handshake and write, each read) may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// The URL `wordgate serve` with `config` answers health checks on, as seen
/// from inside its container: loopback, the configured port, `https` when
/// built-in TLS is on. A `listen` that is not an address (it would fail to
/// start anyway) probes port 8080, the default.
pub fn url_for(config: &Config) -> String {
    let scheme = if config.tls_cert.as_os_str().is_empty() { "http" } else { "https" };
    let listen = config.listen.parse::<SocketAddr>().ok();
    let port = listen.map_or(8080, |addr| addr.port());
    let host = match listen.map(|addr| addr.ip()) {
        // A wildcard listener answers on loopback too.
        Some(IpAddr::V4(ip)) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(IpAddr::V6(ip)) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        Some(ip) => ip,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    format!("{scheme}://{}/healthz", SocketAddr::new(host, port))
}

/// GETs `url` (`http://` or `https://`, `host:port/path`) and returns `Ok`
/// with the status line when the status is 200, otherwise an error saying
/// what went wrong.
pub fn probe(url: &str, timeout: Duration) -> Result<String, String> {
    let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(rest), _) => (false, rest),
        (_, Some(rest)) => (true, rest),
        _ => return Err(format!("{url}: only http:// and https:// URLs are supported")),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(format!("{url}: no host"));
    }
    let with_port = if authority.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
        authority.to_string()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|err| format!("{url}: cannot resolve {with_port}: {err}"))?
        .next()
        .ok_or_else(|| format!("{url}: {with_port} has no address"))?;
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|err| format!("cannot connect to {addr}: {err}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|err| err.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|err| err.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    let head = if tls {
        let host = with_port.rsplit_once(':').map_or(with_port.as_str(), |(host, _)| host);
        let mut stream = tls_stream(host, stream)?;
        exchange(&mut stream, &request, addr)?
    } else {
        let mut stream = stream;
        exchange(&mut stream, &request, addr)?
    };
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default().trim().to_string();
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(status_line),
        Some(_) => Err(format!("{url}: {status_line}")),
        None => Err(format!("{url}: not an HTTP answer: {status_line:?}")),
    }
}

/// Sends `request` and reads until the status line is complete.
fn exchange(stream: &mut impl ReadWrite, request: &str, addr: SocketAddr) -> Result<Vec<u8>, String> {
    stream.write_all(request.as_bytes()).map_err(|err| format!("cannot send to {addr}: {err}"))?;
    stream.flush().map_err(|err| format!("cannot send to {addr}: {err}"))?;
    let mut head = Vec::new();
    let mut chunk = [0u8; 512];
    while !head.contains(&b'\n') && head.len() < 8 * 1024 {
        let read = stream.read(&mut chunk).map_err(|err| format!("no answer from {addr}: {err}"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    Ok(head)
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A TLS client over `stream` that accepts the server's certificate
/// whatever it names (see the module docs), with TLS 1.2+ and the same
/// `ring` provider as the server.
fn tls_stream(
    host: &str,
    stream: TcpStream,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AnyCertificate(Arc::clone(&provider)));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("TLS setup: {err}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_string()).map_err(|err| format!("{host}: {err}"))?;
    let connection =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|err| format!("TLS setup: {err}"))?;
    Ok(rustls::StreamOwned::new(connection, stream))
}

/// Accepts any certificate chain but verifies the handshake's signatures
/// with it, so the server must hold the key of the certificate it sends.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
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
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, signature, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, signature, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_urls_it_cannot_probe() {
        assert!(probe("ftp://127.0.0.1:8443/healthz", TIMEOUT).is_err_and(|e| e.contains("only http://")));
        assert!(probe("http:///healthz", TIMEOUT).is_err_and(|e| e.contains("no host")));
    }

    #[test]
    fn a_closed_port_is_unhealthy() {
        // Bind then drop: the port is (almost certainly) closed now.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let Ok(port) = port else { panic!("cannot bind a port") };
        let result = probe(&format!("http://127.0.0.1:{port}/healthz"), TIMEOUT);
        assert!(result.is_err_and(|e| e.starts_with("cannot connect")));
        let result = probe(&format!("https://127.0.0.1:{port}/healthz"), TIMEOUT);
        assert!(result.is_err_and(|e| e.starts_with("cannot connect")));
    }

    #[test]
    fn the_url_follows_the_configuration() {
        let config = |listen: &str, tls: bool| Config {
            listen: listen.to_string(),
            tls_cert: if tls { "tls.crt".into() } else { Default::default() },
            tls_key: if tls { "tls.key".into() } else { Default::default() },
            ..Config::default()
        };
        assert_eq!(url_for(&config("0.0.0.0:8080", false)), "http://127.0.0.1:8080/healthz");
        assert_eq!(url_for(&config("0.0.0.0:8443", true)), "https://127.0.0.1:8443/healthz");
        assert_eq!(url_for(&config("[::]:9000", false)), "http://[::1]:9000/healthz");
        assert_eq!(url_for(&config("10.0.0.7:80", false)), "http://10.0.0.7:80/healthz");
        assert_eq!(url_for(&Config::default()), "http://127.0.0.1:8080/healthz");
    }
}
