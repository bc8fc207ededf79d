//! The lockstep runner: the model and a system under test driven by the same events,
//! compared at every step, and the SDK's own trace judged by every invariant.
//!
//! What is compared after each step (a [`Divergence`] names the first field that differs):
//! - `view`: route, `isLoaded`, `isSignedIn`, the session and its status;
//! - `device` and `server`: the environment's truth (app state, network, every session's
//!   status, whether the persisted credential would restore a session) — they differ only
//!   when the two sent different requests;
//! - `open_calls` and `in_flight`;
//! - `happenings`: everything that happened during the step — renders, call starts and
//!   results (tokens included, claim for claim), FAPI requests with their endpoint, session,
//!   call, outcome and fault, backend hits, retries, storage operations, sign-outs, timers.
//!
//! One canonical order, and only within one instant: happenings stamped with the same
//! virtual millisecond are compared as a multiset. Two correct implementations may order
//! simultaneous work differently (JS resumes the Axios refresh leader before its queue; the
//! model settles the queue first), and nothing observable depends on it. Request ids are
//! compared as sent (they number requests in send order across instants, so a different
//! order *across* instants still shows). Between instants the order is exact.
//!
//! The SDK's trace is then judged like the model's ([`super::judge`]: the fourteen checks,
//! plus the `revoked-like-expired` twin run on the same SDK). Violations that are known
//! deviations of the profile ([`super::KNOWN_DEVIATIONS`]) do not fail the run.
//!
//! Entry point: [`run_reference`]. Generic over any [`SdkPort`]: [`run_lockstep`].

use std::fmt;

use serde::Serialize;

use crate::invariants::{Report, Violation};
use crate::model::settings::Setup;
use crate::model::time::{VTime, format_clock};
use crate::model::vocab::{Defect, Event, Happening};
use crate::model::{Observation, World};
use crate::sdk::{PortError, ReferenceSdk, SdkPort};
use crate::trace::{STEPS_MAX, Trace, TraceStep};

use super::{Outcome, judge, only_known_deviations};

/// The first step where the model and the SDK showed different things.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    pub step: u32,
    pub at: VTime,
    pub event: Event,
    /// Which part of the observation differs: `view`, `server`, `happenings`, …
    pub field: &'static str,
    /// What the model showed (that part, rendered).
    pub model: String,
    /// What the SDK showed.
    pub sdk: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "divergence at step {} (t={}, `{}`) in {}\n  model: {}\n  sdk:   {}",
            self.step,
            format_clock(self.at.ms()),
            self.event,
            self.field,
            self.model,
            self.sdk
        )
    }
}

/// How a lockstep run ended.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// No divergence, and no violation beyond the profile's known deviations.
    Passed,
    /// The first divergence (checked before invariants: a diverging SDK is wrong somewhere).
    Diverged(Divergence),
    /// The SDK's trace broke invariants that are not known deviations of the profile.
    Violated(Vec<Violation>),
    /// The system under test could not take a step.
    Broken(PortError),
}

/// A lockstep run: the verdict, both traces, and the SDK trace's invariant report.
#[derive(Clone, Debug)]
pub struct LockstepOutcome {
    pub verdict: Verdict,
    pub sdk: Trace,
    pub model: Trace,
    /// Every violation on the SDK's trace, known deviations included.
    pub report: Report,
}

impl LockstepOutcome {
    pub fn passed(&self) -> bool {
        matches!(self.verdict, Verdict::Passed)
    }

    /// The first divergence, if any.
    pub fn divergence(&self) -> Option<&Divergence> {
        match &self.verdict {
            Verdict::Diverged(d) => Some(d),
            _ => None,
        }
    }

    /// A report a person can act on: the verdict, the SDK, profile and seed.
    pub fn summary(&self) -> String {
        let head = match &self.verdict {
            Verdict::Passed => "passed".to_string(),
            Verdict::Diverged(d) => d.to_string(),
            Verdict::Violated(vs) => {
                vs.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n")
            }
            Verdict::Broken(e) => format!("broken: {e}"),
        };
        format!(
            "{head}\n  sdk: {}  profile: {}  platform: {}  seed: {}",
            self.sdk.sdk,
            self.sdk.setup.profile,
            self.sdk.setup.platform.as_str(),
            self.sdk.seed.map(crate::sim::format_seed).unwrap_or_else(|| "none".into()),
        )
    }
}

