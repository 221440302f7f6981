//! Limits and defaults of the tools, as a typed struct the binary fills from its configuration.

use std::time::Duration;

use serde::Deserialize;

use crate::custom::CustomToolConfig;
use crate::spl_guard::GuardConfig;

/// Limits and defaults of the tools.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ToolsConfig {
    /// Rows a search returns when the caller does not say (`max_results`).
    pub default_max_results: u64,
    /// Most rows a search may return whatever the caller asks; larger requests are lowered.
    pub max_results_cap: u64,
    /// Most bytes of rows (as JSON) one answer carries; rows beyond are cut, with a note.
    pub max_result_bytes: usize,
    /// `earliest` when the caller gives none.
    pub default_earliest: String,
    /// `latest` when the caller gives none.
    pub default_latest: String,
    /// How long a blocking search may run before its job is cancelled.
    #[serde(with = "seconds")]
    pub search_timeout: Duration,
    /// The SPL guard's policy.
    pub guard: GuardConfig,
    /// Custom SPL tools (`[[tools.custom]]`).
    pub custom: Vec<CustomToolConfig>,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        Self {
            default_max_results: 100,
            max_results_cap: 1000,
            max_result_bytes: 256 * 1024,
            default_earliest: "-24h".to_owned(),
            default_latest: "now".to_owned(),
            search_timeout: Duration::from_secs(120),
            guard: GuardConfig::default(),
            custom: Vec::new(),
        }
    }
}

mod seconds {
    //! Durations as whole seconds in configuration files.
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}
