//! Shrinking a failing case before a person sees it: the one shrinker of the defect hunt
//! ([`crate::sdk::hunt::shrink`]: drop chunks, then single events, merge and shorten waits),
//! applied to a failure of `fuzz`, `check` or `gate` on whichever system found it.
//!
//! A shrunk case must fail *the same way*: break at least one of the invariants the original
//! broke (known deviations of the profile do not count), or, for a divergence from the
//! model, diverge in the same part of the observation. A smaller trace that fails for
//! another reason would tell a different story, so it is not taken.

use crate::invariants::InvariantId;
use crate::model::settings::Setup;
use crate::model::vocab::{Defect, Event};
use crate::sdk::hunt;

use super::lockstep::{Divergence, judge_reference, run_reference};
use super::{Outcome, is_known};

/// Runs a shrinking step may spend on one failure. The hunt's budget: enough to bring the
/// campaign's 60-event cases to a handful of steps, bounded so a campaign with many
/// failures still ends.
pub const SHRINK_TRIES_MAX: usize = 400;

/// The system a failure was found on.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// The model alone.
    Model,
    /// The reference SDK alone with these defects on (judged, not compared: a defect makes
    /// it differ from the model on purpose).
    Reference(&'a [Defect]),
    /// The defect-free reference SDK in lockstep with the model.
    Lockstep,
}

/// One run of a case on a target: its outcome, and the first divergence from the model
/// (lockstep only).
#[derive(Clone, Debug)]
pub struct Run {
    pub outcome: Outcome,
    pub divergence: Option<Divergence>,
}

impl Run {
    /// The invariants it broke that are not known deviations of its profile, sorted.
    pub fn unexpected(&self) -> Vec<InvariantId> {
        let profile = self.outcome.trace.setup.profile;
        let mut ids: Vec<InvariantId> = self
            .outcome
            .report
            .violations
            .iter()
            .map(|v| v.invariant)
            .filter(|id| !is_known(profile, *id))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// Whether it fails: a divergence, or an invariant broken beyond the known deviations.
    pub fn fails(&self) -> bool {
        self.divergence.is_some() || !self.unexpected().is_empty()
    }
}

/// Runs `events` on `target`.
pub fn run(target: Target<'_>, setup: Setup, events: &[Event], seed: Option<u64>) -> Run {
    match target {
        Target::Model => Run { outcome: super::run_model(setup, events, seed), divergence: None },
        Target::Reference(defects) => {
            Run { outcome: judge_reference(setup, defects, events, seed), divergence: None }
        }
        Target::Lockstep => {
            let run = run_reference(setup, &[], events, seed);
            let divergence = run.divergence().cloned();
            Run { outcome: Outcome { trace: run.sdk, report: run.report }, divergence }
        }
    }
}

/// A failure after shrinking: the shrunk events and their run, and how long the case was.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub events: Vec<Event>,
    pub run: Run,
    /// Events of the case as found.
    pub original_steps: usize,
}

/// Shrinks the failing case `events` on `target` to a smaller one that fails the same way
/// (see the module doc). A case that does not fail comes back as it is.
pub fn shrink_failure(
    target: Target<'_>,
    setup: Setup,
    events: &[Event],
    seed: Option<u64>,
) -> Shrunk {
    let found = run(target, setup, events, seed);
    if !found.fails() {
        return Shrunk { events: events.to_vec(), run: found, original_steps: events.len() };
    }
    let field = found.divergence.as_ref().map(|d| d.field);
    let broken = found.unexpected();
    let same_failure = |candidate: &Run| match field {
        Some(field) => candidate.divergence.as_ref().is_some_and(|d| d.field == field),
        None => candidate.unexpected().iter().any(|id| broken.contains(id)),
    };
    let shrunk = hunt::shrink(events, SHRINK_TRIES_MAX, |candidate| {
        same_failure(&run(target, setup, candidate, seed))
    });
    let run = run(target, setup, &shrunk, seed);
    debug_assert!(same_failure(&run), "the shrinker only keeps candidates that fail");
    Shrunk { events: shrunk, run, original_steps: events.len() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::ProfileId;
    use crate::sim::case_seed;

    /// A defect the fuzzer catches in a few cases shrinks to a short case that still breaks
    /// what the original broke, and a passing case is left alone.
    #[test]
    fn a_defect_failure_shrinks_and_keeps_its_invariant() {
        let defects = [Defect::NullOfflineLogout];
        let mut shrunk_any = false;
        for index in 0..64 {
            let seed = case_seed(0x5eed0001, index);
            let case = crate::generate::case_from_seed(ProfileId::Documented, 60, seed);
            let events = crate::generate::interpret(&case, None).events();
            let target = Target::Reference(&defects);
            let found = run(target, case.setup, &events, Some(seed));
            let shrunk = shrink_failure(target, case.setup, &events, Some(seed));
            if !found.fails() {
                assert_eq!(shrunk.events, events, "a passing case is not shrunk");
                continue;
            }
            assert!(shrunk.events.len() <= events.len());
            assert_eq!(shrunk.original_steps, events.len());
            let kept = shrunk.run.unexpected();
            assert!(
                kept.iter().any(|id| found.unexpected().contains(id)),
                "case {index}: shrunk to {kept:?}, found {:?}",
                found.unexpected()
            );
            shrunk_any = true;
            break;
        }
        assert!(shrunk_any, "no case of 64 caught null-offline-logout");
    }
}
