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
//! The SDK's trace is then judged like the model's ([`super::judge`]: the fifteen checks,
//! plus the `revoked-like-expired` twin run on the same SDK). Violations that are known
//! deviations of the profile ([`super::KNOWN_DEVIATIONS`]) do not fail the run.
//!
//! **Fidelity.** The reference SDK is held to [`Fidelity::Exact`]: everything above. A real
//! SDK under an adapter ([`run_external`]) is held to [`Fidelity::Observable`]: the view,
//! `open_calls`, the device and the server, and not the happenings nor `in_flight` — clerk-js
//! has internal retries, request orders and bookkeeping the model does not spell out request
//! by request, and none of it is what a user or the server sees. Its own trace is still
//! judged by every invariant, so what it does inside a step is checked, not compared.
//!
//! Entry points: [`run_reference`], [`run_external`]. Generic over any [`SdkPort`]:
//! [`run_lockstep`], [`run_lockstep_with`]. Scenarios run on an external SDK through
//! [`ExternalSystem`].

use std::fmt;

use serde::Serialize;

use super::system::{ModelSystem, System, SystemError, defect_list};
use crate::invariants::{Report, Violation};
use crate::model::settings::Setup;
use crate::model::time::{VTime, format_clock};
use crate::model::vocab::{Defect, Event, Happening};
use crate::model::{Observation, World};
use crate::sdk::external::{AdapterCommand, ExternalSdk};
use crate::sdk::{PortError, ReferenceSdk, SdkPort};
use crate::trace::{STEPS_MAX, Trace, TraceStep, words};

use super::{Outcome, judge, only_known_deviations};

/// How closely an SDK's observations must match the model's at every step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fidelity {
    /// Everything: view, happenings (a multiset per instant), open calls, requests in
    /// flight, device, server. For the reference SDK, which follows the model's rules.
    #[default]
    Exact,
    /// What the app and the server show: view, open calls, device, server. For real SDKs,
    /// whose internal request traffic legitimately differs; their happenings are judged by
    /// the invariants instead.
    Observable,
}

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
    conclude(setup, broken, divergence, outcome, model_trace)
}

