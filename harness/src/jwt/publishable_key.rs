//! Clerk publishable keys: `pk_test_` or `pk_live_` followed by base64(host + `$`) with the
//! padding stripped (reference §4.1, `packages/shared/src/keys.ts`).
//!
//! Keys are untrusted input (DESIGN.md §13): parsing says what is wrong, where, and what
//! would be accepted, and never panics.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;

/// Development (`pk_test_`) or production (`pk_live_`) instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstanceKind {
    Development,
    Production,
}

impl InstanceKind {
    fn prefix(self) -> &'static str {
        match self {
            InstanceKind::Development => "pk_test_",
            InstanceKind::Production => "pk_live_",
        }
    }

    /// `display_config.instance_environment_type`.
    pub fn environment_type(self) -> &'static str {
        match self {
            InstanceKind::Development => "development",
            InstanceKind::Production => "production",
        }
    }
}

/// A parsed publishable key: the instance kind and the Frontend API host it names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PublishableKey {
    pub instance: InstanceKind,
    pub frontend_api: String,
}

const ACCEPTED: &str = "`pk_test_` or `pk_live_` followed by base64 of `<frontend api host>$`, \
                        e.g. `pk_test_Y2xlcmsuZW11bGF0b3IudGVzdCQ` for `clerk.emulator.test`";

/// Why a publishable key was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PublishableKeyError {
    #[error("empty publishable key; expected {ACCEPTED}")]
    Empty,
    #[error("publishable key `{key}` has an unknown prefix; expected {ACCEPTED}")]
    UnknownPrefix { key: String },
    #[error(
        "publishable key `{key}` has {parts} `_`-separated parts, expected 3 \
         (`pk`, `test` or `live`, the encoded host)"
    )]
    WrongPartCount { key: String, parts: usize },
    #[error("publishable key `{key}` has no encoded host after the prefix; expected {ACCEPTED}")]
    NoPayload { key: String },
    #[error(
        "publishable key `{key}` is not base64 at character {offset} (`{found}`); \
         expected {ACCEPTED}"
    )]
    NotBase64 { key: String, offset: usize, found: char },
    #[error("publishable key `{key}` has a base64 payload of invalid length; expected {ACCEPTED}")]
    BadLength { key: String },
    #[error("publishable key `{key}` does not decode to text; expected {ACCEPTED}")]
    NotUtf8 { key: String },
    #[error("publishable key `{key}` decodes to `{decoded}`, which must end with exactly one `$`")]
    NoTrailingDollar { key: String, decoded: String },
    #[error(
        "publishable key `{key}` names the host `{host}`, which has no `.`; expected a host \
         such as `clerk.example.com`"
    )]
    HostWithoutDot { key: String, host: String },
    #[error("frontend API host `{host}` is not usable in a publishable key: {reason}")]
    BadHost { host: String, reason: &'static str },
}

impl PublishableKey {
    /// A key for `frontend_api` (a host such as `clerk.emulator.test`).
    pub fn new(instance: InstanceKind, frontend_api: &str) -> Result<Self, PublishableKeyError> {
        let bad = |reason| PublishableKeyError::BadHost { host: frontend_api.to_string(), reason };
        if frontend_api.is_empty() {
            return Err(bad("it is empty"));
        }
        if frontend_api.contains('$') {
            return Err(bad("it contains `$`, the key's terminator"));
        }
        if !frontend_api.contains('.') {
            return Err(bad("it has no `.`, and Clerk's parser requires one"));
        }
        Ok(PublishableKey { instance, frontend_api: frontend_api.to_string() })
    }

    /// The key's text: prefix + base64(host + `$`), padding stripped.
    pub fn encode(&self) -> String {
        let payload = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(format!("{}$", self.frontend_api));
        format!("{}{payload}", self.instance.prefix())
    }

    /// Parses a key as `parsePublishableKey` does, with a precise error.
    pub fn parse(text: &str) -> Result<Self, PublishableKeyError> {
        let key = text.to_string();
        if text.is_empty() {
            return Err(PublishableKeyError::Empty);
        }
        let instance = if text.starts_with("pk_test_") {
            InstanceKind::Development
        } else if text.starts_with("pk_live_") {
            InstanceKind::Production
        } else {
            return Err(PublishableKeyError::UnknownPrefix { key });
        };
        let parts = text.split('_').count();
        if parts != 3 {
            return Err(PublishableKeyError::WrongPartCount { key, parts });
        }
        let prefix_len = instance.prefix().len();
        let payload = &text[prefix_len..];
        if payload.is_empty() {
            return Err(PublishableKeyError::NoPayload { key });
        }
        // atob is "forgiving": padding may be present or not.
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD_INDIFFERENT
            .decode(payload)
            .map_err(|e| match e {
                base64::DecodeError::InvalidByte(offset, byte)
                | base64::DecodeError::InvalidLastSymbol { offset, symbol: byte, .. } => {
                    PublishableKeyError::NotBase64 {
                        key: key.clone(),
                        offset: prefix_len + offset,
                        found: byte as char,
                    }
                }
                _ => PublishableKeyError::BadLength { key: key.clone() },
            })?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| PublishableKeyError::NotUtf8 { key: key.clone() })?;
        let Some(host) = decoded.strip_suffix('$').filter(|h| !h.ends_with('$')) else {
            return Err(PublishableKeyError::NoTrailingDollar { key, decoded });
        };
        if host.contains('$') {
            return Err(PublishableKeyError::NoTrailingDollar { key, decoded });
        }
        if !host.contains('.') {
            return Err(PublishableKeyError::HostWithoutDot { key, host: host.to_string() });
        }
        Ok(PublishableKey { instance, frontend_api: host.to_string() })
    }
}

impl fmt::Display for PublishableKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for PublishableKey {
    type Err = PublishableKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PublishableKey::parse(s)
    }
}