/// Runs `events` on the model and on the reference SDK (with `defects` switched on) in
/// lockstep, compares every step and judges the SDK's trace. The reference SDK runs on its
/// own current-thread tokio runtime with paused time; `seed` is recorded in the traces.
///
/// Stable entry point for scenarios, fuzzing and xtask.
pub fn run_reference(
    setup: Setup,
    defects: &[Defect],
    events: &[Event],
    seed: Option<u64>,
) -> LockstepOutcome {
    let rt = ReferenceSdk::runtime();
    let mut sdk = ReferenceSdk::new(setup, defects);
    let (sdk_trace, model_trace, divergence, broken) =
        rt.block_on(run_lockstep(setup, &mut sdk, events, seed));
    drop(sdk);
    let outcome = judge(sdk_trace, |twin| run_sdk(setup, defects, twin, seed));
    let verdict = match (broken, divergence) {
        (Some(e), _) => Verdict::Broken(e),
        (None, Some(d)) => Verdict::Diverged(d),
        (None, None) if only_known_deviations(setup.profile, &outcome.report) => Verdict::Passed,
        (None, None) => Verdict::Violated(
            outcome
                .report
                .violations
                .iter()
                .filter(|v| !super::is_known(setup.profile, v.invariant))
                .cloned()
                .collect(),
        ),
    };
    LockstepOutcome { verdict, sdk: outcome.trace, model: model_trace, report: outcome.report }
}

/// Runs `events` on the reference SDK alone and records its trace.
pub fn run_sdk(setup: Setup, defects: &[Defect], events: &[Event], seed: Option<u64>) -> Trace {
    let rt = ReferenceSdk::runtime();
    let mut sdk = ReferenceSdk::new(setup, defects);
    let name = sdk.name();
    let steps = rt.block_on(async {
        let mut steps = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate().take(STEPS_MAX) {
            let at = sdk.now();
            let obs = sdk.apply(event).await;
            steps.push(TraceStep { index: index as u32, at, event: event.clone(), obs });
        }
        steps
    });
    Trace { setup, sdk: name, seed, steps }
}

/// Runs the reference SDK alone and judges its trace (the twin for `revoked-like-expired`
/// runs on the same SDK). The fast path of defect fuzzing: no model.
pub fn judge_reference(
    setup: Setup,
    defects: &[Defect],
    events: &[Event],
    seed: Option<u64>,
) -> Outcome {
    let trace = run_sdk(setup, defects, events, seed);
    judge(trace, |twin| run_sdk(setup, defects, twin, seed))
}

/// Drives the model and `port` with the same events, inside the caller's runtime. Returns
/// the SDK's trace, the model's trace, the first divergence, and the port error that ended
/// the run early, if any.
pub async fn run_lockstep<P: SdkPort>(
    setup: Setup,
    port: &mut P,
    events: &[Event],
    seed: Option<u64>,
) -> (Trace, Trace, Option<Divergence>, Option<PortError>) {
    let mut world = World::new(setup);
    let mut sdk_steps = Vec::with_capacity(events.len());
    let mut model_steps = Vec::with_capacity(events.len());
    let mut divergence = None;
    let mut broken = None;
    for (index, event) in events.iter().enumerate().take(STEPS_MAX) {
        let index = index as u32;
        let (model_at, sdk_at) = (world.now(), port.now());
        let expected = world.step(event);
        let observed = match port.step(event).await {
            Ok(obs) => obs,
            Err(e) => {
                broken = Some(e);
                break;
            }
        };
        if divergence.is_none() {
            divergence = compare(index, sdk_at, event, &expected, &observed);
            if divergence.is_none() && model_at != sdk_at {
                divergence = Some(Divergence {
                    step: index,
                    at: sdk_at,
                    event: event.clone(),
                    field: "clock",
                    model: format_clock(model_at.ms()),
                    sdk: format_clock(sdk_at.ms()),
                });
            }
        }
        model_steps.push(TraceStep { index, at: model_at, event: event.clone(), obs: expected });
        sdk_steps.push(TraceStep { index, at: sdk_at, event: event.clone(), obs: observed });
    }
    let sdk = Trace { setup, sdk: port.name(), seed, steps: sdk_steps };
    let model = Trace { setup, sdk: "model".to_string(), seed, steps: model_steps };
    (sdk, model, divergence, broken)
}

