//! What a task needs from the machine, checked before anything is built: the programs the test
//! world starts (redis-server, Chromium, wrk) and Node.js 20.19+ with npm.
//!
//! Whatever is missing, xtask installs from Debian's packages itself when it runs as root with
//! apt-get, as CI does; anywhere else it stops at once with one message that names everything
//! missing and the one command that installs it. Rust, and the pkg-config and libssl-dev that
//! xtask itself needs to compile (josekit links OpenSSL), are not checked: without them there
//! is no xtask to do the checking.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::progress::{Phase, say};

/// The oldest Node.js that the packages of `tests/idp` and `tests/clients` declare they run on.
const MIN_NODE: (u32, u32) = (20, 19);

/// Where to get a Node.js new enough, when Debian's own is not.
const GET_NODE: &str = "install Node.js 20.19+ from https://nodejs.org/en/download or \
                        NodeSource's Debian packages and put it first on the PATH \
                        (Debian 12's own nodejs is Node.js 18)";

/// A task that checks the machine before it builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Task {
    /// `cargo xtask test`: every test, with the whole test world.
    Test,
    /// `cargo xtask demo`: the IdP runs on Node.js; nothing else is started from the machine.
    Demo,
}

impl Task {
    fn command(self) -> &'static str {
        match self {
            Task::Test => "cargo xtask test",
            Task::Demo => "cargo xtask demo",
        }
    }

    /// What the task needs, in the order messages list it.
    fn needs(self) -> &'static [Need] {
        match self {
            Task::Test => &[
                Need::RedisServer,
                Need::Chromium,
                Need::Wrk,
                Need::Node,
                Need::Npm,
            ],
            Task::Demo => &[Need::Node, Need::Npm],
        }
    }
}

/// One thing a task needs from the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// The tests of the proxy's Redis store start private servers from this path.
    RedisServer,
    /// The consent-page tests drive Debian's Chromium at this path.
    Chromium,
    /// The benchmark's smoke run loads the servers with wrk.
    Wrk,
    /// Node.js, at least [`MIN_NODE`].
    Node,
    /// npm, which installs the Node.js packages from their lock files.
    Npm,
}

impl Need {
    /// The Debian package that brings it.
    fn package(self) -> &'static str {
        match self {
            Need::RedisServer => "redis-server",
            Need::Chromium => "chromium",
            Need::Wrk => "wrk",
            Need::Node => "nodejs",
            Need::Npm => "npm",
        }
    }

    /// What it is and what `task` uses it for, as the message lists it.
    fn describe(self, task: Task) -> &'static str {
        match (self, task) {
            (Need::RedisServer, _) => {
                "redis-server at /usr/bin/redis-server, for the Redis store tests"
            }
            (Need::Chromium, _) => "Chromium at /usr/bin/chromium, for the consent page tests",
            (Need::Wrk, _) => "wrk, for the benchmark's smoke run",
            (Need::Node, Task::Test) => {
                "Node.js 20.19+, which runs the test OpenID provider and the MCP clients"
            }
            (Need::Node, Task::Demo) => "Node.js 20.19+, which runs the demo's OpenID provider",
            (Need::Npm, _) => "npm, which installs the Node.js packages from their lock files",
        }
    }
}

/// What the machine has of a task's needs.
#[derive(Debug)]
struct Survey {
    /// The needs that are not there at all.
    missing: Vec<Need>,
    /// What `node --version` printed, if the task needs Node.js and it ran.
    node: Option<String>,
}

impl Survey {
    /// Looks at the machine.
    fn take(task: Task) -> Self {
        let needs = task.needs();
        let node = if needs.contains(&Need::Node) {
            node_version()
        } else {
            None
        };
        let missing = needs
            .iter()
            .copied()
            .filter(|need| match need {
                Need::RedisServer => !Path::new("/usr/bin/redis-server").is_file(),
                Need::Chromium => !Path::new("/usr/bin/chromium").is_file(),
                Need::Wrk => !on_path("wrk"),
                Need::Node => node.is_none(),
                Need::Npm => !on_path("npm"),
            })
            .collect();
        Self { missing, node }
    }

