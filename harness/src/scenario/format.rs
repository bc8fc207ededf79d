//! The scenario file format (DESIGN.md §9): the serde types a YAML scenario deserialises
//! into, with `deny_unknown_fields` everywhere, and the JSON Schema derived from them.
//!
//! These types mirror the file, not the run: durations are strings (`30s`), names are the
//! vocabulary's kebab/snake-case spellings, and nothing is validated beyond its shape. The
//! meaning (defaults, merging variants onto the setup, settings limits, expectations that
//! name real variants) is [`super::compile`]'s job, so every check there can point at a line.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::invariants::InvariantId;
use crate::model::profile::ProfileId;
use crate::model::settings::{NativeVariant, ReusePolicy};
use crate::model::templates::{
    CLAIM_VALUE_LEN_MAX, RESERVED_CLAIMS, TEMPLATE_CLAIMS_MAX, TEMPLATES_MAX, TemplateSpec,
    Templates,
};
use crate::model::time::{format_duration, parse_duration};
use crate::model::vocab::{
    AppState, Defect, Endpoint, KeychainAccessible, LargeValues, Network, Platform, SessionStatus,
    StorageFaultKind, StorageKey, StorageOp, TEMPLATE_NAME_PATTERN, TaskKey, TemplateName,
};
use crate::runner::system::SdkChoice;

/// The only `schema_version` this parser reads. Bump it when a file that parsed before would
/// now mean something else.
pub const SCHEMA_VERSION: u32 = 1;

/// A value with the line and column (1-based) of the YAML node it came from, so checks made
/// after parsing can still point at the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub line: u64,
    pub column: u64,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Located {
            value: spanned.value,
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
        })
    }
}

impl<T: Serialize> Serialize for Located<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// Newtypes over the vocabulary's enums, read by the vocabulary's own names (`as_str`), so
/// the file, the schema, reports and snapshots spell every name the same way. An unknown name
/// is an error listing every accepted one.
macro_rules! named {
    ($(#[doc = $doc:literal])* $name:ident($inner:ty), $what:literal, $all:expr, $as_str:expr) => {
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name(pub $inner);

        impl $name {
            /// Every accepted name, in the vocabulary's order.
            pub fn names() -> Vec<&'static str> {
                let as_str: fn($inner) -> &'static str = $as_str;
                $all.iter().copied().map(as_str).collect()
            }

            pub fn as_str(self) -> &'static str {
                let as_str: fn($inner) -> &'static str = $as_str;
                as_str(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                let as_str: fn($inner) -> &'static str = $as_str;
                $all.iter()
                    .copied()
                    .find(|v| as_str(*v) == text)
                    .map($name)
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            concat!("unknown ", $what, " `{}`; accepted: {}"),
                            text,
                            $name::names().join(", ")
                        ))
                    })
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let description = concat!($($doc),*).trim();
                json_schema!({ "type": "string", "enum": $name::names(), "description": description })
            }
        }
    };
}

named!(
    /// ios or android.
    PlatformName(Platform), "platform", [Platform::Ios, Platform::Android], Platform::as_str
);
named!(
    /// The model profile: the article's contract or what clerk-js 6 does.
    ProfileName(ProfileId), "profile", ProfileId::ALL, ProfileId::as_str
);
named!(
    /// A defect of the reference SDK (DESIGN.md §6.2).
    DefectName(Defect), "defect", Defect::ALL, Defect::as_str
);
named!(
    /// The SDK a defect-free variant runs on: `model` (the default), or `reference`, the
    /// reference SDK without defects in lockstep with the model, where a divergence fails.
    SdkName(SdkChoice), "sdk", SdkChoice::ALL, SdkChoice::as_str
);
named!(
    /// An invariant of the catalogue (DESIGN.md §8).
    InvariantName(InvariantId), "invariant", InvariantId::ALL, InvariantId::as_str
);
named!(
    /// A session task that keeps a session pending.
    TaskName(TaskKey), "task", TaskKey::ALL, TaskKey::as_str
);
named!(
    /// A FAPI endpoint, as faults target them.
    EndpointName(Endpoint), "endpoint", Endpoint::ALL, Endpoint::as_str
);
named!(
    /// One of the eight session statuses.
    StatusName(SessionStatus), "session status", SessionStatus::ALL, SessionStatus::as_str
);
named!(
    /// React Native's AppState (inactive exists on iOS only).
    AppStateName(AppState), "app state",
    [AppState::Active, AppState::Inactive, AppState::Background],
    |s| match s {
        AppState::Active => "active",
        AppState::Inactive => "inactive",
        AppState::Background => "background",
    }
);
named!(
    /// The device's network.
    NetworkName(Network), "network state", [Network::Online, Network::Offline, Network::Hanging],
    |n| n.as_str()
);