/// Compares one step's observations; `None` when they agree.
pub fn compare(
    step: u32,
    at: VTime,
    event: &Event,
    model: &Observation,
    sdk: &Observation,
) -> Option<Divergence> {
    let diverged = |field: &'static str, m: String, s: String| {
        Some(Divergence { step, at, event: event.clone(), field, model: m, sdk: s })
    };
    if model.view != sdk.view {
        return diverged("view", format!("{:?}", model.view), format!("{:?}", sdk.view));
    }
    if model.happenings != sdk.happenings {
        let (m, s) = (canonical(&model.happenings), canonical(&sdk.happenings));
        if m != s {
            let first = m.iter().zip(&s).position(|(a, b)| a != b).unwrap_or(m.len().min(s.len()));
            let show = |v: &[(VTime, String)]| {
                v.iter()
                    .skip(first.saturating_sub(1))
                    .take(4)
                    .map(|(_, h)| h.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            return diverged(
                "happenings",
                format!("[{} of {}] {}", first, m.len(), show(&m)),
                format!("[{} of {}] {}", first, s.len(), show(&s)),
            );
        }
    }
    if model.open_calls != sdk.open_calls {
        return diverged("open_calls", model.open_calls.to_string(), sdk.open_calls.to_string());
    }
    if model.in_flight != sdk.in_flight {
        return diverged("in_flight", model.in_flight.to_string(), sdk.in_flight.to_string());
    }
    if model.device != sdk.device {
        return diverged("device", format!("{:?}", model.device), format!("{:?}", sdk.device));
    }
    if model.server != sdk.server {
        return diverged("server", format!("{:?}", model.server), format!("{:?}", sdk.server));
    }
    None
}

/// Happenings in canonical order: by instant, then by their rendering within an instant.
fn canonical(happenings: &[Happening]) -> Vec<(VTime, String)> {
    let mut out: Vec<(VTime, String)> = happenings
        .iter()
        .map(|h| (h.at(), serde_json::to_string(h).expect("happenings always serialise")))
        .collect();
    out.sort();
    out
}

/// A campaign case that failed in lockstep: its index, its case seed and the outcome.
#[derive(Clone, Debug)]
pub struct LockstepFailure {
    pub index: u64,
    pub seed: u64,
    pub outcome: LockstepOutcome,
}

/// Runs cases `range` of the campaign `seed` under `profile` on the defect-free reference SDK
/// in lockstep with the model: the scenario-free fuzz campaign of `cargo xtask check`. Cases
/// are the model campaign's (a pure function of seed and index, so shards compose); coverage
/// is counted on the SDK's traces.
pub fn reference_campaign(
    profile: crate::model::profile::ProfileId,
    seed: u64,
    range: std::ops::Range<u64>,
    steps_max: usize,
    mut on_case: impl FnMut(u64),
) -> (super::Coverage, Vec<LockstepFailure>) {
    let mut coverage = super::Coverage::default();
    let mut failures = Vec::new();
    for index in range {
        let case_seed = crate::sim::case_seed(seed, index);
        let case = crate::generate::case_from_seed(profile, steps_max, case_seed);
        let events = crate::generate::interpret(&case, None).events();
        let outcome = run_reference(case.setup, &[], &events, Some(case_seed));
        coverage.add(&Outcome { trace: outcome.sdk.clone(), report: outcome.report.clone() });
        if !outcome.passed() {
            failures.push(LockstepFailure { index, seed: case_seed, outcome });
        }
        on_case(index);
    }
    (coverage, failures)
}
