//! Running cargo and starting services that are stopped again when their guard drops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

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

/// Runs `cargo <args>` in the workspace root, failing with the step's name if it fails.
pub(crate) async fn cargo(step: &str, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("xtask: {step}: cargo {}", args.join(" "));
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(workspace_root())
        .status()
        .await
        .with_context(|| format!("starting cargo for {step}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
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
    /// Starts `program` and waits until it prints a line containing `://`, which it must do
    /// once it listens; that line (trimmed) is the service's URL. Stderr goes to a log file.
    pub(crate) async fn start(name: &str, program: &Path, args: &[&str]) -> anyhow::Result<Self> {
        let log_path = log_dir()?.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path)?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        let stdout = child.stdout.take().context("service stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let wait_for_url = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(start) = line.find("http") {
                    return Ok::<_, anyhow::Error>(line[start..].trim().to_owned());
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
        eprintln!("xtask: {name} ready at {url} (log: {})", log_path.display());
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

/// The path of a binary built by cargo in the given profile directory (`debug` or `release`).
pub(crate) fn built_binary(profile_dir: &str, name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join(profile_dir).join(name)
}
