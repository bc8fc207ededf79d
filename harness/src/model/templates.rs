//! The instance's JWT templates (Dashboard → JWT templates): for each name, the lifetime of
//! its tokens and the custom claims they carry. `POST /v1/client/sessions/{id}/tokens/{name}`
//! mints one (`model/server/sessions.rs`); the backend checks a template token's claims
//! against the template it was configured for (`backend/`).
//!
//! A template token carries Clerk's default template claims (`azp exp iat iss jti nbf sub`)
//! and the template's own; not the session-bound `sid`, `sts`, `v` (clerk/clerk-docs #2286:
//! "JWT templates do not include session-bound claims"). Custom claims here are plain
//! strings (`role: authenticated`, `aud: supabase`); Clerk's shortcodes
//! (`{{user.id}}`) and JSON values are not modelled.
//!
//! The table is stored inline, with limits stated once below, because [`InstanceSettings`]
//! (and with it every `Setup`) is `Copy` and copied freely by runners and tests.
//!
//! [`InstanceSettings`]: super::settings::InstanceSettings

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::time::{DAY_MS, SECOND_MS};
use super::vocab::{TemplateName, TemplateNameError};

/// How many templates an instance may declare in this harness.
pub const TEMPLATES_MAX: usize = 4;
/// How many custom claims a template may declare in this harness.
pub const TEMPLATE_CLAIMS_MAX: usize = 4;
/// The longest claim name and claim value, in bytes.
pub const CLAIM_NAME_LEN_MAX: usize = 32;
pub const CLAIM_VALUE_LEN_MAX: usize = 48;
/// A template token's lifetime: 30 s ..= 10 years, as Clerk's Backend API accepts
/// (`lifetime` of `POST /v1/jwt_templates`: `[30 .. 315360000]` seconds).
pub const TEMPLATE_LIFETIME_MS_MIN: u64 = 30 * SECOND_MS;
pub const TEMPLATE_LIFETIME_MS_MAX: u64 = 10 * 365 * DAY_MS;
/// A template's lifetime when the scenario gives none: Clerk's default, 60 s.
pub const TEMPLATE_LIFETIME_MS_DEFAULT: u64 = 60 * SECOND_MS;

/// Claims the emulator sets itself, which a template may not declare: Clerk's reserved
/// template claims, and the session token's claims (a template token has none of them, and
/// the harness tells the two kinds of token apart by them).
pub const RESERVED_CLAIMS: [&str; 11] =
    ["azp", "exp", "fva", "iat", "iss", "jti", "nbf", "sid", "sts", "sub", "v"];

/// Short ASCII text stored inline: a claim's name or value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> Text<N> {
    fn new(text: &str) -> Option<Text<N>> {
        if text.len() > N || !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return None;
        }
        let mut bytes = [0u8; N];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Some(Text { len: text.len() as u8, bytes })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize])
            .expect("Text::new admits printable ASCII only")
    }
}

impl<const N: usize> fmt::Debug for Text<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

pub type ClaimName = Text<CLAIM_NAME_LEN_MAX>;
pub type ClaimValue = Text<CLAIM_VALUE_LEN_MAX>;

/// One template: its tokens' lifetime and custom claims, sorted by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Template {
    pub name: TemplateName,
    pub lifetime_ms: u64,
    claims: [(ClaimName, ClaimValue); TEMPLATE_CLAIMS_MAX],
    claims_len: u8,
}

impl Template {
    /// The custom claims, sorted by name.
    pub fn claims(&self) -> impl Iterator<Item = (&str, &str)> {
        self.claims[..self.claims_len as usize].iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The lifetime in whole seconds, as `exp − iat` of a token.
    pub fn lifetime_s(&self) -> u64 {
        self.lifetime_ms.div_ceil(1000)
    }
}

/// The instance's templates, sorted by name; empty by default (Clerk instances have none
/// until one is created).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Templates {
    entries: [Option<Template>; TEMPLATES_MAX],
}

impl Default for Templates {
    fn default() -> Self {
        Templates { entries: [None; TEMPLATES_MAX] }
    }
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A template declaration as written: a lifetime and claims by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    #[serde(default = "default_lifetime")]
    pub lifetime_ms: u64,
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

fn default_lifetime() -> u64 {
    TEMPLATE_LIFETIME_MS_DEFAULT
}

impl TemplateSpec {
    /// A template's lifetime when none is given: Clerk's default, 60 s.
    pub fn default_lifetime_ms() -> u64 {
        TEMPLATE_LIFETIME_MS_DEFAULT
    }
}

/// Why a template declaration is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("{0}")]
    Name(#[from] TemplateNameError),
    #[error("more than {TEMPLATES_MAX} templates; this harness keeps at most {TEMPLATES_MAX}")]
    TooMany,
    #[error(
        "template `{template}` has more than {TEMPLATE_CLAIMS_MAX} claims; this harness keeps \
         at most {TEMPLATE_CLAIMS_MAX}"
    )]
    TooManyClaims { template: String },
    #[error(
        "template `{template}`: claim `{claim}` is set by the server itself and cannot be \
         declared (reserved: azp exp fva iat iss jti nbf sid sts sub v)"
    )]
    ReservedClaim { template: String, claim: String },
    #[error(
        "template `{template}`: claim name `{claim}` is not 1 to {CLAIM_NAME_LEN_MAX} characters \
         of A-Z a-z 0-9 _ - . : /"
    )]
    BadClaimName { template: String, claim: String },
    #[error(
        "template `{template}`: the value of claim `{claim}` is not printable ASCII of at most \
         {CLAIM_VALUE_LEN_MAX} characters"
    )]
    BadClaimValue { template: String, claim: String },
    #[error(
        "template `{template}`: lifetime {} is out of range; accepted: 30s ..= 10 years",
        super::time::format_duration(*value)
    )]
    Lifetime { template: String, value: u64 },
}

