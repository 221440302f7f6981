//! The npm packages of the test world, installed from their lock files: the IdP under
//! `tests/idp`, and the official MCP clients and conformance suite under `tests/clients`; and
//! those of the benches (`xtask/bench-peers`: the token counter of `bench compare`), installed
//! by the bench that needs them.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, bail};
use tokio::process::Command;

use crate::process::workspace_root;
use crate::progress::Phase;

/// The test world's directories whose `node_modules` must match their committed
/// `package-lock.json`.
const NPM_PROJECTS: &[&str] = &["tests/idp", "tests/clients"];

/// Runs `npm ci` in every npm project of the test world whose `node_modules` is missing or older
/// than its lock file, so tests never run against stale or hand-installed packages.
pub(crate) async fn ensure_installed() -> anyhow::Result<()> {
    for project in NPM_PROJECTS {
        ensure_project(project).await?;
    }
    Ok(())
}

/// Runs `npm ci` in `project` (a directory under the workspace root with a committed
/// `package-lock.json`) when its `node_modules` is missing or older than the lock file.
pub(crate) async fn ensure_project(project: &str) -> anyhow::Result<()> {
    let dir = workspace_root().join(project);
    if is_current(&dir)? {
        return Ok(());
    }
    require_tool("node").await?;
    require_tool("npm").await?;
    let phase = Phase::start(project, "npm ci --no-audit --no-fund");
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .await
        .with_context(|| format!("starting npm ci in {project}"))?;
    if !status.success() {
        bail!("npm ci in {project} failed ({status})");
    }
    phase.done();
    Ok(())
}

/// Whether `node_modules` exists and is at least as new as `package-lock.json`.
fn is_current(dir: &Path) -> anyhow::Result<bool> {
    let lock = dir.join("package-lock.json");
    let lock_time = modified(&lock)?.with_context(|| format!("{} is missing", lock.display()))?;
    // npm ci writes node_modules/.package-lock.json last, so its time marks a finished install.
    let installed = modified(&dir.join("node_modules").join(".package-lock.json"))?;
    Ok(installed.is_some_and(|installed| installed >= lock_time))
}

fn modified(path: &Path) -> anyhow::Result<Option<SystemTime>> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some(meta.modified()?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Fails with a clear message when `tool` (node or npm) is not on the PATH.
async fn require_tool(tool: &str) -> anyhow::Result<()> {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .await
        .is_ok_and(|out| out.status.success());
    if !found {
        bail!(
            "`{tool}` was not found: the test IdP, the MCP clients and the bench's token counter \
             need Node.js 20.19+ with npm \
             (e.g. `apt-get install nodejs npm`, or https://nodejs.org)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_current;

    #[test]
    fn node_modules_is_current_only_when_installed_after_the_lock_file() {
        let dir = std::env::temp_dir().join(format!("xtask-npm-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("node_modules")).unwrap();
        assert!(is_current(&dir).is_err(), "no lock file is an error");
        std::fs::write(dir.join("package-lock.json"), "{}").unwrap();
        assert!(!is_current(&dir).unwrap(), "never installed");
        std::fs::write(dir.join("node_modules").join(".package-lock.json"), "{}").unwrap();
        assert!(is_current(&dir).unwrap(), "installed after the lock file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
