//! `cargo xtask demo`: splunk-mcp as an OAuth-protected MCP server in front of the Splunk
//! emulator, with the test IdP for sign-in, and ready tokens for two users.
//!
//! Each MCP call reaches Splunk with the caller's own IdP token (`passthrough`), so the
//! emulator's role-based access control decides what alice and bob each see.

use e2e_tests::{Idp, IdpOptions, SignIn};

use crate::integration::{build_servers, splunk_mcp_command};
use crate::npm;
use crate::process::{Service, built_binary, log_dir};

/// How long the printed tokens stay valid.
const TOKEN_TTL_SECONDS: u32 = 3600;
/// alice is an analyst: reading and searching.
const ALICE_SCOPES: &str = "openid profile email splunk:read splunk:search";
/// bob is an administrator: the admin tools too.
const BOB_SCOPES: &str = "openid profile email splunk:read splunk:search splunk:admin";

/// Builds and starts the IdP, the emulator and splunk-mcp on `bind`, prints how to connect,
/// and stops everything on Ctrl-C.
pub(crate) async fn run(bind: &str) -> anyhow::Result<()> {
    npm::ensure_installed().await?;
    build_servers().await?;
    let http = e2e_tests::http_client();

    // Tokens carry audience `splunk` besides the MCP endpoint, so passthrough is allowed.
    let ttl = TOKEN_TTL_SECONDS.to_string();
    let idp = Idp::spawn(IdpOptions {
        args: ["--extra-audience", "splunk", "--access-token-ttl", &ttl]
            .map(str::to_owned)
            .to_vec(),
        log: Some(log_dir()?.join("idp.log")),
    })
    .await?;
    eprintln!(
        "xtask: IdP ready at {} (log: {})",
        idp.issuer,
        idp.log.display()
    );
    let emulator = Service::start(
        "splunk-emulator",
        &built_binary("debug", "splunk-emulator"),
        &["--bind", "127.0.0.1:0"],
    )
    .await?;
    e2e_tests::trust_idp(&http, &emulator.url, "demo-idp", &idp).await?;
    e2e_tests::map_test_groups(&http, &emulator.url).await?;

    let mut command = splunk_mcp_command(&emulator.url, bind)?;
    command.envs([
        ("MCP_AUTH_MODE", "jwt"),
        ("IDP_OIDC_CONFIG_URL", idp.discovery_url().as_str()),
        ("SPLUNK_CREDENTIALS", "passthrough"),
    ]);
    let server = Service::start_command("splunk-mcp", command).await?;
    let endpoint = server.url.clone();

    let alice = SignIn::new("alice")
        .for_resource(&endpoint)
        .with_scope(ALICE_SCOPES);
    let bob = SignIn::new("bob")
        .for_resource(&endpoint)
        .with_scope(BOB_SCOPES);
    let alice_token = idp.access_token(&http, &alice).await;
    let bob_token = idp.access_token(&http, &bob).await;

    print_instructions(
        &endpoint,
        &idp.issuer,
        &emulator.url,
        &alice_token,
        &bob_token,
    );

    tokio::signal::ctrl_c().await?;
    let stopped = (server.stop().await, emulator.stop().await);
    idp.stop().await;
    stopped.0?;
    stopped.1?;
    eprintln!("xtask: demo stopped");
    Ok(())
}

fn print_instructions(endpoint: &str, issuer: &str, splunk: &str, alice: &str, bob: &str) {
    let minutes = TOKEN_TTL_SECONDS / 60;
    let search = r#"'{"spl":"index=web status=404 | stats count by host"}'"#;
    let initialize = r#"'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'"#;
    println!(
        "\nsplunk-mcp demo: an MCP server for Splunk that signs users in through an OpenID provider\n\
         and calls Splunk with each user's own token (MCP_AUTH_MODE=jwt, SPLUNK_CREDENTIALS=passthrough).\n\
         \n  MCP endpoint (streamable HTTP): {endpoint}\n\
         \x20 OpenID provider:               {issuer}  (users alice, bob, carol)\n\
         \x20 Splunk 10.2 emulator:          {splunk}  (admin / changeme)\n\
         \x20   group analysts -> role web_analyst (indexes main, web): alice\n\
         \x20   group admins   -> role admin (every index): bob\n\
         \nBearer tokens, valid {minutes} minutes (audience: the MCP endpoint and Splunk):\n\
         \n  export ALICE_TOKEN='{alice}'\n\
         \n  export BOB_TOKEN='{bob}'\n\
         \nalice has splunk:read and splunk:search; bob has splunk:admin too.\n\
         \nMCP Inspector:\n\
         \n  npx @modelcontextprotocol/inspector\n\
         \n  then choose Transport Type \"Streamable HTTP\", URL {endpoint}, add the header\n\
         \x20 `Authorization: Bearer <ALICE_TOKEN or BOB_TOKEN>`, and Connect.\n\
         \nThe official TypeScript SDK client (tests/clients):\n\
         \n  node tests/clients/mcp-client.mjs --url {endpoint} --token \"$ALICE_TOKEN\" call splunk_whoami\n\
         \x20 node tests/clients/mcp-client.mjs --url {endpoint} --token \"$ALICE_TOKEN\" call splunk_search {search}\n\
         \ncurl:\n\
         \n  curl -si {endpoint}    # no token: 401 and the WWW-Authenticate challenge\n\
         \x20 curl -s {endpoint} -H \"Authorization: Bearer $BOB_TOKEN\" \\\n\
         \x20   -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\\n\
         \x20   -d {initialize}\n\
         \nLogs: target/xtask-logs/. Press Ctrl-C to stop.",
    );
}
