//! Running cargo and starting services that are stopped again when their guard drops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::progress::Phase;

/// The workspace root (xtask lives one level below it).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// Where services write their logs, so a failure can be read afterwards.
pub(crate) fn log_dir() -> anyhow::Result<PathBuf> {
    let dir = workspace_root().join("target").join("xtask-logs");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Runs `node <script>` (a path under the workspace root) as a phase, failing with the step's
/// name if it fails; its output shows through.
pub(crate) async fn node(step: &str, script: &str) -> anyhow::Result<()> {
    let phase = Phase::start(step, format_args!("node {script}"));
    let status = Command::new("node")
        .arg(script)
        .current_dir(workspace_root())
        .status()
        .await
        .with_context(|| format!("starting node for {step}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    phase.done();
    Ok(())
}

/// Runs `cargo <args>` in the workspace root as a phase, failing with the step's name if it
/// fails. Cargo's own progress (`Compiling ...`, its progress bar on a terminal) shows through.
pub(crate) async fn cargo(step: &str, args: &[&str]) -> anyhow::Result<()> {
    let phase = Phase::start(step, format_args!("cargo {}", args.join(" ")));
    let mut command = Command::new(env!("CARGO"));
    command.args(args).current_dir(workspace_root());
    // `cargo run` gives xtask the variables of its own package (CARGO_PKG_NAME=xtask, ...).
    // Build scripts such as ring's declare `rerun-if-env-changed` on those names, so passing
    // them on would make every inner cargo rebuild ring and all above it, and the next plain
    // `cargo build` rebuild it again.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "OUT_DIR",
            ]
            .contains(&name.as_ref())
        {
            command.env_remove(name.as_ref());
        }
    }
    let status = command
        .status()
        .await
        .with_context(|| format!("starting cargo for {step}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    phase.done();
    Ok(())
}

/// A running service process; killed when dropped, so a failing step never leaves it behind.
pub(crate) struct Service {
    name: String,
    child: Child,
    /// The URL the service printed when it became ready.
    pub(crate) url: String,
}

impl Service {
    /// Starts `program` and waits until it prints a line containing `http`, which it must do
    /// once it listens; that line's URL is the service's URL. Stderr goes to a log file.
    pub(crate) async fn start(name: &str, program: &Path, args: &[&str]) -> anyhow::Result<Self> {
        let mut command = Command::new(program);
        command.args(args);
        Self::start_command(name, command).await
    }

    /// Like [`Service::start`] for a prepared command (environment, working directory).
    pub(crate) async fn start_command(name: &str, mut command: Command) -> anyhow::Result<Self> {
        let log_path = log_dir()?.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path)?;
        let program = command
            .as_std()
            .get_program()
            .to_string_lossy()
            .into_owned();
        // The command line as typed in the workspace root (`target/debug/splunk-emulator ...`).
        let mut shown = vec![
            Path::new(&program)
                .strip_prefix(workspace_root())
                .map_or(program.clone(), |path| path.display().to_string()),
        ];
        shown.extend(
            command
                .as_std()
                .get_args()
                .map(|arg| arg.to_string_lossy().into_owned()),
        );
        let phase = Phase::start(name, format_args!("starting {}", shown.join(" ")));
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name} ({program})"))?;
        let stdout = child.stdout.take().context("service stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let wait_for_url = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = url_in(&line) {
                    return Ok::<_, anyhow::Error>(url);
                }
            }
            bail!(
                "{name} exited before it was ready; see {}",
                log_path.display()
            )
        };
        let url = tokio::time::timeout(Duration::from_secs(60), wait_for_url)
            .await
            .with_context(|| format!("{name} was not ready within 60 s"))??;
        // Keep draining stdout so the service never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        phase.finish(
            "ready",
            format_args!(" at {url} (log: {})", log_path.display()),
        );
        Ok(Self {
            name: name.to_owned(),
            child,
            url,
        })
    }

    /// The operating-system process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits for the service to exit on its own (e.g. after Ctrl-C reached it too).
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill().ok();
        self.child
            .wait()
            .await
            .with_context(|| format!("stopping {}", self.name))?;
        Ok(())
    }
}

/// The first `http://` or `https://` URL in a line, up to whitespace or a terminal escape
/// (a service may log to stdout, with colours, before it prints its URL).
fn url_in(line: &str) -> Option<String> {
    let start = line.find("http://").or_else(|| line.find("https://"))?;
    let url: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !c.is_control())
        .collect();
    Some(url)
}

/// The path of a binary built by cargo in the given profile directory (`debug` or `release`).
pub(crate) fn built_binary(profile_dir: &str, name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join(profile_dir).join(name)
}

/// A command for a service of the test world that ignores the developer's own `MCP_*`,
/// `SPLUNK_*` and `IDP_*` settings, so only what xtask passes configures it.
pub(crate) fn isolated_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if ["MCP_", "SPLUNK_", "IDP_"]
            .iter()
            .any(|prefix| text.starts_with(prefix))
        {
            command.env_remove(&name);
        }
    }
    command
}

#[cfg(test)]
mod tests {
    use super::url_in;

    #[test]
    fn the_url_is_cut_out_of_a_ready_line() {
        assert_eq!(
            url_in("splunk-mcp: MCP endpoint http://127.0.0.1:4000/mcp").as_deref(),
            Some("http://127.0.0.1:4000/mcp")
        );
        assert_eq!(
            url_in("listening \x1b[3murl\x1b[0m=https://127.0.0.1:8089\x1b[0m more").as_deref(),
            Some("https://127.0.0.1:8089")
        );
        assert_eq!(url_in("no address here"), None);
    }
}
