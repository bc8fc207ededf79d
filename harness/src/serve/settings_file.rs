//! `--settings FILE`: the instance's session options for the dev server, as YAML or JSON
//! (JSON is read as YAML, so one parser says where either went wrong).
//!
//! ```yaml
//! session_token_ttl: 60s      # 1s ..= 1h
//! max_lifetime: 7d            # 5m ..= 10 years, or `off`
//! inactivity_timeout: off     # 1m ..= 10 years, or `off`
//! multi_session: false
//! session_minter: false
//! ```
//!
//! Omitted fields keep Clerk's defaults. Every error names the file, line and column, what
//! was wrong and what is accepted.

use serde::{Deserialize, Deserializer};

use crate::model::settings::InstanceSettings;
use crate::model::time::parse_duration;

/// Largest settings file read: a handful of fields never needs more.
pub const SETTINGS_FILE_BYTES_MAX: usize = 64 * 1024;

/// A settings file that cannot be used, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct SettingsFileError {
    pub file: String,
    /// 1-based; 0 when the problem is the whole file.
    pub line: u64,
    pub column: u64,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    #[serde(default, deserialize_with = "duration")]
    session_token_ttl: Option<u64>,
    #[serde(default, deserialize_with = "limit")]
    max_lifetime: Option<Option<u64>>,
    #[serde(default, deserialize_with = "limit")]
    inactivity_timeout: Option<Option<u64>>,
    multi_session: Option<bool>,
    session_minter: Option<bool>,
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text).map(Some).map_err(serde::de::Error::custom)
}

fn limit<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    let text = String::deserialize(d)?;
    if text.trim() == "off" {
        return Ok(Some(None));
    }
    parse_duration(&text)
        .map(|ms| Some(Some(ms)))
        .map_err(|e| serde::de::Error::custom(format!("{e}, or `off`")))
}

/// Parses settings text; `file` names it in errors.
pub fn parse_settings(file: &str, text: &str) -> Result<InstanceSettings, SettingsFileError> {
    let whole =
        |message: String| SettingsFileError { file: file.to_string(), line: 0, column: 0, message };
    if text.len() > SETTINGS_FILE_BYTES_MAX {
        return Err(whole(format!(
            "file is {} bytes; the limit is {SETTINGS_FILE_BYTES_MAX} bytes",
            text.len()
        )));
    }
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
    };
    let raw: SettingsFile = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        let plain = e.without_snippet().render_with_options(serde_saphyr::render_options! {
            snippets: serde_saphyr::SnippetMode::Off,
        });
        SettingsFileError { file: file.to_string(), line, column, message: tidy(&plain) }
    })?;
    let mut settings = InstanceSettings::default();
    if let Some(ms) = raw.session_token_ttl {
        settings.session_token_ttl_ms = ms;
    }
    if let Some(limit) = raw.max_lifetime {
        settings.max_lifetime_ms = limit;
    }
    if let Some(limit) = raw.inactivity_timeout {
        settings.inactivity_timeout_ms = limit;
    }
    if let Some(on) = raw.multi_session {
        settings.multi_session = on;
    }
    if let Some(on) = raw.session_minter {
        settings.session_minter = on;
    }
    settings.validate().map_err(|e| whole(format!("invalid settings: {e}")))?;
    Ok(settings)
}

/// Reads and parses a settings file.
pub fn load_settings(path: &std::path::Path) -> Result<InstanceSettings, SettingsFileError> {
    let file = path.display().to_string();
    let limit = SETTINGS_FILE_BYTES_MAX as u64;
    let text =
        crate::scenario::files::read_bounded(path, limit).map_err(|e| SettingsFileError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read the file: {e}"),
        })?;
    parse_settings(&file, &text)
}

/// serde-saphyr's message without its own ` at line L, column C` suffix (ours is in front),
/// lowercased like the rest of ours.
fn tidy(message: &str) -> String {
    let mut text = message.trim().to_string();
    if let Some(at) = text.rfind(" at line ") {
        text.truncate(at);
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "malformed settings".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::{DAY_MS, MINUTE_MS, SECOND_MS};

    #[test]
    fn yaml_and_json_give_the_same_settings() {
        let yaml = "session_token_ttl: 30s\nmax_lifetime: off\ninactivity_timeout: 30m\n";
        let json =
            r#"{"session_token_ttl": "30s", "max_lifetime": "off", "inactivity_timeout": "30m"}"#;
        let expected = InstanceSettings {
            session_token_ttl_ms: 30 * SECOND_MS,
            max_lifetime_ms: None,
            inactivity_timeout_ms: Some(30 * MINUTE_MS),
            ..InstanceSettings::default()
        };
        assert_eq!(parse_settings("s.yaml", yaml), Ok(expected));
        assert_eq!(parse_settings("s.json", json), Ok(expected));
        assert_eq!(parse_settings("empty.yaml", "{}").unwrap().max_lifetime_ms, Some(7 * DAY_MS));
    }

    #[test]
    fn bad_files_say_where_and_what_is_accepted() {
        let cases = [
            ("a: 1\n", 1, "unknown field `a`"),
            ("max_lifetime: 7d\nsession_token_ttl: 30\n", 2, "missing unit"),
            ("multi_session: false\nmax_lifetime: forever\n", 2, "or `off`"),
            ("session_token_ttl: 2h\n", 0, "out of range; accepted: 1s ..= 1h"),
            ("max_lifetime: off\n", 0, "at least one of"),
            ("{\"multi_session\": true,\n \"multi_session\": false}", 2, "duplicate"),
        ];
        for (text, line, needle) in cases {
            let err = parse_settings("s.yaml", text).expect_err(text);
            assert_eq!(err.line, line, "{text}: {err}");
            let shown = err.to_string();
            assert!(shown.starts_with("s.yaml:"), "{shown}");
            assert!(shown.to_lowercase().contains(needle), "{text}: {shown}");
        }
    }
}
