//! Errors in scenario files: every one names the file, line and column, says what was wrong
//! and what would be accepted. Messages are lowercase without a trailing period.

use std::fmt;

use crate::model::settings::SettingsError;
use crate::runner::system::SdkChoice;

/// A scenario file that cannot be run, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {kind}")]
pub struct ScenarioError {
    /// The file as the caller named it (a path relative to the workspace in tests).
    pub file: String,
    /// 1-based; 0 when the problem is the whole file (unreadable, empty).
    pub line: u64,
    pub column: u64,
    pub kind: ErrorKind,
}

/// What was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The YAML does not match the format: unknown or duplicate keys, unknown step kinds,
    /// unknown names, bad durations, wrong types. The message is serde-saphyr's, which lists
    /// what is accepted.
    #[error("{0}")]
    Yaml(String),
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("file is at least {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("unsupported schema_version {found}; accepted: {accepted}")]
    SchemaVersion { found: u32, accepted: u32 },
    #[error("expectation names a missing variant `{name}`; variants: {known}")]
    MissingVariant { name: String, known: String },
    #[error("invalid settings{context}: {}", settings_message(source))]
    Settings { context: Context, source: SettingsError },
    #[error("bad fault: {0}")]
    Fault(String),
    #[error("bad step: {0}")]
    Step(String),
    #[error("bad path `{path}`: expected an app path starting with `/`, e.g. `/checkout`")]
    Path { path: String },
    #[error("bad seed: {0}")]
    Seed(String),
    #[error(
        "`sdk: {}`{} with defects [{defects}]{}{context}: a variant with defects runs on the \
         reference SDK with them switched on, so it names no `sdk`; accepted: `sdk: model` or \
         `sdk: reference` without defects (`defects: []` drops the setup's), or defects \
         without `sdk`",
        sdk.as_str(),
        from_setup(*sdk_inherited),
        from_setup(*defects_inherited)
    )]
    SdkWithDefects {
        context: Context,
        sdk: SdkChoice,
        defects: String,
        /// Whether the variant inherits its `sdk` from the setup.
        sdk_inherited: bool,
        /// Whether the variant inherits its defects from the setup.
        defects_inherited: bool,
    },
    #[error("invariant `{0}` is expected both to break and to hold")]
    Contradiction(String),
    #[error("{what} is empty; {hint}")]
    Empty { what: &'static str, hint: &'static str },
    #[error("{what}: {count} is more than the limit of {limit}")]
    TooMany { what: &'static str, count: usize, limit: usize },
}

/// How an error says that a variant inherits a field.
fn from_setup(inherited: bool) -> &'static str {
    if inherited { " (from the setup)" } else { "" }
}

/// A settings error in the file's words: `max_lifetime`, not the model's `max_lifetime_ms`,
/// and durations as the file writes them.
fn settings_message(err: &SettingsError) -> String {
    match err {
        SettingsError::OutOfRange { field, value, accepted } => format!(
            "`{}` = {} is out of range; accepted: {accepted}",
            field.trim_end_matches("_ms"),
            crate::model::time::format_duration(*value)
        ),
        SettingsError::NoLifetimeLimit => "at least one of `max_lifetime` and \
             `inactivity_timeout` must be on (Clerk refuses an instance with neither)"
            .to_string(),
        SettingsError::ReuseGraceVersions { .. } | SettingsError::Instances { .. } => {
            err.to_string()
        }
    }
}

/// Which part of the file a settings error comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context(pub Option<String>);

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(variant) => write!(f, " in variant `{variant}`"),
            None => Ok(()),
        }
    }
}

impl ScenarioError {
    pub fn new(file: &str, line: u64, column: u64, kind: ErrorKind) -> ScenarioError {
        ScenarioError { file: file.to_string(), line, column, kind }
    }

    /// From serde-saphyr's error: its location, and its message without the snippet and
    /// without its own location suffix (we print ours in front).
    pub(crate) fn from_yaml(file: &str, err: &serde_saphyr::Error) -> ScenarioError {
        let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        let plain = err.without_snippet().render_with_options(serde_saphyr::render_options! {
            snippets: serde_saphyr::SnippetMode::Off,
        });
        ScenarioError::new(file, line, column, ErrorKind::Yaml(tidy_yaml_message(&plain)))
    }
}

/// Drops serde-saphyr's ` at line L, column C` suffix and lowercases the first letter, so the
/// message reads like the rest of ours.
fn tidy_yaml_message(message: &str) -> String {
    let mut text = message.trim().to_string();
    if let Some(at) = text.rfind(" at line ") {
        text.truncate(at);
    }
    // serde-saphyr suggests relaxing its policy; for scenarios a duplicate is always a mistake.
    if let Some(rest) = text.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(", set DuplicateKeyPolicy").next().unwrap_or(rest);
        text = format!("duplicate key `{key}`; each key may appear once in a mapping");
    }
    // serde calls every enum value a "variant"; in a scenario a variant is something else.
    if let Some(rest) = text.strip_prefix("unknown variant ") {
        let what = if rest.contains("expected one of advance, cold_start") {
            "step kind"
        } else {
            "value"
        };
        text = format!("unknown {what} {}", rest.replacen(", expected one of", "; accepted:", 1));
    }
    if text == "expected mapping start" {
        text = "expected a mapping; steps are written `- kill: {}`, `- advance: 30s`, \
                `- get_token: {skip_cache: true}`"
            .to_string();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "malformed yaml".to_string(),
    }
}
