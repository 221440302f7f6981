//! The private `redis-server`: paused (SIGSTOP) it answers nothing, resumed it answers what
//! arrived meanwhile.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use e2e_tests::RedisServer;

/// Sends `PING` and reads what comes back within `wait`: `+PONG`, or nothing.
fn ping(connection: &mut TcpStream, wait: Duration) -> String {
    connection.write_all(b"PING\r\n").expect("send PING");
    read_within(connection, wait)
}

/// What arrives on `connection` within `wait` (empty when nothing does).
fn read_within(connection: &mut TcpStream, wait: Duration) -> String {
    let deadline = std::time::Instant::now() + wait;
    let mut buffer = [0u8; 64];
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return String::new();
        }
        connection
            .set_read_timeout(Some(left))
            .expect("read timeout");
        match connection.read(&mut buffer) {
            Ok(n) => return String::from_utf8_lossy(&buffer[..n]).trim().to_owned(),
            // A signal to this process (a child of another test ending) interrupts the wait.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return String::new();
            }
            Err(e) => panic!("reading from redis-server: {e}"),
        }
    }
}

#[test]
fn a_paused_redis_answers_nothing_until_it_resumes() {
    let redis = RedisServer::start();
    let mut connection = TcpStream::connect(("127.0.0.1", redis.port())).expect("connect");
    assert_eq!(ping(&mut connection, Duration::from_secs(5)), "+PONG");

    redis.pause().expect("SIGSTOP");
    assert_eq!(
        ping(&mut connection, Duration::from_millis(500)),
        "",
        "a paused server answers nothing"
    );
    redis.resume().expect("SIGCONT");
    assert_eq!(
        read_within(&mut connection, Duration::from_secs(5)),
        "+PONG",
        "the PING sent while paused is answered"
    );
}