    /// The Node.js version found, when it is older than [`MIN_NODE`] (or unreadable).
    fn old_node(&self) -> Option<&str> {
        self.node
            .as_deref()
            .filter(|found| parse_version(found).is_none_or(|version| version < MIN_NODE))
    }

    /// The one message for a machine that lacks something; `None` when it has all.
    fn message(&self, task: Task) -> Option<String> {
        let old_node = self.old_node();
        if self.missing.is_empty() && old_node.is_none() {
            return None;
        }
        let command = task.command();
        let mut text = String::new();
        if !self.missing.is_empty() {
            text.push_str(&format!("`{command}` needs what this machine lacks:\n"));
            for need in &self.missing {
                text.push_str(&format!("  - {}\n", need.describe(task)));
            }
            text.push_str(&format!(
                "Install with:\n  sudo apt-get install -y {}\n",
                packages(&self.missing).join(" ")
            ));
        }
        if let Some(found) = old_node {
            text.push_str(&format!(
                "`{command}` needs Node.js 20.19 or newer, but `node --version` prints {found}: \
                 {GET_NODE}.\n"
            ));
        } else if self.missing.contains(&Need::Node) {
            text.push_str(&format!(
                "If `node --version` then prints less than v20.19, {GET_NODE}.\n"
            ));
        }
        text.push_str(&format!("Then run `{command}` again."));
        Some(text)
    }

    /// `has Node.js v20.20.2, npm, ...` for a machine that has everything.
    fn found_line(&self, task: Task) -> String {
        let names: Vec<String> = task
            .needs()
            .iter()
            .map(|need| match (need, &self.node) {
                (Need::Node, Some(version)) => format!("Node.js {version}"),
                (need, _) => need.package().to_owned(),
            })
            .collect();
        format!("machine: has {}", names.join(", "))
    }
}

/// Makes sure the machine has what `task` needs: installs what is missing when it may (root
/// with apt-get), else fails with one message naming all that is missing and how to install it.
pub(crate) fn ensure(task: Task) -> anyhow::Result<()> {
    let survey = Survey::take(task);
    let Some(message) = survey.message(task) else {
        say(survey.found_line(task));
        return Ok(());
    };
    // Debian's packages cannot replace a Node.js that is there but too old.
    if survey.old_node().is_some() {
        bail!(message);
    }
    let packages = packages(&survey.missing);
    if !apt_install(&packages)? {
        bail!(message);
    }

    let survey = Survey::take(task);
    if let Some(message) = survey.message(task) {
        bail!("after installing {}:\n{message}", packages.join(" "));
    }
    say(survey.found_line(task));
    Ok(())
}