named!(
    /// A secure-storage operation: read, write or delete.
    StorageOpName(StorageOp), "storage operation", StorageOp::ALL, StorageOp::as_str
);
named!(
    /// What a storage fault does: throw (the promise rejects), hang (it never settles),
    /// garbage (a read returns, or a write stores, bytes that do not parse).
    StorageFaultKindName(StorageFaultKind), "storage fault kind", StorageFaultKind::ALL,
    StorageFaultKind::as_str
);
named!(
    /// What storage does with a value over the platform's item limit.
    LargeValuesName(LargeValues), "large-value behaviour", LargeValues::ALL, LargeValues::as_str
);
named!(
    /// A build of the native layer: `current`, or an older release's named behaviour.
    NativeVariantName(NativeVariant), "native variant", NativeVariant::ALL, NativeVariant::as_str
);
named!(
    /// An item of secure storage.
    StorageKeyName(StorageKey), "storage key", StorageKey::ALL, StorageKey::name
);
named!(
    /// What the server answers a superseded client token outside the reuse grace:
    /// `new_client` (Clerk) or `revoke_family` (reuse detection).
    ReusePolicyName(ReusePolicy), "token-reuse policy", ReusePolicy::ALL, ReusePolicy::as_str
);
named!(
    /// The keychain class of the token cache's items (iOS).
    KeychainAccessibleName(KeychainAccessible), "keychain class",
    [KeychainAccessible::AfterFirstUnlock, KeychainAccessible::WhenUnlocked],
    KeychainAccessible::as_str
);

/// A duration written with a unit: `250ms`, `30s`, `5m`, `2h`, `7d`, `1h30m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub u64);

const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$";

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration with a unit such as `250ms`, `30s`, `5m`, `2h` or `7d`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
                parse_duration(text).map(Duration).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "bad duration `{n}`: missing unit; expected e.g. `{n}s` or `{n}ms`"
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Duration, E> {
                Err(E::custom(format!("bad duration `{n}`: expected a unit such as `30s`")))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0))
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "a duration with a unit: 250ms, 30s, 5m, 2h, 7d, 1h30m"
        })
    }
}

/// A client-token reuse grace: a number of rotations (`64`) or a duration (`30s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReuseGraceSpec {
    Versions(u32),
    Window(Duration),
}

impl<'de> Deserialize<'de> for ReuseGraceSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ReuseGraceSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of rotations such as `64`, or a duration such as `30s`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ReuseGraceSpec, E> {
                parse_duration(text)
                    .map(|ms| ReuseGraceSpec::Window(Duration(ms)))
                    .map_err(|e| E::custom(format!("{e}; or a number of rotations such as `64`")))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<ReuseGraceSpec, E> {
                u32::try_from(n)
                    .map(ReuseGraceSpec::Versions)
                    .map_err(|_| E::custom(format!("bad grace `{n}`: too many rotations")))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<ReuseGraceSpec, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(format!("bad grace `{n}`: negative"))),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Serialize for ReuseGraceSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ReuseGraceSpec::Versions(n) => serializer.serialize_u32(*n),
            ReuseGraceSpec::Window(d) => d.serialize(serializer),
        }
    }
}

impl JsonSchema for ReuseGraceSpec {
    fn schema_name() -> Cow<'static, str> {
        "ReuseGrace".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "how long a superseded client token is still honoured: a number of rotations (64, Clerk's default) or a duration after its successor was minted (30s)",
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": DURATION_PATTERN }
            ]
        })
    }
}

