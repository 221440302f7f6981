//! Custom SPL tools from configuration (`[[tools.custom]]`): a search template with typed
//! parameters, scopes, groups and tags, served beside the built-in tools and checked, run and
//! audited by the same pipeline.
//!
//! A parameter's value reaches the search only as a quoted SPL string or a checked number
//! ([`literal`]), or from a claim of the caller's token (`from_claim`), never as raw text; the
//! rendered search then passes the SPL guard like any other.

use std::sync::Arc;

use auth_core::AuthContext;
use regex::Regex;
use rmcp::model::{Tool, ToolAnnotations};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::ToolError;
use crate::registry::SCOPE_SEARCH;
use crate::spl_guard::lexer::TokenKind;
use crate::spl_guard::{GuardConfig, SplGuard};

mod literal;
mod template;
#[cfg(test)]
mod tests;

use template::Template;

/// Whether `name` is a tool name this server serves: 1 to 64 ASCII letters, digits, `_` or
/// `-` (built-in names are too).
pub fn is_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The tag every custom tool has, so one `[auth.tags.custom]` rule can cover them all.
pub const CUSTOM_TAG: &str = "custom";

/// Arguments every custom tool takes besides its parameters: the search's time range.
const TIME_ARGUMENTS: [&str; 2] = ["earliest", "latest"];

/// A custom tool as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CustomToolConfig {
    /// The MCP tool name: letters, digits, `_` and `-`, at most 64 characters.
    pub name: String,
    /// What the tool answers, for the model choosing a tool.
    pub description: String,
    /// The SPL template; `$name$` is a parameter's value, `$$` a dollar sign.
    pub spl: String,
    /// The parameters, in the order the schema lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ParameterConfig>,
    /// `earliest` when the caller gives none (default: the server's `default_earliest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest: Option<String>,
    /// `latest` when the caller gives none (default: the server's `default_latest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
    /// Rows returned (default: the server's `default_max_results`; the server's cap applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_results: Option<u64>,
    /// Scopes a caller needs, all of them (default `splunk:search`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Groups of which a caller needs one (default: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Tags, for `[auth.tags.<tag>]` rules; `custom` is always added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The MCP annotation `title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The MCP annotation `readOnlyHint` (default true: the guard refuses writing commands).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// The MCP annotation `destructiveHint` (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive: Option<bool>,
}

/// A parameter of a custom tool as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ParameterConfig {
    /// The name, used as `$name$` in the template and as the argument's name.
    pub name: String,
    /// What it takes (default `string`).
    #[serde(rename = "type", default)]
    pub kind: ParamType,
    /// What it means, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the caller must give it. An optional parameter needs a `default`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    /// The value when the caller gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// The values an `enum` parameter takes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    /// A regular expression a `string` value must match, whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Least value of an `integer` or `number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Greatest value of an `integer` or `number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Most characters of a `string` (default 1024).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// Whether a `string` may hold `*`, Splunk's wildcard (default false: exact text).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wildcards: bool,
    /// A claim of the caller's token whose value is used, whatever the client sends; such a
    /// parameter is not in the tool's input schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_claim: Option<String>,
}

/// The type of a parameter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ParamType {
    /// Text, inserted as a quoted SPL string.
    #[default]
    String,
    /// A whole number.
    Integer,
    /// A number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// One of `allowed_values`, inserted as a quoted SPL string.
    Enum,
    /// A Splunk time (`-24h`, `-7d@d`, `now`, epoch seconds), inserted as a quoted string.
    Time,
}

/// A custom tool that cannot be served: which, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("custom tool `{tool}`: {problem}; {fix}")]
pub struct CustomToolError {
    /// The tool's name.
    pub tool: String,
    /// What is wrong.
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

/// A checked parameter.
#[derive(Debug, Clone)]
struct Parameter {
    name: String,
    kind: ParamKind,
    description: Option<String>,
    required: bool,
    default: Option<Value>,
    pattern: Option<Regex>,
    pattern_source: Option<String>,
    min: Option<f64>,
    max: Option<f64>,
    max_length: Option<usize>,
    wildcards: bool,
    from_claim: Option<String>,
}

#[derive(Debug, Clone)]
enum ParamKind {
    String,
    Integer,
    Number,
    Boolean,
    Enum(Vec<String>),
    Time,
}

/// A custom tool, checked and ready to serve.
#[derive(Debug, Clone)]
pub struct CustomTool {
    config: CustomToolConfig,
    template: Template,
    parameters: Vec<Parameter>,
    tags: Vec<String>,
    tool: Tool,
}

/// The search a call of a custom tool runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenderedSearch {
    pub(crate) spl: String,
    pub(crate) earliest: Option<String>,
    pub(crate) latest: Option<String>,
    pub(crate) max_results: Option<u64>,
}