impl Templates {
    /// Builds the table from declarations, checking every limit.
    pub fn from_specs(specs: &BTreeMap<String, TemplateSpec>) -> Result<Templates, TemplateError> {
        let mut table = Templates::default();
        if specs.len() > TEMPLATES_MAX {
            return Err(TemplateError::TooMany);
        }
        for (slot, (name, spec)) in table.entries.iter_mut().zip(specs) {
            let name = TemplateName::parse(name)?;
            let template = || name.to_string();
            if !(TEMPLATE_LIFETIME_MS_MIN..=TEMPLATE_LIFETIME_MS_MAX).contains(&spec.lifetime_ms) {
                return Err(TemplateError::Lifetime {
                    template: template(),
                    value: spec.lifetime_ms,
                });
            }
            if spec.claims.len() > TEMPLATE_CLAIMS_MAX {
                return Err(TemplateError::TooManyClaims { template: template() });
            }
            let mut claims = [(
                ClaimName::new("").expect("empty fits"),
                ClaimValue::new("").expect("empty fits"),
            ); TEMPLATE_CLAIMS_MAX];
            for (entry, (claim, value)) in claims.iter_mut().zip(&spec.claims) {
                let bad_name = || TemplateError::BadClaimName {
                    template: template(),
                    claim: claim.escape_debug().to_string(),
                };
                if RESERVED_CLAIMS.contains(&claim.as_str()) {
                    return Err(TemplateError::ReservedClaim {
                        template: template(),
                        claim: claim.clone(),
                    });
                }
                let name_ok = !claim.is_empty()
                    && claim.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:/".contains(&b));
                let key = ClaimName::new(claim).filter(|_| name_ok).ok_or_else(bad_name)?;
                let value = ClaimValue::new(value).ok_or_else(|| TemplateError::BadClaimValue {
                    template: template(),
                    claim: claim.clone(),
                })?;
                *entry = (key, value);
            }
            *slot = Some(Template {
                name,
                lifetime_ms: spec.lifetime_ms,
                claims,
                claims_len: spec.claims.len() as u8,
            });
        }
        Ok(table)
    }

    /// The declarations this table was built from.
    pub fn to_specs(&self) -> BTreeMap<String, TemplateSpec> {
        self.iter()
            .map(|t| {
                let claims = t.claims().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                (t.name.to_string(), TemplateSpec { lifetime_ms: t.lifetime_ms, claims })
            })
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Template> {
        self.entries.iter().flatten()
    }

    pub fn get(&self, name: TemplateName) -> Option<&Template> {
        self.iter().find(|t| t.name == name)
    }

    pub fn is_empty(&self) -> bool {
        self.entries[0].is_none()
    }
}

impl Serialize for Templates {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_specs().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Templates {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let specs = BTreeMap::<String, TemplateSpec>::deserialize(deserializer)?;
        Templates::from_specs(&specs).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(lifetime_ms: u64, claims: &[(&str, &str)]) -> TemplateSpec {
        TemplateSpec {
            lifetime_ms,
            claims: claims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn a_table_round_trips_through_its_declarations() {
        let mut specs = BTreeMap::new();
        specs.insert("supabase".to_string(), spec(3_600_000, &[("role", "authenticated")]));
        specs.insert("convex".to_string(), spec(60_000, &[("aud", "convex")]));
        let table = Templates::from_specs(&specs).unwrap();
        assert_eq!(table.to_specs(), specs);
        let name = TemplateName::parse("supabase").unwrap();
        assert_eq!(table.get(name).unwrap().lifetime_s(), 3600);
        assert!(table.get(TemplateName::parse("hasura").unwrap()).is_none());
        assert!(Templates::default().is_empty() && !table.is_empty());
    }

    #[test]
    fn bad_declarations_are_refused_with_their_reason() {
        let refuse = |name: &str, s: TemplateSpec| {
            Templates::from_specs(&BTreeMap::from([(name.to_string(), s)])).unwrap_err()
        };
        assert!(matches!(refuse("a b", spec(60_000, &[])), TemplateError::Name(_)));
        assert!(matches!(
            refuse("t", spec(60_000, &[("sub", "x")])),
            TemplateError::ReservedClaim { .. }
        ));
        assert!(matches!(refuse("t", spec(0, &[])), TemplateError::Lifetime { .. }));
        assert!(matches!(
            refuse("t", spec(60_000, &[("a b", "x")])),
            TemplateError::BadClaimName { .. }
        ));
        assert!(matches!(
            refuse("t", spec(60_000, &[("aud", "\u{7}")])),
            TemplateError::BadClaimValue { .. }
        ));
        let five: BTreeMap<_, _> = (0..5).map(|i| (format!("t{i}"), spec(60_000, &[]))).collect();
        assert_eq!(Templates::from_specs(&five), Err(TemplateError::TooMany));
    }
}