/// The server's client-token reuse policy. Omitted fields keep Clerk's default: 64 rotations
/// of grace, then `new_client`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenReuseSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<ReusePolicyName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace: Option<ReuseGraceSpec>,
}

/// The instance's JWT templates by name: `{ supabase: { lifetime: 1h, claims: { role:
/// authenticated } } }`. Checked as it is read (names, lifetimes, claims, limits), so a
/// mistake is reported at the `templates` map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplatesSpec(pub Templates);

/// One template as written: its tokens' lifetime (default 60 s, as Clerk's) and its claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TemplateYaml {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lifetime: Option<Duration>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    claims: BTreeMap<String, String>,
}

impl<'de> Deserialize<'de> for TemplatesSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let written = BTreeMap::<TemplateName, TemplateYaml>::deserialize(deserializer)?;
        let specs = written
            .into_iter()
            .map(|(name, t)| {
                let lifetime_ms = t.lifetime.map_or(TemplateSpec::default_lifetime_ms(), |d| d.0);
                (name.to_string(), TemplateSpec { lifetime_ms, claims: t.claims })
            })
            .collect();
        Templates::from_specs(&specs).map(TemplatesSpec).map_err(serde::de::Error::custom)
    }
}

impl Serialize for TemplatesSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let written: BTreeMap<String, TemplateYaml> = self
            .0
            .to_specs()
            .into_iter()
            .map(|(name, spec)| {
                let yaml = TemplateYaml {
                    lifetime: Some(Duration(spec.lifetime_ms)),
                    claims: spec.claims,
                };
                (name, yaml)
            })
            .collect();
        written.serialize(serializer)
    }
}

impl JsonSchema for TemplatesSpec {
    fn schema_name() -> Cow<'static, str> {
        "Templates".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "JWT templates by name: the lifetime of their tokens (30s ..= 10 years, default 60s) and their custom claims (strings; not the claims the server sets itself)",
            "type": "object",
            "maxProperties": TEMPLATES_MAX,
            "propertyNames": { "pattern": TEMPLATE_NAME_PATTERN },
            "additionalProperties": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "lifetime": { "type": "string", "pattern": DURATION_PATTERN },
                    "claims": {
                        "type": "object",
                        "maxProperties": TEMPLATE_CLAIMS_MAX,
                        "propertyNames": {
                            "pattern": "^[A-Za-z0-9_.:/-]{1,32}$",
                            "not": { "enum": RESERVED_CLAIMS }
                        },
                        "additionalProperties": { "type": "string", "maxLength": CLAIM_VALUE_LEN_MAX }
                    }
                }
            }
        })
    }
}

/// A signed duration: how far the device clock is ahead of the server's, `5m`, or behind it,
/// `-5m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skew(pub i64);

const SKEW_PATTERN: &str = r"^-?([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$";

impl<'de> Deserialize<'de> for Skew {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Skew;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration with a unit, `-` for behind: `5m`, `-90s`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Skew, E> {
                let (sign, magnitude) = match text.trim().strip_prefix('-') {
                    Some(rest) => (-1, rest),
                    None => (1, text),
                };
                let ms = parse_duration(magnitude).map_err(E::custom)?;
                // Durations are bounded far below i64::MAX, so the cast is exact.
                Ok(Skew(sign * ms.min(i64::MAX as u64) as i64))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Skew, E> {
                Err(E::custom(format!("bad clock skew `{n}`: missing unit; expected e.g. `{n}s`")))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Skew, E> {
                Err(E::custom(format!("bad clock skew `{n}`: missing unit; expected e.g. `{n}s`")))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl Serialize for Skew {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::model::vocab::format_skew(self.0))
    }
}

impl JsonSchema for Skew {
    fn schema_name() -> Cow<'static, str> {
        "Skew".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": SKEW_PATTERN,
            "description": "a duration with a unit, `-` for behind: 5m, -90s, 0s"
        })
    }
}

