//! A private `redis-server` for tests of the proxy's shared store.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{WorldError, send_signal};

/// Debian's `redis-server` (`.ci/run` installs it).
const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// A `redis-server` on a free loopback port, without persistence, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one and waits (up to 10 s) until it accepts connections.
    ///
    /// # Panics
    /// When `redis-server` is not installed (the message says how to install it) or does not
    /// start listening in time.
    pub fn start() -> Self {
        assert!(
            Path::new(REDIS_SERVER).exists(),
            "{REDIS_SERVER} is missing: install Debian's redis-server \
             (`apt-get install -y redis-server`; .ci/run does this in CI); the Redis store tests \
             cannot run without it"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(REDIS_SERVER)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on port {port} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The process id of `redis-server`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Freezes the server (SIGSTOP), as a stalled host or a long fork would: it keeps its port
    /// and its clients' connections, the kernel still accepts what they send, but nothing is
    /// answered until [`RedisServer::resume`]. Dropping a paused server still kills it.
    pub fn pause(&self) -> Result<(), WorldError> {
        send_signal("redis-server", self.pid(), "STOP")
    }

    /// Lets a paused server run again (SIGCONT); it answers what arrived meanwhile.
    pub fn resume(&self) -> Result<(), WorldError> {
        send_signal("redis-server", self.pid(), "CONT")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
