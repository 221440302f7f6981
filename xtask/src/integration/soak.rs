//! The soak test of `proxy` mode (issue 15): many clients signing in and refreshing through two
//! replicas while the parts around them fail, one after the other.
//!
//! The world: a private `redis-server`, the real IdP (tests/idp, with `--state-file` so that
//! stopping and starting it again keeps its keys and grants, as a real IdP's database does),
//! the Splunk emulator trusting it, and two splunk-mcp replicas in `proxy` + `passthrough` mode
//! sharing the Redis store and one encryption key, stateless on `/mcp`, behind a loopback TCP
//! balancer ([`balancer`]) whose URL is their `MCP_BASE_URL`. A balancer rather than clients
//! picking a replica, because the sign-in crosses the public URL several times (the consent
//! form's action, the IdP's redirect to `/auth/callback`) and a real deployment has one too.
//!
//! The load: [`CLIENTS`] clients ([`client`]), each registering, signing in and then, every 2 to
//! 4 s, calling `splunk_whoami`, refreshing (half the time from two or three processes at once
//! with the same refresh token), and calling again with the new token; each signs in afresh
//! every few bursts. Meanwhile, one at a time, a few seconds each: replica A killed with
//! SIGKILL and started again on the same Redis, Redis frozen with SIGSTOP and thawed, and the
//! IdP stopped and started again on its port. Then one last refresh and call per client.
//!
//! The invariants ([`tally`]): no session lost outside the IdP outage (nor anywhere by a
//! verdict of refresh-token reuse, which a client presenting only its newest token never
//! earns), no 5xx and no request
//! left unanswered outside the fault windows (a request counts as the fault's when it was under
//! way at any moment of it), no tool error or wrongly refused token outside them, every client
//! signed in and alive at the end. Figures and violations are printed; any violation fails the
//! step. Everything listens on loopback and stops when the step ends, whatever happened.

mod balancer;
mod client;
mod tally;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use e2e_tests::{Idp, IdpOptions, RedisServer};
use futures::future::join_all;
use tokio::process::Command;

use self::balancer::Balancer;
use self::client::{Client, Target};
use self::tally::{Fault, Tally, Window};
use super::splunk_mcp_command;
use crate::process::{Service, log_dir};
use crate::progress::{Phase, say};

/// How many clients sign in and refresh.
const CLIENTS: usize = 60;
/// Between two clients' starts, so sign-ins spread over a couple of seconds.
const RAMP: Duration = Duration::from_millis(40);
/// From the first client's start to the first fault: every client has signed in by then.
const FIRST_FAULT: Duration = Duration::from_secs(10);
/// Normal load between two faults, and after the last.
const BETWEEN_FAULTS: Duration = Duration::from_secs(8);
/// How long the killed replica stays down before it is started again.
const REPLICA_DOWN: Duration = Duration::from_secs(3);
/// How long Redis stays frozen.
const REDIS_PAUSE: Duration = Duration::from_secs(4);
/// How long the IdP stays stopped.
const IDP_DOWN: Duration = Duration::from_secs(4);
/// How often a line of running figures is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);
/// Debian's `redis-server`, which `RedisServer` starts.
const REDIS_SERVER: &str = "/usr/bin/redis-server";
/// The IdP's confidential client that splunk-mcp signs users in as (tests/idp).
const IDP_CLIENT: (&str, &str) = ("splunk-mcp", "splunk-mcp-secret");

