//! JWT template names and the token-cache key they extend: a `getToken({ template })` call
//! names a template of the instance, and clerk-js caches its token apart from the session
//! token (`TokenId.build(sessionId, template, orgId)`, reference §1.1 step 3).
//!
//! A name is stored inline (no heap) so that [`super::TokenInfo`], events and happenings stay
//! `Copy` or cheap to clone on the model's hot path; the limit is stated once here.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::SessionId;

/// The longest template name accepted, in bytes.
pub const TEMPLATE_NAME_LEN_MAX: usize = 32;

/// A JWT template's name: 1 to [`TEMPLATE_NAME_LEN_MAX`] characters of `A-Z a-z 0-9 _ -`.
/// The name is a path segment (`/tokens/{template}`) and part of clerk-js's cache key, so
/// anything that would need escaping is refused rather than encoded.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TemplateName {
    len: u8,
    bytes: [u8; TEMPLATE_NAME_LEN_MAX],
}

/// Why text is not a template name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateNameError {
    #[error(
        "empty template name; expected 1 to {TEMPLATE_NAME_LEN_MAX} characters of A-Z a-z 0-9 _ -"
    )]
    Empty,
    #[error(
        "template name `{0}` is longer than {TEMPLATE_NAME_LEN_MAX} characters; expected a \
         short name such as `supabase`"
    )]
    TooLong(String),
    #[error(
        "template name `{0}` has a character outside A-Z a-z 0-9 _ -; the name is a URL path \
         segment (`/tokens/{{template}}`)"
    )]
    BadCharacter(String),
}

impl TemplateName {
    pub fn parse(text: &str) -> Result<TemplateName, TemplateNameError> {
        if text.is_empty() {
            return Err(TemplateNameError::Empty);
        }
        if text.len() > TEMPLATE_NAME_LEN_MAX {
            let shown: String = text.chars().take(TEMPLATE_NAME_LEN_MAX + 8).collect();
            return Err(TemplateNameError::TooLong(shown));
        }
        if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            return Err(TemplateNameError::BadCharacter(text.escape_debug().to_string()));
        }
        let mut bytes = [0u8; TEMPLATE_NAME_LEN_MAX];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Ok(TemplateName { len: text.len() as u8, bytes })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize])
            .expect("parse admits ASCII only, so the bytes are UTF-8")
    }
}

impl fmt::Display for TemplateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TemplateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TemplateName({})", self.as_str())
    }
}

impl Serialize for TemplateName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TemplateName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        TemplateName::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The pattern a JSON Schema gives for a template name.
pub const TEMPLATE_NAME_PATTERN: &str = "^[A-Za-z0-9_-]{1,32}$";

impl schemars::JsonSchema for TemplateName {
    fn schema_name() -> Cow<'static, str> {
        "TemplateName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "a JWT template of the instance (`instance: { templates: … }`)",
            "type": "string",
            "pattern": TEMPLATE_NAME_PATTERN
        })
    }
}

/// What a cached token is the token of: a session, and the template it was minted from
/// (`None`: the session token itself). clerk-js's `tokenId` without the organization, which
/// this harness does not model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenKey {
    pub sid: SessionId,
    pub template: Option<TemplateName>,
}

impl TokenKey {
    /// The session token of `sid`.
    pub fn session(sid: SessionId) -> TokenKey {
        TokenKey { sid, template: None }
    }
}

impl fmt::Display for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // clerk-js's `tokenId` shape: `sess_1`, `sess_1-supabase`.
        match self.template {
            None => write!(f, "{}", self.sid),
            Some(t) => write!(f, "{}-{t}", self.sid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_within_their_alphabet_and_length() {
        assert_eq!(TemplateName::parse("supabase").unwrap().as_str(), "supabase");
        assert_eq!(TemplateName::parse("a-b_C9").unwrap().to_string(), "a-b_C9");
        assert_eq!(TemplateName::parse(""), Err(TemplateNameError::Empty));
        assert!(matches!(TemplateName::parse("a/b"), Err(TemplateNameError::BadCharacter(_))));
        assert!(matches!(TemplateName::parse("é"), Err(TemplateNameError::BadCharacter(_))));
        let long = "x".repeat(TEMPLATE_NAME_LEN_MAX + 1);
        assert!(matches!(TemplateName::parse(&long), Err(TemplateNameError::TooLong(_))));
        assert!(TemplateName::parse(&"x".repeat(TEMPLATE_NAME_LEN_MAX)).is_ok());
    }
}
