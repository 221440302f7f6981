//! `splunk-mcp doctor`: the operator's pre-flight checks, against the real IdP and emulator.

use e2e_tests::{MCP_RESOURCE, SignIn, World};

use crate::support::{command, passthrough_env};

/// Runs `doctor` with `args` in passthrough mode for the resource `MCP_RESOURCE`; returns the
/// exit code and stdout.
async fn doctor(world: &World, extra: &[(&'static str, String)], args: &[&str]) -> (i32, String) {
    let mut env = passthrough_env(world);
    env.push((
        "MCP_BASE_URL",
        MCP_RESOURCE.trim_end_matches("/mcp").to_owned(),
    ));
    env.extend(extra.iter().cloned());
    let output = command(&env)
        .arg("doctor")
        .args(args)
        .output()
        .await
        .expect("run splunk-mcp doctor");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.code().unwrap_or(-1), stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_follows_a_users_token_to_splunk() {
    let world = World::start().await;
    let alice = world
        .idp
        .access_token(
            &world.http,
            &SignIn::new("alice").for_resource(MCP_RESOURCE),
        )
        .await;

    let (code, out) = doctor(&world, &[], &["--token", &alice]).await;
    assert_eq!(code, 0, "{out}");
    for line in [
        "[ ok ] idp discovery",
        "[ ok ] idp keys",
        "[ ok ] splunk:",
        "[ ok ] passthrough audience",
        "[ ok ] token at this server: accepted: subject alice",
        "[ ok ] token at Splunk: Splunk accepts it as alice with roles web_analyst",
        "verdict: ready",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains(&alice), "doctor printed the token");

    // A token for another resource: this server refuses it, and says so.
    let other = world
        .idp
        .access_token(
            &world.http,
            &SignIn::new("alice").for_resource("http://127.0.0.1:9999/mcp"),
        )
        .await;
    let (code, out) = doctor(&world, &[], &["--token", &other]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[FAIL] token at this server: refused"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_the_fix_when_splunk_is_down() {
    let world = World::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let (code, out) = doctor(&world, &[("SPLUNK_PORT", closed.to_string())], &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("[FAIL] splunk:"), "{out}");
    assert!(out.contains("fix: check SPLUNK_HOST, SPLUNK_PORT"), "{out}");
    assert!(out.contains("1 check(s) failed"), "{out}");
}