/// Starts the world, runs the load and the faults, stops everything, prints the figures and
/// fails on any broken invariant.
pub(crate) async fn run() -> anyhow::Result<()> {
    if !Path::new(REDIS_SERVER).exists() {
        bail!(
            "{REDIS_SERVER} is missing: install Debian's redis-server (`apt-get install -y \
             redis-server`; `cargo xtask test` does it as root); the soak test needs it"
        );
    }
    let phase = Phase::start(
        "soak",
        format_args!(
            "{CLIENTS} clients through two splunk-mcp replicas on one Redis; a replica killed, \
             Redis paused, the IdP stopped (logs: {}/soak-*)",
            log_dir()?.display()
        ),
    );
    let mut world = World::start().await?;
    let tally = Tally::new();
    let target = Target {
        base: world.balancer.url.clone(),
        stop: AtomicBool::new(false),
    };
    let clients = (0..CLIENTS)
        .map(|index| Client::new(index, &target, &tally))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let load = join_all(
        clients
            .into_iter()
            .zip(0u32..)
            .map(|(client, n)| client.run(RAMP * n)),
    );
    let faults = async {
        let outcome = world.inject_faults(&tally).await;
        target.stop.store(true, Ordering::Relaxed);
        say(format_args!(
            "soak: [{}] load stopped; each client checks its session once more",
            clock(&tally)
        ));
        outcome
    };
    let progress = async {
        let mut waited = Duration::ZERO;
        while !target.stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            waited += Duration::from_secs(1);
            if waited >= PROGRESS_EVERY {
                waited = Duration::ZERO;
                say(format_args!(
                    "soak: [{}] {}",
                    clock(&tally),
                    tally.progress()
                ));
            }
        }
    };
    let (_, faults, ()) = tokio::join!(load, faults, progress);
    let failovers = world.balancer.failovers();
    world.stop().await;
    faults?;

    let request_log = log_dir()?.join("soak-requests.log");
    tally
        .write_log(&request_log)
        .with_context(|| format!("writing {}", request_log.display()))?;
    let report = tally.report(CLIENTS);
    for line in report.lines() {
        say(format_args!("soak: {line}"));
    }
    say(format_args!(
        "soak: the balancer moved {failovers} connections past a refused replica"
    ));
    for tolerated in &report.tolerated {
        say(format_args!("soak: allowed: {tolerated}"));
    }
    if !report.violations.is_empty() {
        for violation in report.violations.iter().take(25) {
            say(format_args!("soak: FAILED: {violation}"));
        }
        bail!(
            "the soak test broke {} invariant(s) (first ones above; every request in {}; \
             replica, IdP and emulator logs beside it)",
            report.violations.len(),
            request_log.display()
        );
    }
    phase.done();
    Ok(())
}

/// `12.3 s`: time since the load started, for progress lines.
fn clock(tally: &Tally) -> String {
    format!("{:.1} s", tally.now().as_secs_f64())
}

/// Everything the soak starts; dropped, every process is killed.
struct World {
    redis: RedisServer,
    /// `None` only while it is stopped.
    idp: Option<Idp>,
    emulator: Service,
    balancer: Balancer,
    /// Replicas A and B, in the balancer's slots 0 and 1; `None` while killed.
    replicas: [Option<Service>; 2],
    /// The replicas' environment, the same for both and for a restart.
    env: Vec<(&'static str, String)>,
}

impl World {
    async fn start() -> anyhow::Result<Self> {
        let redis = RedisServer::start();
        say(format_args!(
            "soak: redis-server listens on {}",
            redis.url()
        ));
        let state = log_dir()?.join("soak-idp-state.json");
        if state.exists() {
            std::fs::remove_file(&state)
                .with_context(|| format!("removing {}", state.display()))?;
        }
        let phase = Phase::start(
            "soak IdP",
            format_args!(
                "starting node tests/idp/idp.mjs --state-file {}",
                state.display()
            ),
        );
        let idp = Idp::spawn(IdpOptions {
            args: vec!["--state-file".to_owned(), state.display().to_string()],
            log: Some(log_dir()?.join("soak-idp.log")),
        })
        .await?;
        phase.finish(
            "ready",
            format_args!(" at {} (log: {})", idp.issuer, idp.log.display()),
        );
        let http = e2e_tests::http_client();
        let emulator =
            super::start_emulator_trusting("soak-splunk-emulator", &http, &idp, "soak-idp").await?;
        let balancer = Balancer::bind(2).await?;
        let env = replica_env(&idp, &redis, &balancer.url)?;
        let mut world = Self {
            redis,
            idp: Some(idp),
            emulator,
            balancer,
            replicas: [None, None],
            env,
        };
        let (a, b) = tokio::try_join!(
            world.start_replica(0, "soak-replica-a"),
            world.start_replica(1, "soak-replica-b"),
        )?;
        world.replicas = [Some(a), Some(b)];
        say(format_args!(
            "soak: replicas a and b behind {}",
            world.balancer.url
        ));
        Ok(world)
    }

    /// Starts a replica (logging to `target/xtask-logs/<name>.log`) and puts it in the
    /// balancer's slot `slot`.
    async fn start_replica(&self, slot: usize, name: &str) -> anyhow::Result<Service> {
        let mut command: Command = splunk_mcp_command(&self.emulator.url, "127.0.0.1:0")?;
        command.envs(self.env.iter().map(|(name, value)| (*name, value.as_str())));
        let replica = Service::start_command(name, command).await?;
        self.balancer.set(slot, listen_address(&replica.url)?);
        Ok(replica)
    }

