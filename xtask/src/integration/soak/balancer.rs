//! A loopback TCP load balancer: the one public URL in front of the replicas, round robin per
//! connection, as a real load balancer gives a deployment.
//!
//! When a replica refuses the connection (killed, not yet restarted) the balancer tries the
//! next one before a byte has gone either way, so clients never see a dead backend they did
//! not already have a request on; a request under way when its replica dies is lost with it,
//! as behind a real balancer. The connection to the backend is made from the client's own
//! loopback address (each soak client has one in 127.0.1.0/24), so splunk-mcp's per-address
//! rate limits see one address per client, as they would behind a trusted proxy.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// How long connecting to one backend may take before the next is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Routes {
    /// Each slot's replica; `None` until it is set.
    backends: Vec<Option<SocketAddr>>,
    next: usize,
    /// Connections that skipped a backend that refused them.
    failovers: u64,
}

pub(super) struct Balancer {
    /// `http://127.0.0.1:PORT`: the replicas' `MCP_BASE_URL` and the clients' only address.
    pub(super) url: String,
    routes: Arc<Mutex<Routes>>,
    task: JoinHandle<()>,
}

impl Balancer {
    /// Listens on a free loopback port with `slots` backend slots, none set yet.
    pub(super) async fn bind(slots: usize) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let routes = Arc::new(Mutex::new(Routes {
            backends: vec![None; slots],
            ..Routes::default()
        }));
        let shared = routes.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, peer)) = listener.accept().await {
                let routes = shared.clone();
                tokio::spawn(async move {
                    let _ = inbound.set_nodelay(true);
                    if let Some(mut outbound) = connect_any(&routes, peer.ip()).await {
                        let mut inbound = inbound;
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Ok(Self { url, routes, task })
    }

    /// Sends slot `slot`'s share of new connections to `backend`.
    pub(super) fn set(&self, slot: usize, backend: SocketAddr) {
        lock(&self.routes).backends[slot] = Some(backend);
    }

    /// How many connections went past a backend that refused them.
    pub(super) fn failovers(&self) -> u64 {
        lock(&self.routes).failovers
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(routes: &Mutex<Routes>) -> std::sync::MutexGuard<'_, Routes> {
    routes.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection to the next backend in turn that accepts one, from `source`'s address;
/// `None` when none does (the client then sees its connection closed).
async fn connect_any(routes: &Mutex<Routes>, source: IpAddr) -> Option<TcpStream> {
    let candidates: Vec<SocketAddr> = {
        let mut routes = lock(routes);
        let count = routes.backends.len().max(1);
        let first = routes.next % count;
        routes.next = routes.next.wrapping_add(1);
        (0..count)
            .filter_map(|i| routes.backends[(first + i) % count])
            .collect()
    };
    for (tried, backend) in candidates.into_iter().enumerate() {
        if let Some(stream) = connect_from(source, backend).await {
            if tried > 0 {
                lock(routes).failovers += tried as u64;
            }
            return Some(stream);
        }
    }
    None
}

/// Connects to `backend` from `source` (any port), or from any address when `source` cannot
/// be bound.
async fn connect_from(source: IpAddr, backend: SocketAddr) -> Option<TcpStream> {
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .ok()?;
    if socket.bind(SocketAddr::new(source, 0)).is_err() {
        return tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend))
            .await
            .ok()?
            .ok();
    }
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(backend))
        .await
        .ok()?
        .ok()?;
    let _ = stream.set_nodelay(true);
    Some(stream)
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A backend that answers each connection with its name and the address it came from.
    async fn backend(name: &'static str) -> (SocketAddr, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, peer)) = listener.accept().await {
                let _ = stream
                    .write_all(format!("{name} {}", peer.ip()).as_bytes())
                    .await;
            }
        });
        (addr, task)
    }

    async fn ask(balancer: &Balancer, from: &str) -> String {
        let address = balancer.url.trim_start_matches("http://");
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
        let mut stream = socket.connect(address.parse().unwrap()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn connections_go_round_robin_from_the_clients_address_and_skip_a_dead_backend() {
        let (a, a_task) = backend("a").await;
        let (b, _b_task) = backend("b").await;
        let balancer = Balancer::bind(2).await.unwrap();
        balancer.set(0, a);
        balancer.set(1, b);
        assert_eq!(ask(&balancer, "127.0.1.7").await, "a 127.0.1.7");
        assert_eq!(ask(&balancer, "127.0.1.8").await, "b 127.0.1.8");

        a_task.abort();
        let _ = a_task.await;
        assert_eq!(ask(&balancer, "127.0.1.7").await, "b 127.0.1.7");
        assert_eq!(ask(&balancer, "127.0.1.7").await, "b 127.0.1.7");
        assert_eq!(balancer.failovers(), 1);
    }
}
