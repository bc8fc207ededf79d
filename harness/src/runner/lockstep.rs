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
//! SDK under an adapter ([`run_external`]) is held to the fidelity its adapter declares in
//! its hello, or one the caller forces ([`run_external_at`]):
//! - [`Fidelity::Observable`] (the default): the view, `open_calls`, the device and the
//!   server, and not the happenings nor `in_flight` — what a user or the server sees;
//! - [`Fidelity::Requests`]: that, plus the FAPI requests of every step (`requests`: each
//!   send with its endpoint, session and purpose, each answer the running process got, at
//!   its instant and in send order, so retry timing shows) and the storage writes and
//!   deletions by key (`storage`), both
//!   rendered in the scenario's words (`t=2.050s sent req_3 tokens session=sess_1
//!   purpose=get_token`). Renders, timers, retry bookkeeping and `in_flight` stay the SDK's
//!   business. A request's purpose is the kind of the call it serves, remembered across
//!   steps ([`Comparer`]), or `background`.
//!
//! Whatever the fidelity, the SDK's own trace is judged by every invariant, so what it does
//! inside a step is checked even where it is not compared.
//!
//! Entry points: [`run_reference`], [`run_external`]. Generic over any [`SdkPort`]:
//! [`run_lockstep`], [`run_lockstep_with`]. Scenarios run on an external SDK through
//! [`ExternalSystem`].

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use super::divergence::Divergence;
use super::system::{ModelSystem, SdkChoice, System, SystemError, SystemRun};
use crate::invariants::{Report, Violation};
use crate::model::settings::Setup;
use crate::model::time::{VTime, format_clock};
use crate::model::vocab::{CallId, CallKind, Defect, Event, Happening, TemplateName};
use crate::model::{Observation, World};
use crate::sdk::external::{AdapterCommand, ExternalSdk};
use crate::sdk::{PortError, ReferenceSdk, SdkPort};
use crate::trace::{STEPS_MAX, Trace, TraceStep, words};

use super::{Outcome, judge, only_known_deviations};

/// How closely an SDK's observations must match the model's at every step. Ordered from the
/// loosest to the strictest: each level compares everything the one before it does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fidelity {
    /// What the app and the server show: view, open calls, device, server. For real SDKs,
    /// whose internal request traffic legitimately differs; their happenings are judged by
    /// the invariants instead.
    Observable,
    /// [`Fidelity::Observable`], plus the FAPI requests each step sends and what became of
    /// them (endpoint, session, purpose, order within the step, the instant of each send, so
    /// retry timing too) and the storage writes and deletions: field `requests`, then
    /// `storage`. For a real SDK whose traffic the model predicts request by request.
    Requests,
    /// Everything: view, happenings (a multiset per instant), open calls, requests in
    /// flight, device, server. For the reference SDK, which follows the model's rules.
    #[default]
    Exact,
}

impl Fidelity {
    pub const ALL: [Fidelity; 3] = [Fidelity::Observable, Fidelity::Requests, Fidelity::Exact];

    /// The word a command line, an adapter's hello and reports use: `observable`,
    /// `requests`, `exact`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fidelity::Observable => "observable",
            Fidelity::Requests => "requests",
            Fidelity::Exact => "exact",
        }
    }

    pub fn parse(text: &str) -> Option<Fidelity> {
        Fidelity::ALL.into_iter().find(|f| f.as_str() == text)
    }
}

impl fmt::Display for Fidelity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Fidelity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fidelity::parse(s)
            .ok_or_else(|| format!("unknown fidelity `{s}`; accepted: observable, requests, exact"))
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

/// Runs `events` on the model and on the SDK behind `command` in lockstep at the fidelity
/// its adapter declares in its hello ([`Fidelity::Observable`] when it declares none), and
/// judges the SDK's trace (the `revoked-like-expired` twin reruns the SDK from a fresh
/// install). Each run gets its own emulator, storage and processes, on its own real-time
/// runtime.
pub fn run_external(
    setup: Setup,
    command: &AdapterCommand,
    events: &[Event],
    seed: Option<u64>,
) -> LockstepOutcome {
    run_external_at(setup, command, events, seed, None)
}

