//! Traces: what a run recorded, step by step, and their byte-stable serialised form.
//!
//! A [`Trace`] is the setup, the system under test, the seed (if generated), and one
//! [`TraceStep`] per event: the instant it was applied, the event, and the [`Observation`]
//! after it. Serialisation is plain serde with ordered containers only, so the same seed gives
//! the same bytes (checked by the determinism test and `cargo xtask determinism`).

pub mod timeline;
pub mod verdict;
pub mod words;

use serde::{Deserialize, Serialize};

use crate::model::settings::Setup;
use crate::model::time::VTime;
use crate::model::vocab::Event;
use crate::model::world::JOBS_PER_STEP_MAX;
use crate::model::{Observation, World};

/// One event and what followed it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TraceStep {
    pub index: u32,
    /// The instant the event was applied (for `advance`, its start).
    pub at: VTime,
    pub event: Event,
    pub obs: Observation,
}

impl TraceStep {
    /// The instant the step ended.
    pub fn end(&self) -> VTime {
        self.at.plus(self.event.elapses_ms())
    }
}

/// A whole run.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Trace {
    pub setup: Setup,
    /// The system under test: `model`, `reference`, `reference+DEFECT`, `clerk-js@6.40.0`, …
    pub sdk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub steps: Vec<TraceStep>,
}

impl Trace {
    /// The events alone, as a trace replays them.
    pub fn events(&self) -> Vec<Event> {
        self.steps.iter().map(|s| s.event.clone()).collect()
    }

    /// Byte-stable JSON (one line per step), the form the determinism checks compare.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&(&self.setup, &self.sdk, &self.seed))
            .expect("trace headers always serialise");
        for step in &self.steps {
            out.push(b'\n');
            serde_json::to_writer(&mut out, step).expect("trace steps always serialise");
        }
        out
    }

    pub fn end(&self) -> VTime {
        self.steps.last().map(|s| s.end()).unwrap_or(VTime::ZERO)
    }
}

/// Longest trace a run accepts: a limit on everything (generated traces are far shorter).
pub const STEPS_MAX: usize = 100_000;

/// Runs `events` through the model world.
pub fn run_model(setup: Setup, events: &[Event], seed: Option<u64>) -> Trace {
    run_model_within_budget(setup, events, seed).0
}

/// A step that ran past the model's work budget ([`JOBS_PER_STEP_MAX`] agenda jobs): the
/// run stops there rather than spend seconds and gigabytes on one step.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "step {step} (`{event}` at t={at}) ran past the work budget of {JOBS_PER_STEP_MAX} timers \
     and responses in one step; split the wait into shorter `advance` steps or go back \
     online/foreground sooner (docs/LIMITS.md)"
)]
pub struct WorkBudgetExceeded {
    /// 0-based, as the step table numbers steps.
    pub step: usize,
    pub event: String,
    pub at: VTime,
}

/// [`run_model`], with an error when a step runs past its work budget.
pub fn try_run_model(
    setup: Setup,
    events: &[Event],
    seed: Option<u64>,
) -> Result<Trace, WorkBudgetExceeded> {
    match run_model_within_budget(setup, events, seed) {
        (trace, None) => Ok(trace),
        (_, Some(exceeded)) => Err(exceeded),
    }
}

/// The trace, stopped after the first step over budget (if any), and that step.
fn run_model_within_budget(
    setup: Setup,
    events: &[Event],
    seed: Option<u64>,
) -> (Trace, Option<WorkBudgetExceeded>) {
    let mut world = World::new(setup);
    let mut steps = Vec::with_capacity(events.len().min(STEPS_MAX));
    let mut exceeded = None;
    for (index, event) in events.iter().enumerate().take(STEPS_MAX) {
        let at = world.now();
        let obs = world.step(event);
        steps.push(TraceStep { index: index as u32, at, event: event.clone(), obs });
        if world.over_budget() {
            exceeded = Some(WorkBudgetExceeded { step: index, event: event.to_string(), at });
            break;
        }
    }
    (Trace { setup, sdk: "model".to_string(), seed, steps }, exceeded)
}

