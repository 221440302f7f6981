//! `cargo xtask test`: the one test command, used by developers and by `.ci/run` alike.

use crate::npm;
use crate::process::cargo;

/// Format check, lints, then all tests (after installing the IdP's npm packages, which the
/// end-to-end tests start). `cargo test --workspace` compiles unit and integration
/// tests of every crate in one build, and the test profile is shared with later steps.
pub(crate) async fn run() -> anyhow::Result<()> {
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
    cargo("tests", &["test", "--workspace", "--locked"]).await?;
    eprintln!("xtask: all checks passed");
    Ok(())
}