impl CustomTool {
    /// Checks `config`: the name, the template's placeholders against the parameters (each
    /// used, none unknown), each parameter's settings and default, and the template with
    /// sample values under `guard` (so a denied command is found at start, not at first call).
    pub fn compile(
        config: &CustomToolConfig,
        guard: &GuardConfig,
    ) -> Result<Self, CustomToolError> {
        let error = |problem: String, fix: &str| CustomToolError {
            tool: config.name.clone(),
            problem,
            fix: fix.to_owned(),
        };
        if !is_tool_name(&config.name) {
            return Err(error(
                "the name is not a valid MCP tool name".to_owned(),
                "use 1 to 64 letters, digits, `_` or `-`",
            ));
        }
        if config.description.trim().is_empty() {
            return Err(error(
                "the description is empty".to_owned(),
                "say what the tool answers: the model chooses tools by their descriptions",
            ));
        }
        let template = Template::parse(&config.spl)
            .map_err(|problem| error(format!("in `spl`, {problem}"), "correct the template"))?;

        let mut parameters: Vec<Parameter> = Vec::new();
        for p in &config.parameters {
            if parameters.iter().any(|q| q.name == p.name) {
                return Err(error(
                    format!("the parameter `{}` is defined twice", p.name),
                    "give each parameter its own name",
                ));
            }
            let parameter = Parameter::compile(p).map_err(|(problem, fix)| {
                error(format!("parameter `{}`: {problem}", p.name), &fix)
            })?;
            parameters.push(parameter);
        }
        let placeholders = template.placeholders();
        for name in &placeholders {
            if !parameters.iter().any(|p| p.name == *name) {
                return Err(error(
                    format!("the template uses `${name}$`, which is no parameter"),
                    &format!(
                        "add a [[tools.custom.parameters]] named `{name}`, or correct the placeholder"
                    ),
                ));
            }
        }
        for p in &parameters {
            if !placeholders.contains(&p.name.as_str()) {
                return Err(error(
                    format!("the parameter `{}` is used nowhere in the template", p.name),
                    &format!("use it as `${}$` in `spl`, or remove it", p.name),
                ));
            }
        }
        for (what, time) in [("earliest", &config.earliest), ("latest", &config.latest)] {
            if let Some(time) = time {
                splunk_client::TimeModifier::parse(time.trim()).map_err(|e| {
                    error(
                        format!("`{what}` = {time:?} is not a Splunk time ({e})"),
                        "use a time such as -24h, -7d@d, now or epoch seconds",
                    )
                })?;
            }
        }
        if config.max_results == Some(0) {
            return Err(error(
                "`max_results` is 0".to_owned(),
                "set at least 1, or leave it out for the server's default",
            ));
        }

        let sample = template.render(|name| {
            parameters
                .iter()
                .position(|p| p.name == name)
                .map(|i| parameters[i].sample(i))
                .unwrap_or_default()
        });
        check_placements(&sample, &parameters, &template).map_err(|name| {
            error(
                format!(
                    "in `spl`, the placeholder `${name}$` is inside double quotes, a comment or \
                     a macro, where its value would not be one SPL value"
                ),
                "put it where a value goes, without quotes: every value is inserted as a quoted \
                 SPL string or a checked number",
            )
        })?;
        SplGuard::new(guard.clone()).check(&sample).map_err(|e| {
            error(
                format!("the SPL guard refuses the template: {e}"),
                "change the search, or the [tools.guard] policy if the command is safe here",
            )
        })?;

        let mut tags = vec![CUSTOM_TAG.to_owned()];
        for tag in &config.tags {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        let tool = mcp_definition(config, &parameters);
        Ok(Self {
            config: config.clone(),
            template,
            parameters,
            tags,
            tool,
        })
    }

    /// The tool's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &CustomToolConfig {
        &self.config
    }