/// Installs Debian's `packages` the way [`ensure`] does, when xtask may (as root with
/// apt-get); `Ok(false)` when it may not, so the caller can say what to install instead.
pub(crate) fn apt_install(packages: &[&str]) -> anyhow::Result<bool> {
    if !is_root() || !on_path("apt-get") {
        return Ok(false);
    }
    say(format_args!(
        "machine: lacks {}; installing Debian's packages as root",
        packages.join(", ")
    ));
    apt_get("apt-get update", &["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(packages);
    apt_get("apt-get install", &install)?;
    Ok(true)
}

/// The Debian packages that bring `needs`.
fn packages(needs: &[Need]) -> Vec<&'static str> {
    needs.iter().map(|need| need.package()).collect()
}

/// Runs apt-get non-interactively as a phase named `step`, printing the command first.
fn apt_get(step: &str, args: &[&str]) -> anyhow::Result<()> {
    let phase = Phase::start(
        step,
        format_args!("DEBIAN_FRONTEND=noninteractive apt-get {}", args.join(" ")),
    );
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("starting {step}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    phase.done();
    Ok(())
}

/// What `node --version` prints, trimmed; `None` when there is no `node` that runs.
fn node_version() -> Option<String> {
    let output = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `(major, minor)` of a version such as `v20.19.2` or `22.1.0-nightly`.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let text = text.trim();
    let mut parts = text.strip_prefix('v').unwrap_or(text).split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Whether xtask runs as root: `/proc/self` belongs to the process's effective user.
fn is_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
    }
    #[cfg(not(unix))]
    false
}

#[cfg(test)]
mod tests {
    use super::{Need, Survey, Task, packages, parse_version};

    #[test]
    fn node_versions_are_read_from_what_node_prints() {
        let cases = [
            ("v20.19.0", Some((20, 19))),
            ("v20.20.2\n", Some((20, 20))),
            ("v22.1.0-nightly20240101", Some((22, 1))),
            ("18.19.1", Some((18, 19))),
            ("v20", None),
            ("node", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_version(text), expected, "{text:?}");
        }
    }

    #[test]
    fn node_older_than_20_19_or_unreadable_is_too_old() {
        let cases = [
            ("v20.19.0", false),
            ("v20.20.2", false),
            ("v22.0.0", false),
            ("v20.18.3", true),
            ("v18.19.0", true),
            ("whatever", true),
        ];
        for (found, too_old) in cases {
            let survey = Survey {
                missing: Vec::new(),
                node: Some(found.to_owned()),
            };
            assert_eq!(survey.old_node().is_some(), too_old, "{found}");
            assert_eq!(survey.message(Task::Demo).is_some(), too_old, "{found}");
        }
    }

    #[test]
    fn each_task_installs_only_its_own_packages() {
        assert_eq!(
            packages(Task::Test.needs()),
            ["redis-server", "chromium", "wrk", "nodejs", "npm"]
        );
        assert_eq!(packages(Task::Demo.needs()), ["nodejs", "npm"]);
    }

    #[test]
    fn one_message_names_everything_missing_and_the_command() {
        let survey = Survey {
            missing: vec![Need::RedisServer, Need::Chromium, Need::Node, Need::Npm],
            node: None,
        };
        assert_eq!(
            survey.message(Task::Test).unwrap(),
            "`cargo xtask test` needs what this machine lacks:\n\
             \x20 - redis-server at /usr/bin/redis-server, for the Redis store tests\n\
             \x20 - Chromium at /usr/bin/chromium, for the consent page tests\n\
             \x20 - Node.js 20.19+, which runs the test OpenID provider and the MCP clients\n\
             \x20 - npm, which installs the Node.js packages from their lock files\n\
             Install with:\n\
             \x20 sudo apt-get install -y redis-server chromium nodejs npm\n\
             If `node --version` then prints less than v20.19, install Node.js 20.19+ from \
             https://nodejs.org/en/download or NodeSource's Debian packages and put it first \
             on the PATH (Debian 12's own nodejs is Node.js 18).\n\
             Then run `cargo xtask test` again."
        );
    }

    #[test]
    fn a_node_too_old_is_named_with_its_version() {
        let survey = Survey {
            missing: vec![Need::Chromium],
            node: Some("v18.19.0".to_owned()),
        };
        assert_eq!(
            survey.message(Task::Test).unwrap(),
            "`cargo xtask test` needs what this machine lacks:\n\
             \x20 - Chromium at /usr/bin/chromium, for the consent page tests\n\
             Install with:\n\
             \x20 sudo apt-get install -y chromium\n\
             `cargo xtask test` needs Node.js 20.19 or newer, but `node --version` prints \
             v18.19.0: install Node.js 20.19+ from https://nodejs.org/en/download or \
             NodeSource's Debian packages and put it first on the PATH (Debian 12's own nodejs \
             is Node.js 18).\n\
             Then run `cargo xtask test` again."
        );
    }

    #[test]
    fn a_ready_machine_has_no_message_and_says_what_it_found() {
        let survey = Survey {
            missing: Vec::new(),
            node: Some("v20.20.2".to_owned()),
        };
        assert_eq!(survey.message(Task::Test), None);
        assert_eq!(
            survey.found_line(Task::Test),
            "machine: has redis-server, chromium, wrk, Node.js v20.20.2, npm"
        );
        assert_eq!(
            survey.found_line(Task::Demo),
            "machine: has Node.js v20.20.2, npm"
        );
    }
}
