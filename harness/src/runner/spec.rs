//! `--sdk SPEC`: which system a command drives.
//!
//! - `model`: the pure model itself (the oracle; useful for campaigns over the rules);
//! - `reference`: the embedded reference SDK, defect-free;
//! - `reference+DEFECT[+DEFECT…]`: the reference SDK with defects switched on;
//! - `clerk-js@VERSION`: the real `@clerk/clerk-js` through its Node adapter;
//! - `clerk-expo@VERSION`: the real `@clerk/expo` (its JS layer under React) through its
//!   Node adapter;
//! - `cmd:COMMAND`: any adapter speaking the adapter protocol on stdin/stdout.
//!
//! The two npm packages are one variant, [`SdkSpec::Npm`], told apart by [`NpmSdk`]: what
//! differs between them (package name, adapter folder) is data on `NpmSdk`, so parsing,
//! labels, installs and gating are written once.

use std::fmt;

use crate::model::vocab::Defect;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SdkSpec {
    Model,
    Reference {
        defects: Vec<Defect>,
    },
    /// A published npm package at a version, driven by its adapter under `adapters/`.
    Npm {
        sdk: NpmSdk,
        version: String,
    },
    Command {
        command: String,
    },
}

/// The npm packages the harness ships an adapter for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpmSdk {
    /// `@clerk/clerk-js`: `adapters/clerk-js/`.
    ClerkJs,
    /// `@clerk/expo`: `adapters/clerk-expo/`.
    ClerkExpo,
}

impl NpmSdk {
    pub const ALL: [NpmSdk; 2] = [NpmSdk::ClerkJs, NpmSdk::ClerkExpo];

    /// The spec's and the label's prefix: `clerk-js`, `clerk-expo`.
    pub fn prefix(self) -> &'static str {
        match self {
            NpmSdk::ClerkJs => "clerk-js",
            NpmSdk::ClerkExpo => "clerk-expo",
        }
    }

    /// The npm package name.
    pub fn package(self) -> &'static str {
        match self {
            NpmSdk::ClerkJs => "@clerk/clerk-js",
            NpmSdk::ClerkExpo => "@clerk/expo",
        }
    }

    /// The label traces, snapshots and findings use: `clerk-js@6.40.0`.
    pub fn label(self, version: &str) -> String {
        format!("{}@{version}", self.prefix())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "unknown SDK `{0}`; accepted: `model`, `reference`, `reference+DEFECT`, \
         `clerk-js@VERSION`, `clerk-expo@VERSION`, `cmd:COMMAND`"
    )]
    Unknown(String),
    #[error("unknown defect `{defect}` in `{spec}`; known defects: {known}")]
    UnknownDefect { spec: String, defect: String, known: String },
    #[error("`{0}` names no version; write e.g. `clerk-js@6.40.0` or `clerk-expo@3.2.8`")]
    MissingVersion(String),
    #[error("bad version `{version}` in `{spec}`: use digits, dots and at most one `-tag`")]
    BadVersion { spec: String, version: String },
    #[error("`cmd:` needs a command, e.g. `cmd:node my-adapter.js`")]
    MissingCommand,
}

impl SdkSpec {
    pub fn parse(text: &str) -> Result<SdkSpec, SpecError> {
        let text = text.trim();
        if text == "model" {
            return Ok(SdkSpec::Model);
        }
        if let Some(rest) = text.strip_prefix("reference") {
            let mut defects = Vec::new();
            for part in rest.split('+').skip(1) {
                let defect = Defect::parse(part).ok_or_else(|| SpecError::UnknownDefect {
                    spec: text.to_string(),
                    defect: part.to_string(),
                    known: Defect::ALL.map(|d| d.as_str()).join(", "),
                })?;
                if !defects.contains(&defect) {
                    defects.push(defect);
                }
            }
            if !rest.is_empty() && !rest.starts_with('+') {
                return Err(SpecError::Unknown(text.to_string()));
            }
            return Ok(SdkSpec::Reference { defects });
        }
        for sdk in NpmSdk::ALL {
            let Some(rest) = text.strip_prefix(sdk.prefix()) else { continue };
            if !rest.is_empty() && !rest.starts_with('@') {
                continue;
            }
            let version =
                rest.strip_prefix('@').ok_or_else(|| SpecError::MissingVersion(text.into()))?;
            let valid = !version.is_empty()
                && version.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                && version.starts_with(|c: char| c.is_ascii_digit())
                && version.matches('-').count() <= 1;
            if !valid {
                return Err(SpecError::BadVersion { spec: text.into(), version: version.into() });
            }
            return Ok(SdkSpec::Npm { sdk, version: version.to_string() });
        }
        if let Some(command) = text.strip_prefix("cmd:") {
            if command.trim().is_empty() {
                return Err(SpecError::MissingCommand);
            }
            return Ok(SdkSpec::Command { command: command.trim().to_string() });
        }
        Err(SpecError::Unknown(text.to_string()))
    }
}

impl fmt::Display for SdkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SdkSpec::Model => f.write_str("model"),
            SdkSpec::Reference { defects } => {
                f.write_str("reference")?;
                for d in defects {
                    write!(f, "+{d}")?;
                }
                Ok(())
            }
            SdkSpec::Npm { sdk, version } => f.write_str(&sdk.label(version)),
            SdkSpec::Command { command } => write!(f, "cmd:{command}"),
        }
    }
}

impl std::str::FromStr for SdkSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SdkSpec::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_round_trips() {
        for text in [
            "model",
            "reference",
            "reference+no-single-flight",
            "reference+ios-native-cache-wipe+stale-timer-logout",
            "clerk-js@6.40.0",
            "clerk-js@5.128.0",
            "clerk-expo@3.2.7",
            "clerk-expo@3.2.8",
            "cmd:node adapter.js",
        ] {
            let spec = SdkSpec::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(spec.to_string(), text);
        }
    }

    #[test]
    fn npm_specs_name_their_package() {
        let expo = SdkSpec::parse("clerk-expo@3.2.7").expect("a valid spec");
        assert_eq!(expo, SdkSpec::Npm { sdk: NpmSdk::ClerkExpo, version: "3.2.7".into() });
        let js = SdkSpec::parse("clerk-js@6.40.0").expect("a valid spec");
        assert_eq!(js, SdkSpec::Npm { sdk: NpmSdk::ClerkJs, version: "6.40.0".into() });
        assert_eq!(NpmSdk::ClerkExpo.package(), "@clerk/expo");
    }

    #[test]
    fn rejects_bad_specs_with_what_is_accepted() {
        let cases = [
            ("referee", "accepted"),
            ("reference+nope", "known defects"),
            ("clerk-js", "names no version"),
            ("clerk-js@latest", "bad version"),
            ("clerk-expo", "names no version"),
            ("clerk-expo@next", "bad version"),
            ("clerk-jsx@1.0.0", "accepted"),
            ("cmd:", "needs a command"),
            ("", "accepted"),
        ];
        for (text, needle) in cases {
            let err = SdkSpec::parse(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
