//! Conformance levels: how strictly the gate holds an SDK (DESIGN.md §6.3).
//!
//! - **L0 protocol**: the adapter speaks the protocol (hello, replies, clock, call ids,
//!   tokens, request joins): no case ends with a broken adapter.
//! - **L1 invariants**: every invariant holds on the SDK's own trace, judged without a
//!   model beside it.
//! - **L2 observable lockstep** with a chosen contract (`documented` or `clerk-js-6`): after
//!   every step the SDK shows what the model under that profile shows (view, open calls,
//!   device, server; [`Fidelity::Observable`]).
//! - **L3 request-level lockstep** with `clerk-js-6`: L2, and the SDK's requests match the
//!   model's request by request.
//!
//! A gate holds an SDK to a [`Conformance`]: L0 always, plus any of the others, written
//! `L1+L2-documented` on the command line. `--fidelity` (or an adapter's hello) can make
//! the lockstep of L2 stricter; L3 is at least `requests`. The default for a third-party SDK is
//! `L1+L2-documented`; clerk-js keeps `L1+L2-clerk-js-6` (its current strictness), the
//! reference SDK is held to exact lockstep with every profile.

use crate::model::profile::ProfileId;
use crate::runner::lockstep::Fidelity;

/// One level a gate can hold an SDK to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    L0,
    L1,
    L2,
    L3,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::L0 => "L0",
            Level::L1 => "L1",
            Level::L2 => "L2",
            Level::L3 => "L3",
        }
    }

    /// What the level checks, in one phrase.
    pub fn meaning(self) -> &'static str {
        match self {
            Level::L0 => "protocol: the adapter speaks the protocol",
            Level::L1 => "invariants: every invariant holds on the SDK's own trace",
            Level::L2 => "observable lockstep: view, open calls, device and server match the model",
            Level::L3 => "request-level lockstep: L2, and the requests match the model's",
        }
    }
}

/// The levels one gate run holds an SDK to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conformance {
    /// L1: the invariants judge the SDK's trace.
    pub invariants: bool,
    /// L2 or L3: the contract the SDK is compared with, and which of the two levels.
    pub lockstep: Option<(ProfileId, Level)>,
}

/// Why a `--level` text cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    #[error(
        "unknown level `{part}` in `{text}`; accepted: L0, L1, L2-documented, L2-clerk-js-6, \
         L3, joined with `+` (e.g. `L1+L2-documented`)"
    )]
    Unknown { text: String, part: String },
    #[error("`L2` needs its contract: `L2-documented` or `L2-clerk-js-6` (in `{0}`)")]
    NoContract(String),
    #[error("`{0}` names two lockstep levels; choose one of L2-documented, L2-clerk-js-6, L3")]
    TwoContracts(String),
}

impl Conformance {
    /// L0 only: the protocol, nothing judged.
    pub const PROTOCOL: Conformance = Conformance { invariants: false, lockstep: None };

    /// A third-party SDK's default: L1 + L2 against the article's contract.
    pub const THIRD_PARTY: Conformance =
        Conformance { invariants: true, lockstep: Some((ProfileId::Documented, Level::L2)) };

    /// clerk-js's strictness: L1 + L2 against the profile that describes it.
    pub const CLERK_JS: Conformance =
        Conformance { invariants: true, lockstep: Some((ProfileId::ClerkJs6, Level::L2)) };

    /// Parses `L0`, `L1`, `L2-documented`, `L2-clerk-js-6`, `L3`, joined with `+`.
    pub fn parse(text: &str) -> Result<Conformance, LevelError> {
        let mut out = Conformance::PROTOCOL;
        for part in text.split('+').map(str::trim) {
            let lockstep = match part {
                "L0" | "l0" => None,
                "L1" | "l1" => {
                    out.invariants = true;
                    None
                }
                "L2" | "l2" => return Err(LevelError::NoContract(text.to_string())),
                "L3" | "l3" => Some((ProfileId::ClerkJs6, Level::L3)),
                _ => {
                    let contract = part
                        .strip_prefix("L2-")
                        .or_else(|| part.strip_prefix("l2-"))
                        .and_then(ProfileId::parse)
                        .ok_or_else(|| LevelError::Unknown {
                            text: text.to_string(),
                            part: part.to_string(),
                        })?;
                    Some((contract, Level::L2))
                }
            };
            if let Some(l) = lockstep {
                if out.lockstep.is_some_and(|o| o != l) {
                    return Err(LevelError::TwoContracts(text.to_string()));
                }
                out.lockstep = Some(l);
            }
        }
        Ok(out)
    }

    /// The levels held, in order (L0 always).
    pub fn levels(&self) -> Vec<Level> {
        let mut out = vec![Level::L0];
        if self.invariants {
            out.push(Level::L1);
        }
        if let Some((_, level)) = self.lockstep {
            out.push(level);
        }
        out
    }

    /// How closely the lockstep level compares (L2: observable; L3: request level). The gate
    /// may compare more closely still: `--fidelity`, or what an adapter's hello declares.
    pub fn fidelity(&self) -> Option<Fidelity> {
        self.lockstep.map(|(_, level)| match level {
            Level::L3 => request_fidelity(),
            _ => Fidelity::Observable,
        })
    }

    /// The contract a lockstep level compares with.
    pub fn contract(&self) -> Option<ProfileId> {
        self.lockstep.map(|(p, _)| p)
    }

    /// How the command line writes it: `L1+L2-documented`.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        if self.invariants {
            parts.push("L1".to_string());
        }
        match self.lockstep {
            Some((_, Level::L3)) => parts.push("L3".to_string()),
            Some((p, _)) => parts.push(format!("L2-{p}")),
            None => {}
        }
        if parts.is_empty() {
            parts.push("L0".to_string());
        }
        parts.join("+")
    }
}

impl std::fmt::Display for Conformance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// The fidelity L3 compares at: request by request (`Fidelity::Requests`).
pub fn request_fidelity() -> Fidelity {
    Fidelity::Requests
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_join_and_refuse_with_what_is_accepted() {
        let c = Conformance::parse("L1+L2-documented").expect("the default parses");
        assert_eq!(c, Conformance::THIRD_PARTY);
        assert_eq!(c.text(), "L1+L2-documented");
        assert_eq!(c.levels(), [Level::L0, Level::L1, Level::L2]);
        assert_eq!(Conformance::parse("L0").expect("L0"), Conformance::PROTOCOL);
        assert_eq!(Conformance::parse("L0").expect("L0").text(), "L0");
        assert_eq!(Conformance::parse("L1+L2-clerk-js-6").expect("clerk"), Conformance::CLERK_JS);
        let l3 = Conformance::parse("L1+L3").expect("L3");
        assert_eq!(l3.contract(), Some(ProfileId::ClerkJs6));
        assert_eq!(l3.levels(), [Level::L0, Level::L1, Level::L3]);
        assert_eq!(l3.text(), "L1+L3");
        assert!(matches!(Conformance::parse("L2"), Err(LevelError::NoContract(_))));
        let e = Conformance::parse("L1+L4").unwrap_err().to_string();
        assert!(e.contains("`L4`") && e.contains("L2-documented"), "{e}");
        assert!(matches!(
            Conformance::parse("L2-documented+L2-clerk-js-6"),
            Err(LevelError::TwoContracts(_))
        ));
    }
}
