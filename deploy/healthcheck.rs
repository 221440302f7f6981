//! The container's health probe: `GET /healthz` on the port `MCP_BIND` names, exit 0 on a
//! `200` answer and 1 otherwise. It exists because the runtime image has no shell, curl or
//! wget; deploy/Dockerfile compiles it with plain `rustc` (no dependencies) beside the server.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

/// The server's own default listen address (`MCP_BIND` unset).
const DEFAULT_BIND: &str = "127.0.0.1:8000";
/// Connect, write and read each give up after this long.
const TIMEOUT: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    let bind = std::env::var("MCP_BIND")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BIND.to_owned());
    match probe(&bind) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("healthcheck: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// The address to connect to for a listen address: an all-interfaces bind is reached on
/// loopback of the same family.
fn target(bind: &str) -> Result<SocketAddr, String> {
    let mut addr: SocketAddr = bind
        .trim()
        .parse()
        .map_err(|_| format!("MCP_BIND `{bind}` is not an IP address with a port"))?;
    if addr.ip().is_unspecified() {
        let loopback = match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        };
        addr.set_ip(loopback);
    }
    Ok(addr)
}

fn probe(bind: &str) -> Result<(), String> {
    let addr = target(bind)?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| format!("socket options: {e}"))?;
    let host = match addr.ip() {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: {host}:{}\r\nConnection: close\r\n\r\n",
        addr.port()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("sending to {addr}: {e}"))?;
    // The status line is all that is read: `HTTP/1.1 200 OK`.
    let mut head = [0u8; 64];
    let mut filled = 0;
    while filled < head.len() && !head[..filled].contains(&b'\n') {
        let read = stream
            .read(&mut head[filled..])
            .map_err(|e| format!("reading from {addr}: {e}"))?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    let line = String::from_utf8_lossy(&head[..filled]);
    let line = line.lines().next().unwrap_or_default();
    let status = line.split_whitespace().nth(1);
    if status == Some("200") {
        Ok(())
    } else {
        Err(format!("GET http://{addr}/healthz answered `{line}`"))
    }
}
