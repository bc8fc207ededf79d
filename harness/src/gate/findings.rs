//! Findings: what a real SDK is known to do that breaks an invariant or differs from the
//! model, recorded with the scenario that shows it and the reason it is accepted.
//!
//! `findings.yaml` at the repository root is the one list. The gate accepts a failure only
//! when a finding names its SDK, scenario, variant and exactly what broke (an invariant, or
//! the observation field of a divergence) *and* the SDK's trace shows the finding's
//! mechanism ([`super::mechanism`]): a different bug breaking the same invariant is refused,
//! also in generated cases (`fuzz`); anything else still fails. The README's findings
//! table is rendered from the same list ([`readme_table`]) and a test keeps the two equal, so
//! a finding cannot be recorded without being shown to users.
//!
//! A third-party SDK keeps its own list outside the harness (`cargo xtask gate --findings
//! FILE`), in the same format, naming its SDK by the `sdk@version` label its adapter's hello
//! announces; [`Findings::parse`] records which file a list came from, so a failure names it.

use serde::Deserialize;

use super::mechanism::{Mechanism, Pattern};
use crate::invariants::InvariantId;
use crate::runner::lockstep::{LockstepOutcome, Verdict as Lockstep};

/// The parsed `findings.yaml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Findings {
    pub findings: Vec<Finding>,
    /// The file the list was read from, as the user named it (`findings.yaml`).
    #[serde(skip)]
    pub source: Option<String>,
}

/// One recorded behaviour of a real SDK.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Short, stable name: `clerk-js-429-ignores-retry-after`.
    pub id: String,
    /// The SDK labels it applies to, each one label or its prefix up to a `.`: `clerk-js@6`
    /// covers `clerk-js@6.40.0`, `clerk-js@6.40.0` only that version. One label or a list
    /// (`[clerk-js@6, clerk-expo@3]`: the same engine inside two packages).
    #[serde(deserialize_with = "one_or_many")]
    pub sdk: Vec<String>,
    /// The scenarios that show it (`errors/rate-limited`), and `fuzz` for generated cases.
    pub scenarios: Vec<String>,
    /// Variants it applies to; empty: every variant of the scenario.
    #[serde(default)]
    pub variants: Vec<String>,
    /// What breaks: an invariant the SDK's trace violates …
    #[serde(default)]
    pub invariant: Option<String>,
    /// … or the observation field where the SDK first differs from the model (`view`,
    /// `server`, `device`, `open_calls`, `in_flight`, `happenings`, `clock`).
    #[serde(default)]
    pub divergence: Option<String>,
    /// What it accepts, precisely: the mechanism that marks it in the SDK's trace
    /// (required; [`super::mechanism`]).
    #[serde(default)]
    pub mechanism: Option<Mechanism>,
    /// One line for the README table: what the SDK does.
    pub title: String,
    /// Why this is the real behaviour and not a harness bug: the evidence.
    pub reason: String,
}

/// Why `findings.yaml` cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FindingsError {
    #[error("{file}: {message}")]
    Yaml { file: String, message: String },
    #[error(
        "{file}: finding `{id}` must name exactly one of `invariant` (what breaks) or \
         `divergence` (where the SDK differs from the model)"
    )]
    WhatBreaks { file: String, id: String },
    #[error("{file}: finding `{id}` names unknown invariant `{name}`; known: {known}")]
    UnknownInvariant { file: String, id: String, name: String, known: String },
    #[error("{file}: finding `{id}` names unknown divergence field `{name}`; accepted: {accepted}")]
    UnknownField { file: String, id: String, name: String, accepted: String },
    #[error(
        "{file}: finding `{id}` names no scenario; list the scenarios that show it (or `fuzz`)"
    )]
    NoScenario { file: String, id: String },
    #[error("{file}: finding id `{id}` is used twice")]
    DuplicateId { file: String, id: String },
    #[error(
        "{file}: finding `{id}` names no mechanism; add `mechanism: {{ what: …, pattern: … }}` \
         (patterns: overlapping_requests, retry_before_retry_after, answer_after_sign_out, \
         expired_token_after_suspension, waits_for_failed_load, terminal_unheard, \
         switch_drops_session, switch_after_sign_out, sequence, divergence)"
    )]
    NoMechanism { file: String, id: String },
    #[error("{file}: finding `{id}`: mechanism: {message}")]
    BadMechanism { file: String, id: String, message: String },
}

/// The observation fields a divergence can name.
pub const DIVERGENCE_FIELDS: [&str; 9] = [
    "view",
    "requests",
    "storage",
    "happenings",
    "open_calls",
    "in_flight",
    "device",
    "server",
    "clock",
];

/// What failed in one run, in the terms findings use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Breakage {
    Invariant(InvariantId),
    Divergence(&'static str),
}

impl std::fmt::Display for Breakage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Breakage::Invariant(id) => write!(f, "invariant `{id}`"),
            Breakage::Divergence(field) => write!(f, "divergence in `{field}`"),
        }
    }
}