/// The numbered step table `cargo xtask replay` prints: time, event, route, isLoaded,
/// isSignedIn, session status (SDK's view / server's truth), requests in flight, and the
/// invariants broken at that step. With `details`, every happening is listed under its step.
pub fn step_table(trace: &Trace, report: &crate::trace::verdict::Report, details: bool) -> String {
    use std::fmt::Write as _;

    use crate::model::time::format_clock;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4}  {:>16}  {:<28} {:<26} {:<6} {:<9} {:<20} {:>3}  invariants",
        "#", "t", "event", "route", "loaded", "signed_in", "session (sdk/server)", "req",
    );
    for step in &trace.steps {
        let o = &step.obs;
        let signed_in = match o.view.is_signed_in {
            Some(true) => "true",
            Some(false) => "false",
            None => "undefined",
        };
        let sdk = o.view.session.map(|s| format!("{}:{}", s.id, s.status.as_str()));
        let server = o.server.session.map(|(id, st)| format!("{id}:{}", st.as_str()));
        let session = format!(
            "{}/{}",
            sdk.unwrap_or_else(|| "-".into()),
            server
                .map(|s| s.split(':').nth(1).unwrap_or("-").to_string())
                .unwrap_or_else(|| "-".into())
        );
        let broken: Vec<&str> = report
            .violations
            .iter()
            .filter(|v| v.step == step.index)
            .map(|v| v.invariant.as_str())
            .collect();
        let verdict = if broken.is_empty() {
            "ok".to_string()
        } else {
            format!("BROKEN {}", broken.join(", "))
        };
        let _ = writeln!(
            out,
            "{:>4}  {:>16}  {:<28} {:<26} {:<6} {:<9} {:<20} {:>3}  {}",
            step.index,
            format_clock(step.at.ms()),
            truncate(&step.event.to_string(), 28),
            truncate(&o.view.route.to_string(), 26),
            o.view.is_loaded,
            signed_in,
            truncate(&session, 20),
            o.in_flight,
            verdict
        );
        if details {
            for h in &o.happenings {
                let _ = writeln!(out, "{:>24}  {}", format_clock(h.at().ms()), describe(h));
            }
        }
    }
    out
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(width - 1).collect();
        s.push('…');
        s
    }
}

/// One line for a happening, for step tables and logs.
pub fn describe(h: &crate::model::vocab::Happening) -> String {
    use crate::model::vocab::{CallResult, Happening, RequestOutcome};
    match h {
        Happening::Rendered { view, .. } => format!("render {}", words::view(view)),
        Happening::CallStarted { call, kind, .. } => {
            format!("{call} {} started", words::word(kind))
        }
        Happening::CallSettled { call, kind, result, .. } => {
            let r = match result {
                CallResult::Token { token } => format!("token #{} exp={}", token.serial, token.exp),
                CallResult::Error { status, code } => format!("error {status} {code}"),
                other => words::word(other),
            };
            format!("{call} {} settled: {r}", words::word(kind))
        }
        Happening::RequestSent { req, endpoint, call, sid, template, .. } => format!(
            "{req} → {}{}{}{}",
            endpoint.as_str(),
            template.map(|t| format!("/{t}")).unwrap_or_default(),
            sid.map(|s| format!(" {s}")).unwrap_or_default(),
            call.map(|c| format!(" for {c}")).unwrap_or_default()
        ),
        Happening::RequestDone { req, endpoint, outcome, fault, .. } => {
            let o = match outcome {
                RequestOutcome::Answered { status, .. } => status.to_string(),
                RequestOutcome::NetworkError { committed } => {
                    format!("network error (committed={committed})")
                }
            };
            format!(
                "{req} ← {} {o}{}",
                endpoint.as_str(),
                fault.map(|f| format!(" [fault {}]", f.name())).unwrap_or_default()
            )
        }
        Happening::BackendHit { call, attempt, token, status, .. } => format!(
            "backend {call} attempt {attempt} token={} → {status}",
            token.map(|t| format!("#{} exp={}", t.serial, t.exp)).unwrap_or_else(|| "none".into())
        ),
        Happening::RetryScheduled { call, delay_ms, retry_after_ms, .. } => format!(
            "{call} retry in {}ms{}",
            delay_ms,
            retry_after_ms.map(|r| format!(" (Retry-After {r}ms)")).unwrap_or_default()
        ),
        Happening::NativeCalled { .. }
        | Happening::NativeRequest { .. }
        | Happening::NativeSignedIn { .. } => {
            crate::model::vocab::native_calls::describe(h).expect("a native happening")
        }
        Happening::StorageWritten { key, len, digest, stored_digest, credential, .. } => format!(
            "store {} {len}B {digest:016x}{}{}",
            key.as_str(),
            if digest != stored_digest { " TRUNCATED" } else { "" },
            if *credential { " (credential)" } else { "" }
        ),
        Happening::StorageRead { key, digest, .. } => format!(
            "read {} {}",
            key.as_str(),
            digest.map(|d| format!("{d:016x}")).unwrap_or_else(|| "nothing".into())
        ),
        Happening::ClientTokenPresented { req, token, .. } => format!("{req} presents {token}"),
        Happening::ClientTokenReceived { req, token, .. } => format!("{req} received {token}"),
        Happening::StorageDeleted { key, .. } => format!("delete {}", key.as_str()),
        Happening::StorageFailed { op, key, error, .. } => {
            format!("{} {} failed: {}", op.as_str(), key.as_str(), error.as_str())
        }
        Happening::SignedOut { cause, server_revoke, .. } => {
            format!(
                "signed out ({}){}",
                words::word(cause),
                if *server_revoke { " + server revoke" } else { "" }
            )
        }
        Happening::TimerFired { timer, due, at } => {
            format!(
                "timer {} (due {}, late {}ms)",
                words::word(timer),
                format_clock_ms(due.ms()),
                at.since(*due)
            )
        }
    }
}

fn format_clock_ms(ms: u64) -> String {
    crate::model::time::format_clock(ms)
}
