//! An SDK behind the adapter protocol as a gate [`Subject`]: the real clerk-js, or any
//! `cmd:` adapter, held to a [`Conformance`].
//!
//! With a lockstep level (L2, L3) every case runs under the contract's profile, whatever its
//! scenario names (the case report keeps both, so the verdict table labels a variant that
//! ran under another profile than it names). With L1 alone there is no model to agree with:
//! each variant runs under the profile it names, and only the invariants judge the trace.

use super::Subject;
use super::level::{Conformance, Level};
use crate::model::profile::ProfileId;
use crate::model::settings::Setup;
use crate::model::vocab::Event;
use crate::runner::lockstep::{self, Fidelity, LockstepOutcome, Verdict};
use crate::sdk::external::AdapterCommand;

/// An external SDK, labelled, with the levels it is held to.
#[derive(Clone, Debug)]
pub struct ExternalSubject {
    /// `clerk-js@6.40.0`, or the `sdk@version` a `cmd:` adapter's hello announces.
    pub label: String,
    pub command: AdapterCommand,
    pub conformance: Conformance,
    /// `--fidelity`: the lockstep compares at this; `None`: L3's `requests`, else what the
    /// adapter's hello declares (`observable` when it declares none).
    pub fidelity: Option<Fidelity>,
    /// Its adapter forwards the `ClerkExpo` native module (§11): its fuzz cases may have it.
    pub native_module: bool,
}

impl ExternalSubject {
    /// `command` relabelled: traces, snapshots and errors name the SDK by `label`, never by
    /// its command line.
    pub fn new(label: &str, command: AdapterCommand, conformance: Conformance) -> ExternalSubject {
        let command = AdapterCommand { label: label.to_string(), ..command };
        ExternalSubject {
            label: label.to_string(),
            command,
            conformance,
            fidelity: None,
            native_module: false,
        }
    }

    /// The same subject, with fuzz cases that may have the native module.
    pub fn with_native_module(mut self, native_module: bool) -> ExternalSubject {
        self.native_module = native_module;
        self
    }

    /// The same subject with its lockstep forced to `fidelity` (when given).
    pub fn at(mut self, fidelity: Option<Fidelity>) -> ExternalSubject {
        self.fidelity = fidelity;
        self
    }
}

impl Subject for ExternalSubject {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn native_module(&self) -> bool {
        self.native_module
    }

    fn setup(&self, scenario: Setup) -> Setup {
        match self.conformance.contract() {
            Some(profile) => Setup { profile, ..scenario },
            None => scenario,
        }
    }

    fn profiles(&self) -> Vec<ProfileId> {
        match self.conformance.contract() {
            Some(profile) => vec![profile],
            None => ProfileId::ALL.to_vec(),
        }
    }

    fn conformance(&self) -> Option<Conformance> {
        Some(self.conformance)
    }

    fn run(&self, setup: Setup, events: &[Event], seed: Option<u64>) -> LockstepOutcome {
        let fidelity = match self.conformance.lockstep {
            None => return run_alone(setup, &self.command, events, seed),
            Some((_, Level::L3)) => Some(self.fidelity.unwrap_or(Fidelity::Requests)),
            Some(_) => self.fidelity,
        };
        lockstep::run_external_at(setup, &self.command, events, seed, fidelity)
    }
}

/// L0 and L1 without lockstep: the SDK runs alone and its trace is judged; the model's
/// trace of the same events rides along for the step tables, never compared.
pub fn run_alone(
    setup: Setup,
    command: &AdapterCommand,
    events: &[Event],
    seed: Option<u64>,
) -> LockstepOutcome {
    let (trace, broken) = lockstep::run_external_sdk(setup, command, events, seed);
    let outcome = crate::runner::judge(trace, |twin| {
        lockstep::run_external_sdk(setup, command, twin, seed).0
    });
    let model = crate::trace::run_model(setup, events, seed);
    let verdict = match broken {
        Some(e) => Verdict::Broken(e),
        None if outcome.report.violations.is_empty() => Verdict::Passed,
        None => Verdict::Violated(outcome.report.violations.clone()),
    };
    LockstepOutcome { verdict, sdk: outcome.trace, model, report: outcome.report }
}