/// [`run_external`] at `fidelity`, or when `None` at the one the adapter's hello declares.
pub fn run_external_at(
    setup: Setup,
    command: &AdapterCommand,
    events: &[Event],
    seed: Option<u64>,
    fidelity: Option<Fidelity>,
) -> LockstepOutcome {
    let rt = ExternalSdk::runtime();
    let mut sdk = ExternalSdk::new(setup, command.clone());
    let (sdk_trace, model_trace, divergence, broken) =
        rt.block_on(run_lockstep_resolved(setup, &mut sdk, events, seed, |sdk| {
            fidelity.unwrap_or_else(|| declared_fidelity(sdk))
        }));
    drop(sdk);
    let outcome = judge(sdk_trace, |twin| run_external_sdk(setup, command, twin, seed).0);
    conclude(setup, broken, divergence, outcome, model_trace)
}

/// The fidelity an external SDK's hello declared; [`Fidelity::Observable`] before its first
/// hello or when it declared none.
pub fn declared_fidelity(sdk: &ExternalSdk) -> Fidelity {
    sdk.declared_fidelity().and_then(Fidelity::parse).unwrap_or(Fidelity::Observable)
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
/// (the gate's setting), while a non-strict system hands back the SDK's judged trace with
/// the divergence, so the scenario's own expectations can be read next to it. A variant
/// with defects or `sdk: reference` names the reference SDK, which this is not: it is
/// refused ([`SystemError::NeedsReference`]), and scenario runs list it as skipped.
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
    fn label(&self, _sdk: SdkChoice, _defects: &[Defect]) -> String {
        self.command.label.clone()
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
            return Err(SystemError::needs_reference(sdk, defects, &self.command.label));
        }
        let outcome = run_external(setup, &self.command, events, seed);
        let divergence = outcome.divergence().cloned();
        match outcome.verdict {
            Verdict::Broken(e) => Err(SystemError::Failed(e.to_string())),
            Verdict::Diverged(d) if self.strict => {
                Err(SystemError::Failed(format!("lockstep with the model: {d}")))
            }
            _ => Ok(SystemRun {
                outcome: Outcome { trace: outcome.sdk, report: outcome.report },
                divergence,
            }),
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
    run_lockstep_resolved(setup, port, events, seed, |_| fidelity).await
}

/// [`run_lockstep`] at the fidelity `resolve` reads from the port after each step (an
/// external SDK declares its own in the hello of the process the step started).
async fn run_lockstep_resolved<P: SdkPort>(
    setup: Setup,
    port: &mut P,
    events: &[Event],
    seed: Option<u64>,
    resolve: impl Fn(&P) -> Fidelity,
) -> (Trace, Trace, Option<Divergence>, Option<PortError>) {
    let mut world = World::new(setup);
    let mut sdk_steps = Vec::with_capacity(events.len());
    let mut model_steps = Vec::with_capacity(events.len());
    let mut divergence = None;
    let mut broken = None;
    let mut comparer = Comparer::new(Fidelity::Observable);
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
        comparer.fidelity = resolve(port);
        if divergence.is_none() {
            divergence = comparer.step(index, sdk_at, event, &expected, &observed);
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

/// Compares a run step by step at one [`Fidelity`], remembering across steps what
/// request-level comparison needs: the purpose of every call started so far, on each side.
#[derive(Clone, Debug)]
pub struct Comparer {
    fidelity: Fidelity,
    model: Ledger,
    sdk: Ledger,
}

impl Comparer {
    pub fn new(fidelity: Fidelity) -> Comparer {
        Comparer { fidelity, model: Ledger::default(), sdk: Ledger::default() }
    }

    /// Compares one step's observations (`None` when they agree), then learns the calls it
    /// started.
    pub fn step(
        &mut self,
        step: u32,
        at: VTime,
        event: &Event,
        model: &Observation,
        sdk: &Observation,
    ) -> Option<Divergence> {
        self.model.learn(event, &model.happenings);
        self.sdk.learn(event, &sdk.happenings);
        compare_at(self.fidelity, (&self.model, &self.sdk), step, at, event, model, sdk)
    }
}

/// What a call was started for, kept as data: most runs compare at a fidelity that never
/// shows it, so it is rendered only when asked ([`Purpose::words`]).
#[derive(Clone, Copy, Debug)]
struct Purpose {
    kind: CallKind,
    template: Option<TemplateName>,
    skip_cache: bool,
}

impl Purpose {
    /// In the scenario's words: `get_token`, `get_token(template=jwt)(skip_cache)`, ….
    fn words(&self) -> String {
        let mut words = words::word(&self.kind);
        if let Some(t) = self.template {
            words.push_str(&format!("(template={t})"));
        }
        if self.skip_cache {
            words.push_str("(skip_cache)");
        }
        words
    }
}

/// The purpose of every call started so far on one side of a run: the call's kind in the
/// scenario's words, `get_token(skip_cache)` for a `get_token skip_cache` step's call.
/// Also the requests the running JS runtime sent: an answer to a request a dead process sent
/// reaches no SDK (a real adapter cannot report it; the model logs the server's answer), so
/// request-level lockstep leaves it out on both sides.
#[derive(Clone, Debug, Default)]
struct Ledger {
    purposes: BTreeMap<CallId, Purpose>,
    live: std::collections::BTreeSet<crate::model::vocab::RequestId>,
}

impl Ledger {
    fn learn(&mut self, event: &Event, happenings: &[Happening]) {
        if event.ends_process() || matches!(event, Event::ColdStart | Event::JsReload) {
            self.live.clear();
        }
        for h in happenings {
            if let Happening::RequestSent { req, .. } = h {
                self.live.insert(*req);
            }
            if let Happening::CallStarted { call, kind, .. } = h {
                let (template, skip_cache) = match event {
                    Event::GetToken { skip_cache, template } if *kind == CallKind::GetToken => {
                        (*template, *skip_cache)
                    }
                    _ => (None, false),
                };
                self.purposes.insert(*call, Purpose { kind: *kind, template, skip_cache });
            }
        }
    }

    fn purpose(&self, call: Option<CallId>) -> String {
        match call {
            None => "background".to_string(),
            Some(c) => self.purposes.get(&c).map_or_else(|| c.to_string(), Purpose::words),
        }
    }

    /// One step's FAPI requests and storage operations in canonical order, rendered
    /// (`t=… sent req_3 tokens session=sess_1 purpose=get_token`). Between instants the
    /// order is as it happened; within one instant, by request in send order (request ids
    /// number sends), a request's send before its answer; storage operations as a multiset
    /// (sorted): simultaneous writes have no order a user can see.
    fn requests(&self, happenings: &[Happening]) -> (Vec<String>, Vec<String>) {
        let mut requests: Vec<(VTime, u32, u8, String)> = Vec::new();
        let mut storage: Vec<(VTime, String)> = Vec::new();
        for h in happenings {
            match h {
                Happening::RequestSent { at, req, endpoint, call, sid, template, .. } => requests
                    .push((
                        *at,
                        req.0,
                        0,
                        words::request_sent(
                            *req,
                            (*endpoint, *template),
                            *sid,
                            &self.purpose(*call),
                        ),
                    )),
                Happening::RequestDone { at, req, endpoint, outcome, .. }
                    if self.live.contains(req) =>
                {
                    requests.push((*at, req.0, 1, words::request_done(*req, *endpoint, outcome)))
                }
                // Which key, not whether it would restore a session: an adapter's writes are
                // annotated against the server as it is at the end of the step.
                Happening::StorageWritten { at, key, .. } => {
                    storage.push((*at, words::storage_op(*key, true)));
                }
                Happening::StorageDeleted { at, key } => {
                    storage.push((*at, words::storage_op(*key, false)));
                }
                _ => {}
            }
        }
        requests.sort();
        storage.sort();
        (
            requests.into_iter().map(|(at, _, _, line)| words::at(at.ms(), &line)).collect(),
            storage.into_iter().map(|(at, line)| words::at(at.ms(), &line)).collect(),
        )
    }
}

/// The purpose of every call a trace started (`get_token`, `get_token(skip_cache)`, …), as
/// request-level lockstep names it; a request serving no call has purpose `background`
/// ([`purpose_of`]). Findings match their mechanism with it.
pub fn call_purposes(trace: &Trace) -> BTreeMap<CallId, String> {
    let mut ledger = Ledger::default();
    for step in &trace.steps {
        ledger.learn(&step.event, &step.obs.happenings);
    }
    ledger.purposes.iter().map(|(call, p)| (*call, p.words())).collect()
}

/// The purpose of a request serving `call`, given [`call_purposes`].
pub fn purpose_of(purposes: &BTreeMap<CallId, String>, call: Option<CallId>) -> String {
    match call {
        None => "background".to_string(),
        Some(c) => purposes.get(&c).cloned().unwrap_or_else(|| c.to_string()),
    }
}

/// The first line where two canonical lists differ, with its neighbours, as a divergence
/// shows it: `[2 of 5] t=… sent req_3 tokens …; t=… answered req_3 tokens 200`.
fn first_difference(model: &[String], sdk: &[String]) -> Option<(String, String)> {
    if model == sdk {
        return None;
    }
    let first =
        model.iter().zip(sdk).position(|(a, b)| a != b).unwrap_or(model.len().min(sdk.len()));
    let show = |v: &[String]| {
        let shown: Vec<&str> = v.iter().skip(first).take(3).map(String::as_str).collect();
        let line = if shown.is_empty() { "(nothing more)".to_string() } else { shown.join("; ") };
        format!("[{} of {}] {line}", first + 1, v.len())
    };
    Some((show(model), show(sdk)))
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

/// Compares one step's observations at `fidelity`; `None` when they agree. At
/// [`Fidelity::Requests`] a request's purpose is known only for calls started in this step
/// (others show their call id): a whole run compares through a [`Comparer`].
pub fn compare_with(
    fidelity: Fidelity,
    step: u32,
    at: VTime,
    event: &Event,
    model: &Observation,
    sdk: &Observation,
) -> Option<Divergence> {
    let mut comparer = Comparer::new(fidelity);
    comparer.step(step, at, event, model, sdk)
}

fn compare_at(
    fidelity: Fidelity,
    (model_ledger, sdk_ledger): (&Ledger, &Ledger),
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
    if fidelity == Fidelity::Requests {
        let (model_requests, model_storage) = model_ledger.requests(&model.happenings);
        let (sdk_requests, sdk_storage) = sdk_ledger.requests(&sdk.happenings);
        if let Some((m, s)) = first_difference(&model_requests, &sdk_requests) {
            return diverged("requests", m, s);
        }
        if let Some((m, s)) = first_difference(&model_storage, &sdk_storage) {
            return diverged("storage", m, s);
        }
    }
    // The client tokens requests carried are compared after everything else that happened:
    // a request that differs shows as the request itself, not as the token it presented.
    let passes = [false, true];
    for tokens in passes.into_iter().filter(|_| exact && model.happenings != sdk.happenings) {
        let part = |hs: &[Happening]| -> Vec<Happening> {
            hs.iter().filter(|h| is_token_bookkeeping(h) == tokens).cloned().collect()
        };
        let (m, s) = (canonical(&part(&model.happenings)), canonical(&part(&sdk.happenings)));
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

/// The client token a request presented or an answer carried: bookkeeping for
/// `superseded-token-never-presented`.
fn is_token_bookkeeping(h: &Happening) -> bool {
    matches!(h, Happening::ClientTokenPresented { .. } | Happening::ClientTokenReceived { .. })
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

/// The system scenarios run on by default:
/// - a variant without defects on the model (the oracle's trace is what the snapshot
///   records);
/// - a variant with defects on the reference SDK with them switched on, in lockstep with the
///   model: its own trace is judged by every invariant and snapshotted, and the first
///   divergence is reported beside the violations — expected, since a defective SDK departs
///   from the model by design;
/// - a variant with `sdk: reference` on the defect-free reference SDK in lockstep with the
///   model: the same, and there a divergence is a failure (the scenario runner judges it).
pub fn default_system() -> &'static dyn System {
    &DefaultSystem
}

/// See [`default_system`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultSystem;

impl System for DefaultSystem {
    fn label(&self, sdk: SdkChoice, defects: &[Defect]) -> String {
        if defects.is_empty() {
            sdk.as_str().to_string()
        } else {
            let names: Vec<&str> = defects.iter().map(|d| d.as_str()).collect();
            format!("reference+{}", names.join("+"))
        }
    }

    fn run(
        &self,
        sdk: SdkChoice,
        setup: Setup,
        defects: &[Defect],
        events: &[Event],
        seed: Option<u64>,
    ) -> Result<SystemRun, SystemError> {
        if defects.is_empty() && sdk == SdkChoice::Model {
            return ModelSystem.run(sdk, setup, defects, events, seed);
        }
        // The work budget, measured on the model before the reference SDK starts: the same
        // events make about the same work there (issue 19: 29 s and 3 GB otherwise).
        crate::trace::try_run_model(setup, events, seed)
            .map_err(|e| SystemError::Failed(e.to_string()))?;
        let outcome = run_reference(setup, defects, events, seed);
        let divergence = match outcome.verdict {
            Verdict::Broken(e) => return Err(SystemError::Failed(e.to_string())),
            Verdict::Diverged(d) => Some(d),
            Verdict::Passed | Verdict::Violated(_) => None,
        };
        Ok(SystemRun {
            outcome: Outcome { trace: outcome.sdk, report: outcome.report },
            divergence,
        })
    }
}