/// A duration, or `off` for a limit that is switched off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit(pub Option<u64>);

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Limit;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration such as `7d`, or `off`")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Limit, E> {
                if text == "off" {
                    return Ok(Limit(None));
                }
                parse_duration(text).map(|ms| Limit(Some(ms))).map_err(E::custom)
            }
            // `off` is a YAML 1.1 boolean: accept it (and only the false spelling) as such.
            fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<Limit, E> {
                if on {
                    Err(E::custom(
                        "a limit cannot be `true`; give a duration such as `7d`, or `off`",
                    ))
                } else {
                    Ok(Limit(None))
                }
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl Serialize for Limit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(ms) => serializer.serialize_str(&format_duration(ms)),
            None => serializer.serialize_str("off"),
        }
    }
}

impl JsonSchema for Limit {
    fn schema_name() -> Cow<'static, str> {
        "Limit".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // YAML reads a bare `off` as the boolean false, and the tool accepts it as such.
        json_schema!({
            "anyOf": [
                { "type": "string", "pattern": format!("^off$|{DURATION_PATTERN}") },
                { "const": false }
            ],
            "description": "a duration such as 7d, or off"
        })
    }
}

/// A `seed:` value: kept as written, refused here if [`crate::sim::parse_seed`] refuses it.
fn deserialize_seed<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(deserializer)?;
    crate::sim::parse_seed(&text).map_err(serde::de::Error::custom)?;
    Ok(Some(text))
}

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "session-harness scenario",
    description = "the scenario format: docs/scenarios.md"
)]
pub struct ScenarioFile {
    /// The format version; only 1 exists.
    pub schema_version: Located<u32>,
    /// The scenario's path under `scenarios/` without `.yaml`, e.g. `offline/get-token-throws`.
    pub name: String,
    /// What the scenario shows, in a sentence or two.
    pub description: String,
    /// Where the behaviour comes from: a URL, an article section, or a seed file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// For an exported counterexample: the generator seed it came from (`0x…`).
    // Checked while parsing (not later) so that a bad seed is reported at its line and
    // column.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "deserialize_seed"
    )]
    pub seed: Option<String>,
    pub setup: SetupSpec,
    /// Named variants, each overriding some setup fields. Without variants the scenario has
    /// one variant called `default`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variants: BTreeMap<String, Located<VariantSpec>>,
    /// The steps, in order; virtual time moves only with `advance`.
    pub steps: Vec<Located<StepSpec>>,
    /// Per variant: invariants that must break and those that must hold. A variant not
    /// named here must hold every invariant.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expect: BTreeMap<String, Located<VariantExpect>>,
}

/// Where the SDK keeps the client token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenCacheName {
    /// `@clerk/expo/token-cache` on expo-secure-store: survives restarts.
    SecureStore,
    /// No `tokenCache` prop: lost with the process.
    Memory,
}

/// The Clerk instance's session options. Omitted fields keep Clerk's defaults (60 s tokens,
/// 7 d lifetime, no inactivity timeout, single session, no session minter, Clerk's
/// client-token reuse policy).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token_ttl: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lifetime: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactivity_timeout: Option<Limit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_session: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_minter: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_reuse: Option<TokenReuseSpec>,
    /// JWT templates `get_token: { template: NAME }` can name; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<TemplatesSpec>,
}

/// Round-trip latencies of the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fapi_latency: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_latency: Option<Duration>,
    /// Whether a connectivity listener hears the current state when it subscribes; default
    /// true. `false`: it reports changes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity_initial: Option<bool>,
}

