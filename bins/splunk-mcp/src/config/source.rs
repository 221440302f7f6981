//! The layers a setting can come from (flag, environment, TOML file) and the typed reading of
//! one raw value, with errors that name the setting the way the user wrote it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// Where a value came from; its [`Origin::name`] is what error messages call the setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Origin {
    /// A command-line flag such as `--bind`.
    Flag(&'static str),
    /// An environment variable such as `SPLUNK_PORT`.
    Env(&'static str),
    /// A key of the TOML file such as `splunk.port`.
    File { key: &'static str, path: PathBuf },
}

impl Origin {
    /// The setting as the user wrote it: `--bind`, `SPLUNK_PORT`, `splunk.port in /etc/x.toml`.
    pub(super) fn name(&self) -> String {
        match self {
            Self::Flag(flag) => (*flag).to_owned(),
            Self::Env(name) => (*name).to_owned(),
            Self::File { key, path } => format!("{key} in {}", path.display()),
        }
    }

    /// Higher wins: flags over environment over file.
    pub(super) fn rank(&self) -> u8 {
        match self {
            Self::Flag(_) => 3,
            Self::Env(_) => 2,
            Self::File { .. } => 1,
        }
    }
}

/// A raw value: text from a flag or variable, or a typed TOML value.
#[derive(Debug, Clone)]
pub(super) enum Raw {
    /// From a flag or environment variable.
    Text(String),
    /// From the TOML file.
    Toml(toml::Value),
}

/// One value found for a setting, with where it came from.
#[derive(Debug, Clone)]
pub(super) struct Found {
    pub(super) origin: Origin,
    pub(super) raw: Raw,
}

impl Found {
    /// An error about this value.
    pub(super) fn error(&self, problem: impl Into<String>, fix: impl Into<String>) -> ConfigError {
        ConfigError::new(self.origin.name(), problem, fix)
    }

    fn wrong_type(&self, expected: &str, example: &str) -> ConfigError {
        let got = match &self.raw {
            Raw::Text(text) => format!("`{text}`"),
            Raw::Toml(value) => format!("a TOML {}", value.type_str()),
        };
        self.error(
            format!("expected {expected}, got {got}"),
            format!("set it to {example}"),
        )
    }

    /// A string.
    pub(super) fn text(&self) -> Result<String, ConfigError> {
        match &self.raw {
            Raw::Text(text) => Ok(text.clone()),
            Raw::Toml(toml::Value::String(text)) => Ok(text.clone()),
            Raw::Toml(_) => Err(self.wrong_type("a string", "a quoted string")),
        }
    }

    /// A boolean: `true`/`false` in TOML; also `1`/`0`, `yes`/`no`, `on`/`off` as text.
    pub(super) fn boolean(&self) -> Result<bool, ConfigError> {
        match &self.raw {
            Raw::Toml(toml::Value::Boolean(value)) => Ok(*value),
            Raw::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(self.wrong_type("a boolean", "`true` or `false`")),
            },
            Raw::Toml(_) => Err(self.wrong_type("a boolean", "true or false (unquoted)")),
        }
    }

    /// A whole number between `min` and `max`.
    pub(super) fn number(&self, min: u64, max: u64) -> Result<u64, ConfigError> {
        let value = match &self.raw {
            Raw::Toml(toml::Value::Integer(value)) => u64::try_from(*value).ok(),
            Raw::Text(text) => text.trim().parse::<u64>().ok(),
            Raw::Toml(_) => None,
        };
        let range = format!("a whole number from {min} to {max}");
        match value {
            Some(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(self.wrong_type(&range, &range)),
        }
    }

    /// A duration between `min` and `max` seconds: a whole number of seconds, or a number with
    /// a unit, `s`, `m`, `h` or `d` (`90s`, `15m`, `1h`, `30d`).
    pub(super) fn duration(&self, min: u64, max: u64) -> Result<u64, ConfigError> {
        let seconds = match &self.raw {
            Raw::Toml(toml::Value::Integer(value)) => u64::try_from(*value).ok(),
            Raw::Text(text) | Raw::Toml(toml::Value::String(text)) => parse_duration(text),
            Raw::Toml(_) => None,
        };
        let range = format!(
            "a duration from {} to {} (seconds, or a number with s, m, h or d)",
            show_seconds(min),
            show_seconds(max)
        );
        match seconds {
            Some(value) if (min..=max).contains(&value) => Ok(value),
            _ => Err(self.wrong_type(&range, &range)),
        }
    }

    /// A list: a TOML array of strings, or text separated by `separators`; blanks are dropped.
    pub(super) fn list(&self, separators: &[char]) -> Result<Vec<String>, ConfigError> {
        let split = |text: &str| -> Vec<String> {
            text.split(|c| separators.contains(&c))
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect()
        };
        match &self.raw {
            Raw::Text(text) | Raw::Toml(toml::Value::String(text)) => Ok(split(text)),
            Raw::Toml(toml::Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(text) => Ok(text.trim().to_owned()),
                    _ => Err(self.wrong_type("an array of strings", r#"["a", "b"]"#)),
                })
                .filter(|item| !matches!(item, Ok(text) if text.is_empty()))
                .collect(),
            Raw::Toml(_) => Err(self.wrong_type("an array of strings", r#"["a", "b"]"#)),
        }
    }

    /// One of `valid` (compared without regard to case), as its index in `valid`.
    pub(super) fn choice(&self, valid: &[&str]) -> Result<usize, ConfigError> {
        let text = self.text()?;
        let wanted = text.trim().to_ascii_lowercase();
        valid
            .iter()
            .position(|name| *name == wanted)
            .ok_or_else(|| {
                self.error(
                    format!("`{text}` is not one of {}", valid.join(", ")),
                    format!("use one of: {}", valid.join(", ")),
                )
            })
    }
}

/// `3600`, `90s`, `15m`, `1h` or `30d` as seconds.
fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        None => (text, 1),
        Some(at) => {
            let unit = match text[at..].trim() {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 24 * 3600,
                _ => return None,
            };
            (&text[..at], unit)
        }
    };
    number.parse::<u64>().ok()?.checked_mul(unit)
}

/// Seconds in the largest unit that divides them: `30d`, `1h`, `90s`.
fn show_seconds(seconds: u64) -> String {
    match seconds {
        0 => "0".to_owned(),
        s if s % (24 * 3600) == 0 => format!("{}d", s / (24 * 3600)),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The TOML file, whose keys are taken out as they are read so that what is left is unknown.
#[derive(Debug)]
struct FileLayer {
    path: PathBuf,
    root: toml::Table,
    /// Keys asked for, per table (`""`, `server`, `splunk.mirror`, ...), for "did you mean".
    known: BTreeMap<String, Vec<&'static str>>,
}

/// Tables of the file that hold settings, in the order unknown keys are reported.
const TABLES: &[&str] = &[
    "server",
    "auth.proxy",
    "auth",
    "splunk.mirror",
    "splunk.exchange",
    "splunk",
];

/// All the layers of one load.
pub(super) struct Sources<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    file: Option<FileLayer>,
}

impl<'a> Sources<'a> {
    /// Layers over `env` and, when given, the TOML file at `file` (read and parsed here).
    pub(super) fn new(
        env: &'a dyn Fn(&str) -> Option<String>,
        file: Option<(PathBuf, String)>,
    ) -> Result<Self, ConfigError> {
        let file = match file {
            None => None,
            Some((path, setting)) => Some(read_file(&path, &setting)?),
        };
        Ok(Self { env, file })
    }

    /// An environment variable; an empty value counts as unset (as compose files often leave them).
    pub(super) fn env(&self, name: &'static str) -> Option<Found> {
        (self.env)(name)
            .filter(|value| !value.trim().is_empty())
            .map(|value| Found {
                origin: Origin::Env(name),
                raw: Raw::Text(value),
            })
    }

    /// The file's value at the dotted `key`, taken out of the file.
    pub(super) fn file(&mut self, key: &'static str) -> Option<Found> {
        let file = self.file.as_mut()?;
        let (table_path, leaf) = key.rsplit_once('.').unwrap_or(("", key));
        file.known
            .entry(table_path.to_owned())
            .or_default()
            .push(leaf);
        let mut table = &mut file.root;
        if !table_path.is_empty() {
            for part in table_path.split('.') {
                match table.get_mut(part) {
                    Some(toml::Value::Table(inner)) => table = inner,
                    _ => return None,
                }
            }
        }
        let value = table.remove(leaf)?;
        Some(Found {
            origin: Origin::File {
                key,
                path: file.path.clone(),
            },
            raw: Raw::Toml(value),
        })
    }

    /// The winning value of a setting: the flag, else the first variable of `env` that is set,
    /// else the file's `key`. The file's key is always taken so it does not look unknown.
    pub(super) fn find(
        &mut self,
        key: &'static str,
        env: &[&'static str],
        flag: Option<(&'static str, Option<&str>)>,
    ) -> Option<Found> {
        let from_file = self.file(key);
        if let Some((name, Some(value))) = flag {
            return Some(Found {
                origin: Origin::Flag(name),
                raw: Raw::Text(value.to_owned()),
            });
        }
        env.iter().find_map(|name| self.env(name)).or(from_file)
    }

    /// The first key left in the file that no setting asked for, as an error.
    pub(super) fn reject_unknown(&self) -> Result<(), ConfigError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        for table_path in TABLES {
            let mut table = &file.root;
            let mut present = true;
            for part in table_path.split('.') {
                match table.get(part) {
                    Some(toml::Value::Table(inner)) => table = inner,
                    _ => {
                        present = false;
                        break;
                    }
                }
            }
            if !present {
                continue;
            }
            let nested: &[&str] = match *table_path {
                "splunk" => &["mirror", "exchange"],
                "auth" => &["proxy"],
                _ => &[],
            };
            if let Some(unknown) = table.keys().find(|k| !nested.contains(&k.as_str())) {
                let mut known = file.known.get(*table_path).cloned().unwrap_or_default();
                known.extend_from_slice(nested);
                return Err(ConfigError::new(
                    format!("{table_path}.{unknown} in {}", file.path.display()),
                    format!("unknown key `{unknown}` in [{table_path}]"),
                    format!(
                        "remove it or correct its spelling; the keys of [{table_path}] are: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        let top = ["server", "auth", "splunk", "tools"];
        if let Some(unknown) = file.root.keys().find(|k| !top.contains(&k.as_str())) {
            return Err(ConfigError::new(
                format!("{unknown} in {}", file.path.display()),
                format!("unknown key or table `{unknown}`"),
                format!(
                    "remove it or correct its spelling; the tables are: {}",
                    top.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// Reads and parses the file; `setting` names where its path came from.
fn read_file(path: &Path, setting: &str) -> Result<FileLayer, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            setting,
            format!("cannot read the configuration file {}: {e}", path.display()),
            "give the path of a readable TOML file, or leave it unset",
        )
    })?;
    let root: toml::Table = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|span| {
                let line = text[..span.start].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        ConfigError::new(
            path.display().to_string(),
            format!("not valid TOML{at}: {}", e.message().trim()),
            "correct the file's syntax (see docs/configuration.md for an example)",
        )
    })?;
    for table_path in [
        "server",
        "auth",
        "splunk",
        "tools",
        "splunk.mirror",
        "splunk.exchange",
        "auth.tool_scopes",
        "auth.tools",
        "auth.tags",
        "auth.proxy",
    ] {
        let mut value: Option<&toml::Value> = None;
        let mut table = &root;
        for part in table_path.split('.') {
            value = table.get(part);
            match value {
                Some(toml::Value::Table(inner)) => table = inner,
                _ => break,
            }
        }
        if let Some(value) = value.filter(|value| !value.is_table()) {
            return Err(ConfigError::new(
                format!("{table_path} in {}", path.display()),
                format!("expected a table, got a TOML {}", value.type_str()),
                format!("write it as a [{table_path}] section"),
            ));
        }
    }
    Ok(FileLayer {
        path: path.to_owned(),
        root,
        known: BTreeMap::new(),
    })
}
