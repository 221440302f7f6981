//! `cargo xtask demo`: the emulated Splunk with its sample data, ready to query.

use crate::process::{Service, built_binary, cargo};

/// Builds and starts the emulator, prints how to use it, and stops it on Ctrl-C.
pub(crate) async fn run(bind: &str, tls: bool) -> anyhow::Result<()> {
    cargo(
        "build emulator",
        &[
            "build",
            "--package",
            "splunk-emulator",
            "--bin",
            "splunk-emulator",
        ],
    )
    .await?;
    let mut args = vec!["--bind", bind];
    if tls {
        args.push("--tls");
    }
    let emulator = Service::start(
        "splunk-emulator",
        &built_binary("debug", "splunk-emulator"),
        &args,
    )
    .await?;
    let url = &emulator.url;
    let insecure = if tls { "-k " } else { "" };
    println!(
        "\nSplunk 10.2 emulator with sample data: {url}\n\
         \n  users: admin / changeme (role admin); SAML users alice, bob, carol (for mirror mode)\n\
         \n  curl -s {insecure}-u admin:changeme '{url}/services/server/info?output_mode=json'\n\
         \n  curl -s {insecure}-u admin:changeme {url}/services/search/jobs/export \\\n\
         \x20      -d output_mode=json -d search='search index=web status=404 | stats count by host'\n\
         \n  A session key works too: POST {url}/services/auth/login with username and password,\n\
         \x20 then send `Authorization: Splunk <sessionKey>`.\n\
         \nPress Ctrl-C to stop.",
    );
    tokio::signal::ctrl_c().await?;
    emulator.stop().await?;
    eprintln!("xtask: demo stopped");
    Ok(())
}
