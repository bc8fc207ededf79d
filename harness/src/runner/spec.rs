//! `--sdk SPEC`: which system a command drives.
//!
//! - `model`: the pure model itself (the oracle; useful for campaigns over the rules);
//! - `reference`: the embedded reference SDK, defect-free;
//! - `reference+DEFECT[+DEFECT…]`: the reference SDK with defects switched on;
//! - `clerk-js@VERSION`: the real `@clerk/clerk-js` through its Node adapter;
//! - `cmd:COMMAND`: any adapter speaking the adapter protocol on stdin/stdout.

use std::fmt;

use crate::model::vocab::Defect;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SdkSpec {
    Model,
    Reference { defects: Vec<Defect> },
    ClerkJs { version: String },
    Command { command: String },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error(
        "unknown SDK `{0}`; accepted: `model`, `reference`, `reference+DEFECT`, \
         `clerk-js@VERSION`, `cmd:COMMAND`"
    )]
    Unknown(String),
    #[error("unknown defect `{defect}` in `{spec}`; known defects: {known}")]
    UnknownDefect { spec: String, defect: String, known: String },
    #[error("`{0}` names no version; write e.g. `clerk-js@6.40.0`")]
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
        if let Some(rest) = text.strip_prefix("clerk-js") {
            let version =
                rest.strip_prefix('@').ok_or_else(|| SpecError::MissingVersion(text.into()))?;
            let valid = !version.is_empty()
                && version.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
                && version.starts_with(|c: char| c.is_ascii_digit())
                && version.matches('-').count() <= 1;
            if !valid {
                return Err(SpecError::BadVersion { spec: text.into(), version: version.into() });
            }
            return Ok(SdkSpec::ClerkJs { version: version.to_string() });
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
            SdkSpec::ClerkJs { version } => write!(f, "clerk-js@{version}"),
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
            "cmd:node adapter.js",
        ] {
            let spec = SdkSpec::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(spec.to_string(), text);
        }
    }

    #[test]
    fn rejects_bad_specs_with_what_is_accepted() {
        let cases = [
            ("referee", "accepted"),
            ("reference+nope", "known defects"),
            ("clerk-js", "names no version"),
            ("clerk-js@latest", "bad version"),
            ("cmd:", "needs a command"),
            ("", "accepted"),
        ];
        for (text, needle) in cases {
            let err = SdkSpec::parse(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
