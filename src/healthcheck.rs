//! `wordgate healthcheck`: a probe for container runtimes whose images have
//! no curl (distroless). One plain HTTP/1.1 `GET` over a std `TcpStream`,
//! with a short timeout on connecting, writing and reading; healthy means a
//! `200` status line. No TLS: a container probes its own port, so with
//! built-in HTTPS use the orchestrator's HTTPS probes instead (see the
//! README's Deployment section).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What `wordgate healthcheck` asks without `--url`: the image listens on
/// 8080.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080/healthz";

/// How long each step (connect, write, each read) may take.
pub const TIMEOUT: Duration = Duration::from_secs(3);

/// GETs `url` (`http://host:port/path`) and returns `Ok` with the status
/// line when the status is 200, otherwise an error saying what went wrong.
pub fn probe(url: &str, timeout: Duration) -> Result<String, String> {
    let rest =
        url.strip_prefix("http://").ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
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
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|err| format!("{url}: cannot resolve {with_port}: {err}"))?
        .next()
        .ok_or_else(|| format!("{url}: {with_port} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|err| format!("cannot connect to {addr}: {err}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|err| err.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|err| err.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|err| format!("cannot send to {addr}: {err}"))?;

    // Only the status line matters; read until it is complete.
    let mut head = Vec::new();
    let mut chunk = [0u8; 512];
    while !head.contains(&b'\n') && head.len() < 8 * 1024 {
        let read = stream.read(&mut chunk).map_err(|err| format!("no answer from {addr}: {err}"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default().trim().to_string();
    match status_line.split(' ').nth(1) {
        Some("200") => Ok(status_line),
        Some(_) => Err(format!("{url}: {status_line}")),
        None => Err(format!("{url}: not an HTTP answer: {status_line:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_urls_it_cannot_probe() {
        assert!(probe("https://127.0.0.1:8443/healthz", TIMEOUT).is_err_and(|e| e.contains("only http://")));
        assert!(probe("http:///healthz", TIMEOUT).is_err_and(|e| e.contains("no host")));
    }

    #[test]
    fn a_closed_port_is_unhealthy() {
        // Bind then drop: the port is (almost certainly) closed now.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let Ok(port) = port else { panic!("cannot bind a port") };
        let result = probe(&format!("http://127.0.0.1:{port}/healthz"), TIMEOUT);
        assert!(result.is_err_and(|e| e.starts_with("cannot connect")));
    }
}