    /// Its scopes as configured, `splunk:search` when none are.
    pub fn scopes(&self) -> Vec<String> {
        self.config
            .scopes
            .clone()
            .unwrap_or_else(|| vec![SCOPE_SEARCH.to_owned()])
    }

    /// Its tags, `custom` first.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The token claims its parameters read (`from_claim`).
    pub fn claims(&self) -> impl Iterator<Item = &str> {
        self.parameters
            .iter()
            .filter_map(|p| p.from_claim.as_deref())
    }

    /// Its MCP definition: name, description, input schema, annotations.
    pub fn definition(&self) -> &Tool {
        &self.tool
    }

    /// The search a call with `args` runs as `caller`: each parameter's value (the claim's
    /// for `from_claim` parameters, whatever the client sent) as an SPL literal.
    pub(crate) fn render(
        &self,
        args: &Map<String, Value>,
        caller: Option<&AuthContext>,
    ) -> Result<RenderedSearch, ToolError> {
        let mut literals: Vec<(&str, String)> = Vec::with_capacity(self.parameters.len());
        let mut problems = Vec::new();
        for p in &self.parameters {
            let value = match &p.from_claim {
                Some(claim) => claim_value(claim, caller, &p.kind)?,
                None => match args.get(&p.name).filter(|v| !v.is_null()) {
                    Some(value) => value.clone(),
                    None => match &p.default {
                        Some(default) => default.clone(),
                        None => {
                            problems.push(format!("missing argument `{}`", p.name));
                            continue;
                        }
                    },
                },
            };
            match literal::render(p, &value) {
                Ok(literal) => literals.push((&p.name, literal)),
                Err(problem) if p.from_claim.is_some() => {
                    return Err(ToolError::Denied(format!(
                        "takes `{}` from the token's claim `{}`, whose value {problem}",
                        p.name,
                        p.from_claim.as_deref().unwrap_or_default()
                    )));
                }
                Err(problem) => problems.push(format!("argument `{}` {problem}", p.name)),
            }
        }
        if !problems.is_empty() {
            return Err(ToolError::Arguments(format!(
                "{}: {}",
                self.name(),
                problems.join("; ")
            )));
        }
        let spl = self.template.render(|name| {
            literals
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, literal)| literal.clone())
                .unwrap_or_default()
        });
        let time = |what: &str, default: &Option<String>| {
            args.get(what)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| default.clone())
        };
        Ok(RenderedSearch {
            spl,
            earliest: time("earliest", &self.config.earliest),
            latest: time("latest", &self.config.latest),
            max_results: self.config.max_results,
        })
    }
}