/// The verdict: a broken port first, then the first divergence, then violations beyond the
/// profile's known deviations.
fn conclude(
    setup: Setup,
    broken: Option<PortError>,
    divergence: Option<Divergence>,
    outcome: Outcome,
    model_trace: Trace,
) -> LockstepOutcome {
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

/// Runs `events` on the model and on the SDK behind `command` in lockstep at
/// [`Fidelity::Observable`], and judges the SDK's trace (the `revoked-like-expired` twin
/// reruns the SDK from a fresh install). Each run gets its own emulator, storage and
/// processes, on its own real-time runtime.
pub fn run_external(
    setup: Setup,
    command: &AdapterCommand,
    events: &[Event],
    seed: Option<u64>,
) -> LockstepOutcome {
    run_external_at(setup, command, events, seed, Fidelity::Observable)
}

/// [`run_external`] at a chosen [`Fidelity`] (the gate's conformance level).
pub fn run_external_at(
    setup: Setup,
    command: &AdapterCommand,
    events: &[Event],
    seed: Option<u64>,
    fidelity: Fidelity,
) -> LockstepOutcome {
    let rt = ExternalSdk::runtime();
    let mut sdk = ExternalSdk::new(setup, command.clone());
    let (sdk_trace, model_trace, divergence, broken) =
        rt.block_on(run_lockstep_with(setup, &mut sdk, events, seed, fidelity));
    drop(sdk);
    let outcome = judge(sdk_trace, |twin| run_external_sdk(setup, command, twin, seed).0);
    conclude(setup, broken, divergence, outcome, model_trace)
}

/// Runs `events` on the SDK behind `command` alone: its trace up to the end or to the port
/// error that stopped it.
pub fn run_external_sdk(
    setup: Setup,
    command: &AdapterCommand,
    events: &[Event],
    seed: Option<u64>,
) -> (Trace, Option<PortError>) {
    let rt = ExternalSdk::runtime();
    let mut sdk = ExternalSdk::new(setup, command.clone());
    let name = sdk.name();
    let (steps, broken) = rt.block_on(async {
        let mut steps = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate().take(STEPS_MAX) {
            let at = sdk.now();
            match sdk.step(event).await {
                Ok(obs) => {
                    steps.push(TraceStep { index: index as u32, at, event: event.clone(), obs })
                }
                Err(e) => return (steps, Some(e)),
            }
        }
        (steps, None)
    });
    (Trace { setup, sdk: name, seed, steps }, broken)
}

/// Scenarios on an external SDK: each variant runs in lockstep with the model
/// ([`run_external`]). A broken port is a [`SystemError`]; so is a divergence when `strict`
/// (the gate's setting), while a non-strict system hands back the SDK's judged trace so the
/// scenario's own expectations can be read next to the divergence.
#[derive(Clone, Debug)]
pub struct ExternalSystem {
    pub command: AdapterCommand,
    pub strict: bool,
}

impl ExternalSystem {
    pub fn new(command: AdapterCommand) -> ExternalSystem {
        ExternalSystem { command, strict: true }
    }
}

impl System for ExternalSystem {
    fn label(&self, _defects: &[Defect]) -> String {
        self.command.label.clone()
    }

    fn run(
        &self,
        setup: Setup,
        defects: &[Defect],
        events: &[Event],
        seed: Option<u64>,
    ) -> Result<Outcome, SystemError> {
        if !defects.is_empty() {
            return Err(SystemError::NeedsReference(
                defect_list(defects),
                self.command.label.clone(),
            ));
        }
        let outcome = run_external(setup, &self.command, events, seed);
        match outcome.verdict {
            Verdict::Broken(e) => Err(SystemError::Failed(e.to_string())),
            Verdict::Diverged(d) if self.strict => {
                Err(SystemError::Failed(format!("lockstep with the model: {d}")))
            }
            _ => Ok(Outcome { trace: outcome.sdk, report: outcome.report }),
        }
    }
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
/// the run early, if any. Compares at [`Fidelity::Exact`].
pub async fn run_lockstep<P: SdkPort>(
    setup: Setup,
    port: &mut P,
    events: &[Event],
    seed: Option<u64>,
) -> (Trace, Trace, Option<Divergence>, Option<PortError>) {
    run_lockstep_with(setup, port, events, seed, Fidelity::Exact).await
}

/// [`run_lockstep`] at a chosen [`Fidelity`].
pub async fn run_lockstep_with<P: SdkPort>(
    setup: Setup,
    port: &mut P,
    events: &[Event],
    seed: Option<u64>,
    fidelity: Fidelity,
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
            divergence = compare_with(fidelity, index, sdk_at, event, &expected, &observed);
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

/// Compares one step's observations at [`Fidelity::Exact`]; `None` when they agree.
pub fn compare(
    step: u32,
    at: VTime,
    event: &Event,
    model: &Observation,
    sdk: &Observation,
) -> Option<Divergence> {
    compare_with(Fidelity::Exact, step, at, event, model, sdk)
}

/// Compares one step's observations at `fidelity`; `None` when they agree.
pub fn compare_with(
    fidelity: Fidelity,
    step: u32,
    at: VTime,
    event: &Event,
    model: &Observation,
    sdk: &Observation,
) -> Option<Divergence> {
    let exact = fidelity == Fidelity::Exact;
    let diverged = |field: &'static str, m: String, s: String| {
        Some(Divergence { step, at, event: event.clone(), field, model: m, sdk: s })
    };
    if model.view != sdk.view {
        return diverged("view", words::view(&model.view), words::view(&sdk.view));
    }
    if exact && model.happenings != sdk.happenings {
        let (m, s) = (canonical(&model.happenings), canonical(&sdk.happenings));
        if m != s {
            let first = m.iter().zip(&s).position(|(a, b)| a != b).unwrap_or(m.len().min(s.len()));
            // Shown as the step tables describe happenings, in the scenario's words.
            let show = |v: &[(VTime, String, String)]| {
                v.iter()
                    .skip(first.saturating_sub(1))
                    .take(4)
                    .map(|(at, _, h)| format!("{} {h}", format_clock(at.ms())))
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
    if exact && model.in_flight != sdk.in_flight {
        return diverged("in_flight", model.in_flight.to_string(), sdk.in_flight.to_string());
    }
    if model.device != sdk.device {
        return diverged("device", words::device(&model.device), words::device(&sdk.device));
    }
    if model.server != sdk.server {
        return diverged("server", words::server(&model.server), words::server(&sdk.server));
    }
    None
}

/// Happenings in canonical order: by instant, then by their JSON rendering within an
/// instant; each with its description for people ([`crate::trace::describe`]).
fn canonical(happenings: &[Happening]) -> Vec<(VTime, String, String)> {
    let mut out: Vec<(VTime, String, String)> = happenings
        .iter()
        .map(|h| {
            let json = serde_json::to_string(h).expect("happenings always serialise");
            (h.at(), json, crate::trace::describe(h))
        })
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

/// The system scenarios run on by default: the model for variants without defects (the
/// oracle's trace is what the snapshot records), and the reference SDK with the defects
/// switched on for the others (`runner::lockstep::judge_reference`: the SDK alone, every
/// invariant checked on its trace — a defective SDK diverges from the model by design).
pub fn default_system() -> &'static dyn System {
    &DefaultSystem
}

/// See [`default_system`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultSystem;

impl System for DefaultSystem {
    fn label(&self, defects: &[Defect]) -> String {
        if defects.is_empty() {
            "model".to_string()
        } else {
            let names: Vec<&str> = defects.iter().map(|d| d.as_str()).collect();
            format!("reference+{}", names.join("+"))
        }
    }

    fn run(
        &self,
        setup: Setup,
        defects: &[Defect],
        events: &[Event],
        seed: Option<u64>,
    ) -> Result<Outcome, SystemError> {
        if defects.is_empty() {
            return ModelSystem.run(setup, defects, events, seed);
        }
        // The work budget, measured on the model before the reference SDK starts: the same
        // events make about the same work there (issue 19: 29 s and 3 GB otherwise).
        crate::trace::try_run_model(setup, events, seed)
            .map_err(|e| SystemError::Failed(e.to_string()))?;
        Ok(judge_reference(setup, defects, events, seed))
    }
}