/// The world a scenario runs in.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupSpec {
    pub platform: PlatformName,
    pub profile: ProfileName,
    /// Default `secure_store`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_cache: Option<TokenCacheName>,
    /// `__experimental_resourceCache`; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_cache: Option<bool>,
    /// The `ClerkExpo` native module is present (the app ships `@clerk/expo`'s config
    /// plugin): JS configures the native layer and hears its sign-ins; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<bool>,
    /// Which build of the native layer runs with `native: true`: `current` (the default),
    /// `stale_token_refresh` (3.4.5–4.0.2's refresh with the in-memory client's token) or
    /// `wiped_client_never_loads` (the seed report's iOS build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_variant: Option<NativeVariantName>,
    /// `useAuth({ treatPendingAsSignedOut })`; default true, as in Clerk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_pending_as_signed_out: Option<bool>,
    /// The keychain class of the token cache's items; default `after_first_unlock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keychain_accessible: Option<KeychainAccessibleName>,
    /// How late every AppState event reaches JS; default `0s`, at most `1m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_state_delay: Option<Duration>,
    /// What secure storage does with a value over the platform's item limit: `truncate`,
    /// `throw`, `fail_on_read`, `store`; default: `truncate` on iOS, `store` on Android.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_values: Option<LargeValuesName>,
    /// SDK instances in the app over one secure storage; default 1, at most 4. Instance 0
    /// is the UI; steps reach the others with `instance: { n: 1, step: … }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Located<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Located<InstanceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<Located<NetSpec>>,
    /// Defects switched on in the reference SDK; a run with defects needs the reference SDK.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defects: Vec<DefectName>,
    /// The SDK a defect-free variant runs on: `model` (the default) or `reference` (the
    /// defect-free reference SDK in lockstep with the model). Not with `defects`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<Located<SdkName>>,
}

/// A variant: the setup with some fields overridden. `instance` and `net` merge field by
/// field; `defects` replaces the setup's list; `sdk` replaces the setup's.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_cache: Option<TokenCacheName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_cache: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_variant: Option<NativeVariantName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_pending_as_signed_out: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keychain_accessible: Option<KeychainAccessibleName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_state_delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_values: Option<LargeValuesName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<Located<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Located<InstanceSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net: Option<Located<NetSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defects: Option<Vec<DefectName>>,
    /// `model` or `reference` for this variant; not with defects, its own or the setup's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<Located<SdkName>>,
}

/// Which invariants a variant must hold besides those it must break.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holds {
    /// Nothing but the `violates` list may break.
    All,
    /// Only these are checked to hold; others may break or not.
    Only(Vec<InvariantName>),
}

impl<'de> Deserialize<'de> for Holds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Holds;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`all` or a list of invariants")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Holds, E> {
                if text == "all" {
                    Ok(Holds::All)
                } else {
                    Err(E::custom(format!(
                        "bad `holds` value `{text}`; expected `all` or a list of invariants"
                    )))
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Holds, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<InvariantName>()? {
                    ids.push(id);
                }
                Ok(Holds::Only(ids))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Serialize for Holds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Holds::All => serializer.serialize_str("all"),
            Holds::Only(ids) => ids.serialize(serializer),
        }
    }
}

impl JsonSchema for Holds {
    fn schema_name() -> Cow<'static, str> {
        "Holds".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let list = generator.subschema_for::<Vec<InvariantName>>();
        json_schema!({
            "description": "`all`, or the invariants that must hold",
            "anyOf": [ { "const": "all" }, list ]
        })
    }
}

/// What a variant's run must show.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantExpect {
    /// Invariants that must break (a scenario expecting a violation passes when it happens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violates: Vec<InvariantName>,
    /// `all` (the default): nothing else may break; or a list of invariants that must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds: Option<Holds>,
}

/// A step without parameters (`kill: {}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInSpec {
    /// Sign in into a pending session with this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskName>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetTokenSpec {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_cache: bool,
    /// A token of this JWT template of the instance (`instance: { templates: … }`), cached
    /// apart from the session token. A name the instance lacks is answered 404.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateName>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PathSpec {
    /// An app path such as `/checkout`.
    pub path: String,
}

/// The kind of a scripted FAPI fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKindName {
    /// A 5xx answer (`status`, default 503).
    ServerError,
    /// 429 with `retry_after`.
    RateLimited,
    /// 401 `authentication_invalid`.
    Unauthorized,
    /// 422 `missing_expired_token` (token requests only).
    MissingExpiredToken,
    /// The connection drops before the server sees the request.
    DropBeforeCommit,
    /// The server applies the request, then the connection drops.
    DropAfterCommit,
    /// The request takes `latency` end to end.
    Latency,
}

/// A fault for the next `count` FAPI requests (optionally only those to one endpoint).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultStep {
    pub kind: FaultKindName,
    /// How many requests it applies to; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<EndpointName>,
    /// `server_error` only: the 5xx status; default 503.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `rate_limited` only: the `Retry-After` the server sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Duration>,
    /// `latency` only: how long the request takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Duration>,
}