impl Parameter {
    /// Checks one parameter's settings; the error is (problem, fix).
    fn compile(config: &ParameterConfig) -> Result<Self, (String, String)> {
        let fail = |problem: &str, fix: &str| Err((problem.to_owned(), fix.to_owned()));
        let name_ok = config
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && config
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return fail(
                "the name is not a placeholder name",
                "use letters, digits and `_`, starting with a letter or `_`",
            );
        }
        if TIME_ARGUMENTS.contains(&config.name.as_str()) {
            return fail(
                "the name is taken by the time range every custom tool takes",
                "choose another name; callers set the range with `earliest` and `latest`",
            );
        }
        let kind = match config.kind {
            ParamType::String => ParamKind::String,
            ParamType::Integer => ParamKind::Integer,
            ParamType::Number => ParamKind::Number,
            ParamType::Boolean => ParamKind::Boolean,
            ParamType::Time => ParamKind::Time,
            ParamType::Enum if config.allowed_values.is_empty() => {
                return fail(
                    "an enum parameter without `allowed_values`",
                    "list the values it takes in `allowed_values`",
                );
            }
            ParamType::Enum => ParamKind::Enum(config.allowed_values.clone()),
        };
        let numeric = matches!(kind, ParamKind::Integer | ParamKind::Number);
        let text = matches!(kind, ParamKind::String);
        if !config.allowed_values.is_empty() && !matches!(kind, ParamKind::Enum(_)) {
            return fail(
                "`allowed_values` on a parameter that is not an enum",
                "set `type = \"enum\"`, or remove `allowed_values`",
            );
        }
        if (config.min.is_some() || config.max.is_some()) && !numeric {
            return fail(
                "`min` or `max` on a parameter that is not a number",
                "set `type = \"integer\"` or `\"number\"`, or remove them",
            );
        }
        if let (Some(min), Some(max)) = (config.min, config.max)
            && min > max
        {
            return fail("`min` is greater than `max`", "swap them");
        }
        if (config.pattern.is_some() || config.max_length.is_some() || config.wildcards) && !text {
            return fail(
                "`pattern`, `max_length` or `wildcards` on a parameter that is not a string",
                "set `type = \"string\"`, or remove them",
            );
        }
        let pattern = match &config.pattern {
            None => None,
            Some(source) => Some(Regex::new(&format!("^(?:{source})$")).map_err(|e| {
                (
                    format!("the pattern {source:?} is not a valid regular expression: {e}"),
                    "correct the pattern (Rust regex syntax; it must match the whole value)"
                        .to_owned(),
                )
            })?),
        };
        if config.from_claim.is_some() && (config.required || config.default.is_some()) {
            return fail(
                "`from_claim` with `required` or `default`",
                "remove them: the value always comes from the token's claim",
            );
        }
        if config
            .from_claim
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            return fail(
                "`from_claim` is empty",
                "name a claim, e.g. preferred_username",
            );
        }
        if config.from_claim.is_none() && config.required && config.default.is_some() {
            return fail(
                "`required` with a `default`",
                "a parameter with a default is optional: remove `required` or the default",
            );
        }
        if config.from_claim.is_none() && !config.required && config.default.is_none() {
            return fail(
                "optional without a `default`",
                "set `required = true`, or give a `default`",
            );
        }
        let parameter = Self {
            name: config.name.clone(),
            kind,
            description: config.description.clone(),
            required: config.required,
            default: config.default.clone(),
            pattern,
            pattern_source: config.pattern.clone(),
            min: config.min,
            max: config.max,
            max_length: config.max_length,
            wildcards: config.wildcards,
            from_claim: config.from_claim.clone(),
        };
        if let Some(default) = &parameter.default {
            literal::render(&parameter, default).map_err(|problem| {
                (
                    format!("the default {problem}"),
                    "give a default the parameter accepts".to_owned(),
                )
            })?;
        }
        Ok(parameter)
    }

    /// A value of this parameter's type that no template contains, for checking the template
    /// at start: text values as a quoted sentinel, numbers as sentinel digits (`index` is the
    /// parameter's position).
    fn sample(&self, index: usize) -> String {
        match &self.kind {
            ParamKind::String | ParamKind::Time | ParamKind::Enum(_) => {
                literal::quoted(&text_sentinel(index))
            }
            ParamKind::Integer | ParamKind::Number => number_sentinel(index),
            ParamKind::Boolean => "true".to_owned(),
        }
    }

    /// The parameter's JSON Schema.
    fn schema(&self) -> Value {
        let mut schema = match &self.kind {
            ParamKind::String => json!({"type": "string"}),
            ParamKind::Integer => json!({"type": "integer"}),
            ParamKind::Number => json!({"type": "number"}),
            ParamKind::Boolean => json!({"type": "boolean"}),
            ParamKind::Enum(values) => json!({"type": "string", "enum": values}),
            ParamKind::Time => json!({"type": "string"}),
        };
        let mut description = self.description.clone().unwrap_or_default();
        if matches!(self.kind, ParamKind::Time) {
            if !description.is_empty() {
                description.push(' ');
            }
            description.push_str("A Splunk time: -24h, -7d@d, now or epoch seconds.");
        }
        if !description.is_empty() {
            schema["description"] = Value::from(description);
        }
        if let Some(source) = &self.pattern_source {
            schema["pattern"] = Value::from(format!("^(?:{source})$"));
        }
        if matches!(self.kind, ParamKind::String) {
            schema["maxLength"] =
                Value::from(self.max_length.unwrap_or(literal::DEFAULT_MAX_LENGTH));
        }
        if let Some(min) = self.min {
            schema["minimum"] = Value::from(min);
        }
        if let Some(max) = self.max {
            schema["maximum"] = Value::from(max);
        }
        if let Some(default) = &self.default {
            schema["default"] = default.clone();
        }
        schema
    }
}

/// The text a template check puts in for the `index`th parameter (private-use characters,
/// which no template holds).
fn text_sentinel(index: usize) -> String {
    format!("\u{E000}splunk-mcp parameter {index}\u{E000}")
}

