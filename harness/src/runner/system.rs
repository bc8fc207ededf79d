//! The system under test as scenarios and campaigns drive it: [`System`] is anything that
//! turns (setup, defects, events, seed) into an [`Outcome`]. [`ModelSystem`] runs the pure
//! model (no defects possible); the reference SDK and external SDKs plug in through the same
//! trait, so the scenario parser and the checks never change when another SDK is added. It
//! lives in `runner` (not `scenario`) so that the lockstep runner can implement it without an
//! import circle; `scenario::run` re-exports it.

use crate::model::settings::Setup;
use crate::model::vocab::{Defect, Event};

use super::Outcome;

/// Why a system could not run a variant (plumbing, not a failed check).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SystemError {
    #[error("defects [{0}] need the reference SDK, which `{1}` cannot run")]
    NeedsReference(String, String),
    #[error("the system under test failed: {0}")]
    Failed(String),
}

/// A system under test, as scenarios drive it.
pub trait System {
    /// How snapshots and reports name the system for these defects: `model`,
    /// `reference+ios-native-cache-wipe`, …
    fn label(&self, defects: &[Defect]) -> String;

    fn run(
        &self,
        setup: Setup,
        defects: &[Defect],
        events: &[Event],
        seed: Option<u64>,
    ) -> Result<Outcome, SystemError>;
}

/// The pure model: the oracle. It has no defects to switch on.
#[derive(Clone, Copy, Debug, Default)]
pub struct ModelSystem;

impl System for ModelSystem {
    fn label(&self, _defects: &[Defect]) -> String {
        "model".to_string()
    }

    fn run(
        &self,
        setup: Setup,
        defects: &[Defect],
        events: &[Event],
        seed: Option<u64>,
    ) -> Result<Outcome, SystemError> {
        if !defects.is_empty() {
            return Err(SystemError::NeedsReference(defect_list(defects), "model".into()));
        }
        // A step past the work budget is an error naming it, not a 3 GB trace (issue 19).
        super::try_run_model(setup, events, seed).map_err(|e| SystemError::Failed(e.to_string()))
    }
}

/// The signature of a system's run function.
pub type RunFn = fn(Setup, &[Defect], &[Event], Option<u64>) -> Result<Outcome, SystemError>;

/// A system from plain function pointers, for callers that plug an SDK in without a type.
#[derive(Clone, Copy)]
pub struct FnSystem {
    pub label: fn(&[Defect]) -> String,
    pub run: RunFn,
}

impl System for FnSystem {
    fn label(&self, defects: &[Defect]) -> String {
        (self.label)(defects)
    }

    fn run(
        &self,
        setup: Setup,
        defects: &[Defect],
        events: &[Event],
        seed: Option<u64>,
    ) -> Result<Outcome, SystemError> {
        (self.run)(setup, defects, events, seed)
    }
}

pub fn defect_list(defects: &[Defect]) -> String {
    defects.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
}