/// A fault for the SDK's next `count` secure-storage operations of one kind.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageFaultStep {
    pub op: StorageOpName,
    pub kind: StorageFaultKindName,
    /// How many operations it applies to; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Only operations on this item (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<StorageKeyName>,
}

named!(
    /// What an app-state fault does: drop, duplicate, reorder, delay.
    AppStateFaultKindName(AppStateFaultName), "app-state fault kind", AppStateFaultName::ALL,
    AppStateFaultName::as_str
);

/// The kinds of [`crate::model::vocab::AppStateFaultKind`] by name (`delay` takes its
/// duration from the step's `delay`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AppStateFaultName {
    Drop,
    Duplicate,
    Reorder,
    Delay,
}

impl AppStateFaultName {
    pub const ALL: [AppStateFaultName; 4] = [
        AppStateFaultName::Drop,
        AppStateFaultName::Duplicate,
        AppStateFaultName::Reorder,
        AppStateFaultName::Delay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AppStateFaultName::Drop => "drop",
            AppStateFaultName::Duplicate => "duplicate",
            AppStateFaultName::Reorder => "reorder",
            AppStateFaultName::Delay => "delay",
        }
    }
}

/// `app_state_fault:` a fault for the AppState events of the next app-state changes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppStateFaultStep {
    pub kind: AppStateFaultKindName,
    /// For `delay` (required there, refused elsewhere): how late the event is heard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// How many app-state changes it applies to; default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

/// `isSignedIn`: `true`, `false` or `undefined`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedIn(pub Option<bool>);

impl<'de> Deserialize<'de> for SignedIn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SignedIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`true`, `false` or `undefined`")
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<SignedIn, E> {
                Ok(SignedIn(Some(b)))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<SignedIn, E> {
                match text {
                    "undefined" => Ok(SignedIn(None)),
                    "true" => Ok(SignedIn(Some(true))),
                    "false" => Ok(SignedIn(Some(false))),
                    other => Err(E::custom(format!(
                        "bad `signed_in` value `{other}`; expected `true`, `false` or `undefined`"
                    ))),
                }
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Serialize for SignedIn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(b) => serializer.serialize_bool(b),
            None => serializer.serialize_str("undefined"),
        }
    }
}

impl JsonSchema for SignedIn {
    fn schema_name() -> Cow<'static, str> {
        "SignedIn".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "anyOf": [ { "type": "boolean" }, { "const": "undefined" } ] })
    }
}

/// The screen the app shell shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteName {
    Closed,
    Loading,
    SignIn,
    Protected,
    Task,
}

impl RouteName {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteName::Closed => "closed",
            RouteName::Loading => "loading",
            RouteName::SignIn => "sign_in",
            RouteName::Protected => "protected",
            RouteName::Task => "task",
        }
    }
}

/// The SDK's session as `useSession` shows it: a status, or `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatusOrNone {
    None,
    Active,
    Pending,
    Ended,
    Expired,
    Removed,
    Abandoned,
    Replaced,
    Revoked,
}

impl SessionStatusOrNone {
    pub fn status(self) -> Option<SessionStatus> {
        match self {
            SessionStatusOrNone::None => None,
            SessionStatusOrNone::Active => Some(SessionStatus::Active),
            SessionStatusOrNone::Pending => Some(SessionStatus::Pending),
            SessionStatusOrNone::Ended => Some(SessionStatus::Ended),
            SessionStatusOrNone::Expired => Some(SessionStatus::Expired),
            SessionStatusOrNone::Removed => Some(SessionStatus::Removed),
            SessionStatusOrNone::Abandoned => Some(SessionStatus::Abandoned),
            SessionStatusOrNone::Replaced => Some(SessionStatus::Replaced),
            SessionStatusOrNone::Revoked => Some(SessionStatus::Revoked),
        }
    }
}

/// A call kind, as `last_call` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallKindName {
    Load,
    GetToken,
    ApiCall,
    SignIn,
    SignOut,
    SessionEnd,
    SessionRemove,
    CompleteTask,
    SetActive,
    ForegroundRefresh,
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallResultName {
    /// Not settled yet.
    Pending,
    /// A session token.
    Token,
    /// `getToken` returned null.
    Null,
    Ok,
    Error,
    Killed,
}