/// The digits a template check puts in for the `index`th numeric parameter.
fn number_sentinel(index: usize) -> String {
    format!("9073{index:04}1")
}

/// Checks, with the SPL guard's own tokenizer, that every placeholder of the rendered
/// `sample` lands where a value goes: each text value as one whole quoted string, each number
/// in a word, none inside quotes, comments or macros. The name of the first that does not.
fn check_placements(
    sample: &str,
    parameters: &[Parameter],
    template: &Template,
) -> Result<(), String> {
    // A sample the tokenizer refuses is refused by the guard next, with its reason.
    let Ok(tokens) = crate::spl_guard::lexer::tokenize(sample) else {
        return Ok(());
    };
    for (index, parameter) in parameters.iter().enumerate() {
        let uses = template.uses(&parameter.name);
        let placed = match &parameter.kind {
            ParamKind::String | ParamKind::Time | ParamKind::Enum(_) => {
                let sentinel = text_sentinel(index);
                tokens
                    .iter()
                    .filter(|t| matches!(&t.kind, TokenKind::Quoted(text) if *text == sentinel))
                    .count()
            }
            ParamKind::Integer | ParamKind::Number => {
                let sentinel = number_sentinel(index);
                tokens
                    .iter()
                    .filter(|t| matches!(t.kind, TokenKind::Word(word) if word.contains(&sentinel)))
                    .count()
            }
            ParamKind::Boolean => uses,
        };
        if placed != uses {
            return Err(parameter.name.clone());
        }
    }
    Ok(())
}

/// The MCP definition of a checked tool.
fn mcp_definition(config: &CustomToolConfig, parameters: &[Parameter]) -> Tool {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in parameters.iter().filter(|p| p.from_claim.is_none()) {
        properties.insert(p.name.clone(), p.schema());
        if p.required {
            required.push(Value::from(p.name.clone()));
        }
    }
    for (what, default) in [("earliest", &config.earliest), ("latest", &config.latest)] {
        let (start_or_end, fallback) = if what == "earliest" {
            ("Start", "the server's default start")
        } else {
            ("End", "the server's default end")
        };
        let default = default
            .as_deref()
            .map_or_else(|| fallback.to_owned(), |d| format!("`{d}`"));
        properties.insert(
            what.to_owned(),
            json!({
                "type": "string",
                "description": format!(
                    "{start_or_end} of the time range: relative (-24h, -7d@d), now, or epoch \
                     seconds. Default {default}."
                ),
            }),
        );
    }
    let mut schema = Map::new();
    schema.insert("type".to_owned(), Value::from("object"));
    schema.insert("properties".to_owned(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".to_owned(), Value::Array(required));
    }
    let annotations = ToolAnnotations::from_raw(
        config.title.clone(),
        Some(config.read_only.unwrap_or(true)),
        Some(config.destructive.unwrap_or(false)),
        Some(true),
        Some(true),
    );
    let mut tool = Tool::new(
        config.name.clone(),
        config.description.clone(),
        Arc::new(schema),
    )
    .annotate(annotations);
    if let Some(title) = &config.title {
        tool = tool.with_title(title.clone());
    }
    tool
}

/// The value of `claim` in the caller's token, as a value of `kind`: text claims for text
/// parameters (numbers and booleans as their text), any scalar otherwise.
fn claim_value(
    claim: &str,
    caller: Option<&AuthContext>,
    kind: &ParamKind,
) -> Result<Value, ToolError> {
    let Some(caller) = caller else {
        return Err(ToolError::Denied(format!(
            "needs the claim `{claim}` of a signed-in caller's token, and this call has no token"
        )));
    };
    let value = caller
        .claims()
        .claim(claim)
        .filter(|v| !v.is_null())
        .ok_or_else(|| {
            ToolError::Denied(format!("needs the claim `{claim}`, which the token lacks"))
        })?;
    Ok(match (kind, value) {
        (ParamKind::String | ParamKind::Enum(_) | ParamKind::Time, Value::Number(n)) => {
            Value::from(n.to_string())
        }
        (ParamKind::String | ParamKind::Enum(_) | ParamKind::Time, Value::Bool(b)) => {
            Value::from(b.to_string())
        }
        (_, value) => value,
    })
}