impl Findings {
    /// Parses and checks `text`; `file` is how errors name it.
    pub fn parse(file: &str, text: &str) -> Result<Findings, FindingsError> {
        let options = serde_saphyr::options! {
            duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        };
        let mut findings: Findings = serde_saphyr::from_str_with_options(text, options)
            .map_err(|e| FindingsError::Yaml { file: file.to_string(), message: e.to_string() })?;
        findings.source = Some(file.to_string());
        let mut seen = std::collections::BTreeSet::new();
        for f in &findings.findings {
            if !seen.insert(f.id.as_str()) {
                return Err(FindingsError::DuplicateId { file: file.into(), id: f.id.clone() });
            }
            if f.scenarios.is_empty() {
                return Err(FindingsError::NoScenario { file: file.into(), id: f.id.clone() });
            }
            match (&f.invariant, &f.divergence) {
                (Some(name), None) => {
                    if InvariantId::parse(name).is_none() {
                        return Err(FindingsError::UnknownInvariant {
                            file: file.into(),
                            id: f.id.clone(),
                            name: name.clone(),
                            known: InvariantId::ALL
                                .iter()
                                .map(|i| i.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                        });
                    }
                }
                (None, Some(name)) => {
                    if !DIVERGENCE_FIELDS.contains(&name.as_str()) {
                        return Err(FindingsError::UnknownField {
                            file: file.into(),
                            id: f.id.clone(),
                            name: name.clone(),
                            accepted: DIVERGENCE_FIELDS.join(", "),
                        });
                    }
                }
                _ => return Err(FindingsError::WhatBreaks { file: file.into(), id: f.id.clone() }),
            }
            let Some(mechanism) = &f.mechanism else {
                return Err(FindingsError::NoMechanism { file: file.into(), id: f.id.clone() });
            };
            let bad = |message: String| FindingsError::BadMechanism {
                file: file.into(),
                id: f.id.clone(),
                message,
            };
            mechanism.pattern.check().map_err(bad)?;
            if matches!(mechanism.pattern, Pattern::Divergence { .. }) && f.divergence.is_none() {
                return Err(bad(
                    "a `divergence` pattern needs the finding to name a `divergence` field".into(),
                ));
            }
        }
        Ok(findings)
    }

    /// The file the list came from, for messages (`findings.yaml` when built in code).
    pub fn file(&self) -> &str {
        self.source.as_deref().unwrap_or("findings.yaml")
    }

    /// The finding that accepts `breakage` for `sdk` in `scenario`'s `variant`, if any: it
    /// names all four, and `outcome` (the run that broke it) shows its mechanism up to the
    /// step where it broke.
    pub fn accepting(
        &self,
        sdk: &str,
        scenario: &str,
        variant: &str,
        breakage: &Breakage,
        outcome: &LockstepOutcome,
    ) -> Option<&Finding> {
        self.findings.iter().find(|f| {
            f.sdk.iter().any(|pattern| sdk_matches(pattern, sdk))
                && f.scenarios.iter().any(|s| s == scenario)
                && (f.variants.is_empty() || f.variants.iter().any(|v| v == variant))
                && match breakage {
                    Breakage::Invariant(id) => f.invariant.as_deref() == Some(id.as_str()),
                    Breakage::Divergence(field) => f.divergence.as_deref() == Some(*field),
                }
                && f.shows_mechanism(breakage, outcome)
        })
    }

    /// The README's findings table (Markdown), in file order.
    pub fn readme_table(&self) -> String {
        let mut out = String::from(
            "| finding | SDK | what it does | breaks | mechanism (what it accepts) | shown by |\n\
             |---|---|---|---|---|---|\n",
        );
        for f in &self.findings {
            let breaks = match (&f.invariant, &f.divergence) {
                (Some(i), _) => format!("`{i}`"),
                (_, Some(d)) => format!("differs from the model in `{d}`"),
                _ => String::new(),
            };
            let shown = f
                .scenarios
                .iter()
                .map(|s| {
                    if s == "fuzz" {
                        "the gate's fuzz campaign".to_string()
                    } else {
                        format!("`{s}`")
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mechanism = f.mechanism.as_ref().map(|m| m.what.as_str()).unwrap_or("");
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | {} |\n",
                f.id,
                f.sdk.join(", "),
                f.title.replace('|', "\\|"),
                breaks,
                mechanism.replace('|', "\\|"),
                shown
            ));
        }
        out
    }
}

impl Finding {
    /// Whether `outcome` shows this finding's mechanism up to the step where `breakage`
    /// happened: the first violation of the invariant, or the divergence.
    pub fn shows_mechanism(&self, breakage: &Breakage, outcome: &LockstepOutcome) -> bool {
        let Some(mechanism) = &self.mechanism else { return false };
        let divergence = match &outcome.verdict {
            Lockstep::Diverged(d) => Some(d),
            _ => None,
        };
        let upto = match breakage {
            Breakage::Invariant(id) => outcome
                .report
                .violations
                .iter()
                .filter(|v| v.invariant == *id)
                .map(|v| v.step)
                .min(),
            Breakage::Divergence(_) => divergence.map(|d| d.step),
        };
        upto.is_some_and(|step| mechanism.pattern.matches(&outcome.sdk, step, divergence))
    }
}

/// A finding's `sdk`: one label, or a list of them (an empty list is refused).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let labels = match OneOrMany::deserialize(d)? {
        OneOrMany::One(label) => vec![label],
        OneOrMany::Many(labels) => labels,
    };
    if labels.is_empty() || labels.iter().any(|l| l.trim().is_empty()) {
        return Err(serde::de::Error::custom(
            "`sdk` names one SDK label (`clerk-js@6`) or a non-empty list of them",
        ));
    }
    Ok(labels)
}