    /// The faults, one after the other, each recorded as a window of the tally; then the tail
    /// of normal load.
    async fn inject_faults(&mut self, tally: &Tally) -> anyhow::Result<()> {
        tokio::time::sleep(FIRST_FAULT).await;

        // A replica dies without a chance to clean up: Service::stop sends SIGKILL (`kill
        // -9`). Requests under way on it are lost; new ones go to B until A is back.
        let start = tally.now();
        let replica = self.replicas[0].take().context("replica a is running")?;
        let pid = replica.pid().unwrap_or_default();
        replica.stop().await?;
        say(format_args!(
            "soak: [{}] replica a (pid {pid}) killed with SIGKILL; back in {} s",
            clock(tally),
            REPLICA_DOWN.as_secs()
        ));
        tokio::time::sleep(REPLICA_DOWN).await;
        self.replicas[0] = Some(self.start_replica(0, "soak-replica-a-restarted").await?);
        self.close(tally, Fault::ReplicaKilled, start);
        tokio::time::sleep(BETWEEN_FAULTS).await;

        // Redis frozen: connections stay open, nothing is answered until it is thawed.
        let start = tally.now();
        self.redis.pause()?;
        say(format_args!(
            "soak: [{}] Redis paused (SIGSTOP) for {} s",
            clock(tally),
            REDIS_PAUSE.as_secs()
        ));
        tokio::time::sleep(REDIS_PAUSE).await;
        self.redis.resume()?;
        self.close(tally, Fault::RedisPaused, start);
        tokio::time::sleep(BETWEEN_FAULTS).await;

        // The IdP stopped: its port refuses connections until it is started again there,
        // with the state it saved (keys, grants, refresh tokens).
        let idp = self.idp.take().context("the IdP is running")?;
        let again = idp.restart_options(Some(log_dir()?.join("soak-idp-restarted.log")));
        let start = tally.now();
        idp.shut_down().await?;
        say(format_args!(
            "soak: [{}] IdP stopped (SIGTERM); back in {} s",
            clock(tally),
            IDP_DOWN.as_secs()
        ));
        tokio::time::sleep(IDP_DOWN).await;
        self.idp = Some(Idp::spawn(again).await?);
        self.close(tally, Fault::IdpStopped, start);
        tokio::time::sleep(BETWEEN_FAULTS).await;
        Ok(())
    }

    /// Ends the window of `fault`, opened at `start`.
    fn close(&self, tally: &Tally, fault: Fault, start: Duration) {
        let end = tally.now();
        tally.window(Window { fault, start, end });
        say(format_args!(
            "soak: [{}] recovered from the fault after {:.1} s",
            clock(tally),
            (end - start).as_secs_f64()
        ));
    }

    /// Stops every process (SIGKILL); Redis is killed when dropped.
    async fn stop(self) {
        for replica in self.replicas.into_iter().flatten() {
            let _ = replica.stop().await;
        }
        let _ = self.emulator.stop().await;
        if let Some(idp) = self.idp {
            idp.stop().await;
        }
    }
}

/// The environment of both replicas: proxy mode in front of the IdP as its confidential
/// client, tokens for Splunk itself (`resource=urn:splunk`) passed through, one Redis store and
/// one encryption key, the balancer's URL as their public URL, no MCP sessions.
fn replica_env(
    idp: &Idp,
    redis: &RedisServer,
    public_url: &str,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut key = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    Ok(vec![
        ("MCP_AUTH_MODE", "proxy".to_owned()),
        ("IDP_OIDC_CONFIG_URL", idp.discovery_url()),
        ("MCP_OAUTH_CLIENT_ID", IDP_CLIENT.0.to_owned()),
        ("MCP_OAUTH_CLIENT_SECRET", IDP_CLIENT.1.to_owned()),
        // prompt=consent: the test IdP issues a refresh token only then.
        (
            "IDP_EXTRA_AUTHORIZE_PARAMS",
            "prompt=consent&resource=urn:splunk".to_owned(),
        ),
        ("IDP_EXTRA_TOKEN_PARAMS", "resource=urn:splunk".to_owned()),
        ("SPLUNK_CREDENTIALS", "passthrough".to_owned()),
        ("MCP_PROXY_STORE", redis.url()),
        (
            "MCP_PROXY_ENCRYPTION_KEY",
            base64::engine::general_purpose::STANDARD.encode(key),
        ),
        ("MCP_BASE_URL", public_url.to_owned()),
        ("MCP_STATELESS", "true".to_owned()),
        ("MCP_LOG_FORMAT", "json".to_owned()),
    ])
}

/// The address a replica listens on, from the endpoint it printed
/// (`http://127.0.0.1:PORT/mcp`; its public URL is the balancer's).
fn listen_address(endpoint: &str) -> anyhow::Result<SocketAddr> {
    endpoint
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|address| address.parse().ok())
        .with_context(|| format!("splunk-mcp printed an unexpected endpoint {endpoint}"))
}

#[cfg(test)]
mod tests {
    use super::listen_address;

    #[test]
    fn the_listen_address_comes_from_the_printed_endpoint() {
        assert_eq!(
            listen_address("http://127.0.0.1:4100/mcp").unwrap(),
            "127.0.0.1:4100".parse().unwrap()
        );
        assert!(listen_address("https://mcp.example.com/mcp").is_err());
    }
}
