//! `cargo xtask test`: the one test command, used by developers and by `.ci/run` alike.

use crate::machine::{self, Task};
use crate::process::{cargo, node, workspace_root};
use crate::progress::say;
use crate::{bench, deploy, integration, npm};

/// The machine check (installing what it may), format check, lints, then all tests (after installing the npm packages of the IdP and the
/// MCP clients, which the end-to-end tests start), then the conformance suite. `cargo test
/// --workspace` compiles unit and integration tests of every crate in one build, and its
/// binaries are reused by the deployment check (`config check` on the chart's and the unit's
/// settings) and the integration step.
pub(crate) async fn run() -> anyhow::Result<()> {
    machine::ensure(Task::Test)?;
    cargo("format check", &["fmt", "--all", "--", "--check"]).await?;
    cargo(
        "clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
    )
    .await?;
    npm::ensure_installed().await?;
    // The test IdP's token exchange and ID-JAG issuance, path by path, before Rust relies on it.
    node("test IdP self-test", "tests/idp/exchange-selftest.mjs").await?;
    cargo("tests", &["test", "--workspace", "--locked"]).await?;
    // The Dockerfile, Helm chart and systemd unit; `config check` runs on the binary just built.
    deploy::check(&workspace_root())?;
    integration::run().await?;
    // The comparison harness in its smoke mode, so it cannot rot (`cargo xtask bench` measures).
    bench::run(bench::Target::Compare, true).await?;
    say("all checks passed");
    Ok(())
}