/// `pattern` covers `label` when equal, or when it is a prefix that ends where a version
/// component ends (`clerk-js@6` covers `clerk-js@6.40.0`, not `clerk-js@60.0.0`).
pub fn sdk_matches(pattern: &str, label: &str) -> bool {
    label == pattern || label.strip_prefix(pattern).is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "findings:\n  - id: a\n    sdk: clerk-js@6\n    scenarios: [errors/x]\n    \
                       invariant: retry-discipline\n    mechanism:\n      what: w\n      \
                       pattern: { retry_before_retry_after: { endpoint: tokens } }\n    \
                       title: t\n    reason: r\n";

    #[test]
    fn sdk_patterns_cover_whole_version_components_only() {
        assert!(sdk_matches("clerk-js@6", "clerk-js@6.40.0"));
        assert!(sdk_matches("clerk-js@6.40.0", "clerk-js@6.40.0"));
        assert!(!sdk_matches("clerk-js@6", "clerk-js@60.1.0"));
        assert!(!sdk_matches("clerk-js@6", "clerk-js@5.128.0"));
        let f = Findings::parse("findings.yaml", ONE).unwrap();
        assert_eq!(f.findings[0].mechanism.as_ref().map(|m| m.what.as_str()), Some("w"));
        assert!(f.readme_table().contains("| `retry-discipline` | w |"), "{}", f.readme_table());
    }

    #[test]
    fn sdk_is_one_label_or_a_list() {
        let many = ONE.replace("sdk: clerk-js@6", "sdk: [clerk-js@6, clerk-expo@3]");
        let f = Findings::parse("findings.yaml", &many).unwrap();
        assert_eq!(f.findings[0].sdk, ["clerk-js@6", "clerk-expo@3"]);
        assert!(f.readme_table().contains("| clerk-js@6, clerk-expo@3 |"), "{}", f.readme_table());
        let one = Findings::parse("findings.yaml", ONE).unwrap();
        assert_eq!(one.findings[0].sdk, ["clerk-js@6"]);
        let empty = ONE.replace("sdk: clerk-js@6", "sdk: []");
        let e = Findings::parse("findings.yaml", &empty).unwrap_err().to_string();
        assert!(e.contains("non-empty list"), "{e}");
    }

    #[test]
    fn bad_findings_are_refused_with_what_is_accepted() {
        let both = ONE.replace("    title", "    divergence: view\n    title");
        let e = Findings::parse("findings.yaml", &both).unwrap_err();
        assert!(matches!(e, FindingsError::WhatBreaks { .. }), "{e}");
        let bad = ONE.replace("retry-discipline", "retry-disciplin");
        let e = Findings::parse("findings.yaml", &bad).unwrap_err().to_string();
        assert!(
            e.contains("unknown invariant `retry-disciplin`") && e.contains("calls-settle"),
            "{e}"
        );
        let twice = format!("{ONE}{}", &ONE["findings:\n".len()..]);
        let e = Findings::parse("findings.yaml", &twice).unwrap_err();
        assert!(matches!(e, FindingsError::DuplicateId { .. }), "{e}");
        let unknown_key = ONE.replace("    title", "    titel: x\n    title");
        let e = Findings::parse("findings.yaml", &unknown_key).unwrap_err().to_string();
        assert!(e.contains("titel"), "{e}");
        let sequence = ONE.replace(
            "{ retry_before_retry_after: { endpoint: tokens } }",
            "{ sequence: [ { what: request_gone } ] }",
        );
        let e = Findings::parse("findings.yaml", &sequence).unwrap_err().to_string();
        assert!(
            e.contains("unknown happening `request_gone`") && e.contains("request_done"),
            "{e}"
        );
        let text = ONE.replace(
            "{ retry_before_retry_after: { endpoint: tokens } }",
            "{ divergence: { sdk: x } }",
        );
        let e = Findings::parse("findings.yaml", &text).unwrap_err().to_string();
        assert!(e.contains("needs the finding to name a `divergence` field"), "{e}");
    }
}