/// The most recent call of a kind: how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LastCallSpec {
    pub kind: CallKindName,
    pub result: CallResultName,
    /// For errors: the HTTP status (0 for a network error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For errors: the Clerk error code, e.g. `network_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// An observation check after the previous step. Every field is optional; only the fields
/// given are compared. Counters (`token_requests`, `backend_statuses`, `signed_out`) cover
/// the steps since the previous `expect` (or the start).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    /// Check only in these variants (default: every variant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<String>>,
    /// Check in every variant but these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except: Option<Vec<String>>,
    /// `eventually` only: the window in which the fields must match once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Duration>,
    /// `never` only: the window in which the fields must never all match (default: the rest
    /// of the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub during: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteName>,
    /// The protected screen's path (implies `route: protected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The sign-in screen's `returnTo` (implies `route: sign_in`); `none` for no returnTo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// The task screen's task (implies `route: task`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskName>,
    /// `isLoaded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loaded: Option<bool>,
    /// `isSignedIn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in: Option<SignedIn>,
    /// The session's status as the SDK shows it, or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_status: Option<SessionStatusOrNone>,
    /// The server's truth about the device client's latest session, or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_status: Option<SessionStatusOrNone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_state: Option<AppStateName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkName>,
    /// FAPI and backend requests in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_flight: Option<u32>,
    /// Calls not yet settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_calls: Option<u32>,
    /// Token requests sent since the previous `expect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_requests: Option<u32>,
    /// Statuses the app's backend answered since the previous `expect`, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_statuses: Option<Vec<u16>>,
    /// Whether the SDK dropped its signed-in state since the previous `expect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_out: Option<bool>,
    /// Whether the stored client token would restore a signed-in session now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_restores: Option<bool>,
    /// Whether the SDK could read its stored client token now (no lock, fault or
    /// undecryptable item in the way).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_readable: Option<bool>,
    /// The most recent call of a kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_call: Option<LastCallSpec>,
}

/// A step addressed to one SDK instance.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceStep {
    /// The instance: 0 (the UI) up to the setup's `instances` less one.
    pub n: u32,
    /// The event, as a step of its own: `{ sign_out: {} }`.
    pub step: Box<Located<StepSpec>>,
}

