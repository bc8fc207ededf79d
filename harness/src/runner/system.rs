//! The system under test as scenarios and campaigns drive it: [`System`] is anything that
//! turns (the SDK a variant names, setup, defects, events, seed) into a [`SystemRun`]: the
//! judged trace, and where it first departed from the model when the model ran alongside.
//! [`ModelSystem`] runs the pure model (no defects possible); the reference SDK and external
//! SDKs plug in through the same trait, so the scenario parser and the checks never change
//! when another SDK is added. It lives in `runner` (not `scenario`) so that the lockstep
//! runner can implement it without an import circle; `scenario::run` re-exports it.

use crate::model::settings::Setup;
use crate::model::vocab::{Defect, Event};

use super::Outcome;
use super::divergence::Divergence;

/// The SDK a scenario variant names (`sdk:` in its file). A variant with defects names none:
/// it runs on the reference SDK with its defects switched on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum SdkChoice {
    /// The model, the oracle (the default): its trace is what the variant is judged on.
    #[default]
    Model,
    /// The defect-free reference SDK in lockstep with the model: its trace is judged, and a
    /// divergence from the model fails the variant.
    Reference,
}

impl SdkChoice {
    pub const ALL: [SdkChoice; 2] = [SdkChoice::Model, SdkChoice::Reference];

    /// The word a scenario file, snapshots and reports use: `model`, `reference`.
    pub fn as_str(self) -> &'static str {
        match self {
            SdkChoice::Model => "model",
            SdkChoice::Reference => "reference",
        }
    }
}

/// Why a system could not run a variant (plumbing, not a failed check).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SystemError {
    /// What needs the reference SDK (`defects [a, b]`, `sdk: reference`) and the system
    /// that cannot run it.
    #[error("{0} need the reference SDK, which `{1}` cannot run")]
    NeedsReference(String, String),
    #[error("the system under test failed: {0}")]
    Failed(String),
}

impl SystemError {
    /// A variant `system` cannot run: its `defects`, or its `sdk: reference`.
    pub fn needs_reference(sdk: SdkChoice, defects: &[Defect], system: &str) -> SystemError {
        let what = if defects.is_empty() {
            format!("`sdk: {}` variants", sdk.as_str())
        } else {
            format!("defects [{}]", defect_list(defects))
        };
        SystemError::NeedsReference(what, system.to_string())
    }
}

/// One variant's run on a system: the trace its verdict is read from, with its invariant
/// report, and the first divergence from the model when the model ran alongside (`None`
/// when it did not, or when the two agreed at every step).
#[derive(Clone, Debug)]
pub struct SystemRun {
    pub outcome: Outcome,
    pub divergence: Option<Divergence>,
}

impl SystemRun {
    /// A run with no model alongside: nothing to depart from.
    pub fn alone(outcome: Outcome) -> SystemRun {
        SystemRun { outcome, divergence: None }
    }
}

/// A system under test, as scenarios drive it.
pub trait System {
    /// How snapshots and reports name the system for a variant that names `sdk` and switches
    /// on `defects`: `model`, `reference`, `reference+ios-native-cache-wipe`, …
    fn label(&self, sdk: SdkChoice, defects: &[Defect]) -> String;

    fn run(
        &self,
        sdk: SdkChoice,
        setup: Setup,
        defects: &[Defect],
        events: &[Event],
        seed: Option<u64>,
    ) -> Result<SystemRun, SystemError>;
}

/// The pure model: the oracle. It has no defects to switch on, and is not the reference SDK.
#[derive(Clone, Copy, Debug, Default)]
pub struct ModelSystem;

impl System for ModelSystem {
    fn label(&self, _sdk: SdkChoice, _defects: &[Defect]) -> String {
        "model".to_string()
    }

    fn run(
        &self,
        sdk: SdkChoice,
        setup: Setup,
        defects: &[Defect],
        events: &[Event],
        seed: Option<u64>,
    ) -> Result<SystemRun, SystemError> {
        if !defects.is_empty() || sdk != SdkChoice::Model {
            return Err(SystemError::needs_reference(sdk, defects, "model"));
        }
        // A step past the work budget is an error naming it, not a 3 GB trace (issue 19).
        super::try_run_model(setup, events, seed)
            .map(SystemRun::alone)
            .map_err(|e| SystemError::Failed(e.to_string()))
    }
}

/// The signature of a system's run function.
pub type RunFn =
    fn(SdkChoice, Setup, &[Defect], &[Event], Option<u64>) -> Result<SystemRun, SystemError>;

/// A system from plain function pointers, for callers that plug an SDK in without a type.
#[derive(Clone, Copy)]
pub struct FnSystem {
    pub label: fn(SdkChoice, &[Defect]) -> String,
    pub run: RunFn,
}

impl System for FnSystem {
    fn label(&self, sdk: SdkChoice, defects: &[Defect]) -> String {
        (self.label)(sdk, defects)
    }

    fn run(
        &self,
        sdk: SdkChoice,
        setup: Setup,
        defects: &[Defect],
        events: &[Event],
        seed: Option<u64>,
    ) -> Result<SystemRun, SystemError> {
        (self.run)(sdk, setup, defects, events, seed)
    }
}

pub fn defect_list(defects: &[Defect]) -> String {
    defects.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
}