/// One step of a scenario: an event, a group of concurrent events, or a check.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StepSpec {
    /// Let virtual time pass: `advance: 30s`.
    Advance(Duration),
    /// Launch the app process.
    ColdStart(Empty),
    /// Force-quit the app; storage survives.
    Kill(Empty),
    /// Reload the JS runtime only.
    JsReload(Empty),
    /// Uninstall and reinstall (iOS keeps keychain items, Android clears them).
    Reinstall(Empty),
    /// `app_state: background`
    AppState(AppStateName),
    /// `network: offline`
    Network(NetworkName),
    /// Sign in; with `task`, into a pending session.
    SignIn(SignInSpec),
    /// The native sign-in UI (`<AuthView>`) completes (needs `native: true`).
    NativeSignIn(Empty),
    CompleteTask(Empty),
    /// `getToken({ skipCache })`
    GetToken(GetTokenSpec),
    /// A call to the app's protected API through its wrapper.
    ApiCall(PathSpec),
    Navigate(PathSpec),
    /// `session.end()`
    SessionEnd(Empty),
    /// `session.remove()`
    SessionRemove(Empty),
    /// `clerk.signOut()`
    SignOut(Empty),
    SetActive(Empty),
    /// Server side: the backend revokes the session.
    Revoke(Empty),
    /// Server side: the session reaches its maximum lifetime now.
    ExpireNow(Empty),
    /// Server side: the inactivity timeout is reached now.
    AbandonNow(Empty),
    /// Server side: another session takes over.
    Replace(Empty),
    /// Script a FAPI fault.
    Fault(FaultStep),
    /// Script a secure-storage fault.
    StorageFault(StorageFaultStep),
    /// The AppState events of the next app-state changes reach JS wrong: `app_state_fault:
    /// { kind: drop|duplicate|reorder|delay, delay: 2s, count: 1 }`.
    AppStateFault(AppStateFaultStep),
    /// Drop every scripted FAPI and storage fault not yet consumed.
    ClearFaults(Empty),
    /// The user locks the device (a foreground app goes to the background).
    LockDevice(Empty),
    /// The user unlocks the device.
    UnlockDevice(Empty),
    /// The device restarts: the app dies; nothing is unlocked until `unlock_device`.
    Reboot(Empty),
    /// The OS runs the app's JS in the background for a while: `background_wake: 30s`.
    BackgroundWake(Duration),
    /// The app comes back from a backup (Android: its items without their key).
    RestoreBackup(Empty),
    /// The device sleeps: the wall clock runs, JS timers stop and fire late by the sleep's
    /// length: `device_sleep: 30m`.
    DeviceSleep(Duration),
    /// The device clock is set ahead of the server's (`5m`) or behind it (`-5m`), or back
    /// in step (`0s`): `clock_skew: -5m`.
    ClockSkew(Skew),
    /// An SDK-facing event addressed to SDK instance `n` (`instances:` in the setup):
    /// `instance: { n: 1, step: { get_token: {} } }`. Instance 0 is the UI, which every plain
    /// step reaches; the step is one of `sign_in`, `complete_task`, `get_token`, `api_call`,
    /// `session_end`, `session_remove`, `sign_out`, `set_active`.
    Instance(InstanceStep),
    /// Events issued at the same instant, all in flight together.
    Concurrently(Vec<Located<StepSpec>>),
    /// Check what the world shows after the previous step.
    Expect(ExpectSpec),
    /// A check that must match at the end of the previous step or of a later one within
    /// `within`: `eventually: { within: 30s, route: protected }`.
    Eventually(ExpectSpec),
    /// A check whose fields must never all match at the end of the previous step or of a
    /// later one within `during` (or to the end): `never: { during: 5m, route: sign_in }`.
    Never(ExpectSpec),
}

impl StepSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            StepSpec::Concurrently(_) => "concurrently",
            StepSpec::Instance(_) => "instance",
            StepSpec::Expect(_) => "expect",
            StepSpec::Eventually(_) => "eventually",
            StepSpec::Never(_) => "never",
            StepSpec::Advance(_) => "advance",
            StepSpec::ColdStart(_) => "cold_start",
            StepSpec::Kill(_) => "kill",
            StepSpec::JsReload(_) => "js_reload",
            StepSpec::Reinstall(_) => "reinstall",
            StepSpec::AppState(_) => "app_state",
            StepSpec::Network(_) => "network",
            StepSpec::SignIn(_) => "sign_in",
            StepSpec::NativeSignIn(_) => "native_sign_in",
            StepSpec::CompleteTask(_) => "complete_task",
            StepSpec::GetToken(_) => "get_token",
            StepSpec::ApiCall(_) => "api_call",
            StepSpec::Navigate(_) => "navigate",
            StepSpec::SessionEnd(_) => "session_end",
            StepSpec::SessionRemove(_) => "session_remove",
            StepSpec::SignOut(_) => "sign_out",
            StepSpec::SetActive(_) => "set_active",
            StepSpec::Revoke(_) => "revoke",
            StepSpec::ExpireNow(_) => "expire_now",
            StepSpec::AbandonNow(_) => "abandon_now",
            StepSpec::Replace(_) => "replace",
            StepSpec::Fault(_) => "fault",
            StepSpec::StorageFault(_) => "storage_fault",
            StepSpec::AppStateFault(_) => "app_state_fault",
            StepSpec::ClearFaults(_) => "clear_faults",
            StepSpec::LockDevice(_) => "lock_device",
            StepSpec::UnlockDevice(_) => "unlock_device",
            StepSpec::Reboot(_) => "reboot",
            StepSpec::BackgroundWake(_) => "background_wake",
            StepSpec::RestoreBackup(_) => "restore_backup",
            StepSpec::DeviceSleep(_) => "device_sleep",
            StepSpec::ClockSkew(_) => "clock_skew",
        }
    }
}
