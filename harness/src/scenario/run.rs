//! Running a scenario: each variant on a system under test, then judging the outcome against
//! the variant's expectation and the inline `expect` steps, and, where the model ran
//! alongside, reporting where the SDK first departed from it.
//!
//! The system under test is a [`System`] (defined in `runner::system`, re-exported here):
//! anything that turns (the SDK a variant names, setup, defects, events, seed) into a
//! [`SystemRun`]. A divergence is its own item of a [`VariantRun`], apart from the
//! violations: on a variant with defects it shows where the defect first shows and fails
//! nothing; on a variant with `sdk: reference` it is a failure
//! ([`Variant::divergence_fails`]).

use std::fmt::Write as _;

use crate::invariants::InvariantId;
use crate::model::time::{VTime, format_clock, format_duration};
use crate::model::vocab::{
    AuthView, CallKind, CallResult, Defect, Endpoint, Happening, Route, SessionStatus,
};
use crate::runner::Outcome;
use crate::runner::divergence::Divergence;
use crate::trace::TraceStep;

use super::compile::{Check, CheckMode, Scenario, Variant};
use super::format::{CallKindName, CallResultName, ExpectSpec, RouteName, SessionStatusOrNone};

pub use crate::runner::lockstep::{DefaultSystem, default_system};
pub use crate::runner::system::{
    FnSystem, ModelSystem, RunFn, SdkChoice, System, SystemError, SystemRun, defect_list,
};

/// One variant's run and its verdict.
#[derive(Clone, Debug)]
pub struct VariantRun {
    pub variant: String,
    pub sdk: String,
    pub defects: Vec<Defect>,
    /// The SDK's trace (the model's, on the model) and its invariant report.
    pub outcome: Outcome,
    /// Where the SDK first departed from the model, when the model ran alongside: expected on
    /// a variant with defects, a failure on one with `sdk: reference`.
    pub divergence: Option<Divergence>,
    /// Everything that did not go as the scenario expects; empty when the variant passed.
    pub failures: Vec<String>,
    /// The inline checks that applied to this variant, with their results.
    pub checks: Vec<CheckResult>,
}

impl VariantRun {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// An inline `expect` and what came of it.
#[derive(Clone, Debug)]
pub struct CheckResult {
    pub line: u64,
    /// The trace step it followed.
    pub after_step: u32,
    /// `None` when every field matched; otherwise what differed.
    pub mismatch: Option<String>,
}

/// Runs one variant of `scenario` on `system` and judges it.
pub fn run_variant(
    scenario: &Scenario,
    variant: &Variant,
    system: &dyn System,
) -> Result<VariantRun, SystemError> {
    let SystemRun { outcome, divergence } = system.run(
        variant.sdk,
        variant.setup,
        &variant.defects,
        &scenario.events,
        scenario.seed,
    )?;
    let mut failures = Vec::new();
    if let Some(d) = divergence.as_ref().filter(|_| variant.divergence_fails()) {
        failures.push(format!(
            "{}; `sdk: reference` must agree with the model at every step\n  model: {}\n  sdk:   {}",
            d.departure(),
            d.model,
            d.sdk
        ));
    }
    let broken = outcome.report.broken();
    for id in &variant.expect.violates {
        if !broken.contains(id) {
            failures.push(format!("expected invariant `{id}` to break; it held"));
        }
    }
    for v in &outcome.report.violations {
        if variant.expect.violates.contains(&v.invariant) {
            continue;
        }
        let must_hold = match &variant.expect.holds_only {
            None => true,
            Some(list) => list.contains(&v.invariant),
        };
        if must_hold {
            failures.push(format!("unexpected violation: {v}"));
        }
    }
    let mut checks = Vec::new();
    // Counters run from the previous check *of this variant*: a check meant for another
    // variant must not swallow this variant's window.
    let mut since = 0;
    for check in scenario.checks.iter().filter(|c| c.applies_to(&variant.name)) {
        let mismatch = evaluate(check, since, &outcome.trace.steps);
        since = check.after;
        let after_step = (check.after - 1) as u32;
        if let Some(m) = &mismatch {
            let step = &outcome.trace.steps[check.after - 1];
            failures.push(format!(
                "{}:{}: expect after step {after_step} (t={}) failed: {m}",
                scenario.file,
                check.line,
                format_clock(step.end().ms())
            ));
        }
        checks.push(CheckResult { line: check.line, after_step, mismatch });
    }
    Ok(VariantRun {
        variant: variant.name.clone(),
        sdk: system.label(variant.sdk, &variant.defects),
        defects: variant.defects.clone(),
        outcome,
        divergence,
        failures,
        checks,
    })
}

/// Runs every variant.
pub fn run_all(
    scenario: &Scenario,
    system: &dyn System,
) -> Vec<(String, Result<VariantRun, SystemError>)> {
    scenario.variants.iter().map(|v| (v.name.clone(), run_variant(scenario, v, system))).collect()
}

fn route_name(route: &Route) -> RouteName {
    match route {
        Route::Closed => RouteName::Closed,
        Route::Loading => RouteName::Loading,
        Route::SignIn { .. } => RouteName::SignIn,
        Route::Protected { .. } => RouteName::Protected,
        Route::Task { .. } => RouteName::Task,
    }
}

fn status_name(status: Option<SessionStatus>) -> &'static str {
    status.map(|s| s.as_str()).unwrap_or("none")
}

fn call_kind(name: CallKindName) -> CallKind {
    match name {
        CallKindName::Load => CallKind::Load,
        CallKindName::GetToken => CallKind::GetToken,
        CallKindName::ApiCall => CallKind::ApiCall,
        CallKindName::SignIn => CallKind::SignIn,
        CallKindName::SignOut => CallKind::SignOut,
        CallKindName::SessionEnd => CallKind::SessionEnd,
        CallKindName::SessionRemove => CallKind::SessionRemove,
        CallKindName::CompleteTask => CallKind::CompleteTask,
        CallKindName::SetActive => CallKind::SetActive,
        CallKindName::ForegroundRefresh => CallKind::ForegroundRefresh,
    }
}

/// Judges one inline check by its mode; `None` when it holds. `eventually` and `never` look
/// at every render inside their window as well as at step ends, so a screen that came and
/// went in the middle of a long `advance` counts.
fn evaluate(check: &Check, since: usize, steps: &[TraceStep]) -> Option<String> {
    let first = check.after - 1;
    let start = steps[first].end();
    // The moments of step `i` inside the window: its renders, then its end.
    let moments = |i: usize, deadline: Option<VTime>| {
        let step = &steps[i];
        let renders = step.obs.happenings.iter().filter_map(move |h| match h {
            Happening::Rendered { at, view } if i > first => Some((*at, Some(view))),
            _ => None,
        });
        renders
            .chain(std::iter::once((step.end(), None)))
            .filter(move |(at, _)| deadline.is_none_or(|d| *at <= d))
    };
    match check.mode {
        CheckMode::Now => compare(&check.spec, since, steps, first, None),
        CheckMode::Eventually { within_ms } => {
            let deadline = start.plus(within_ms);
            let mut last = None;
            for i in first..steps.len() {
                if steps[i].at > deadline {
                    break;
                }
                for (at, view) in moments(i, Some(deadline)) {
                    match compare(&check.spec, since, steps, i, view) {
                        None => return None,
                        Some(m) => last = Some((at, m)),
                    }
                }
            }
            last.map(|(at, m)| {
                format!(
                    "nothing within {} matched; at the last moment (t={}): {m}",
                    format_duration(within_ms),
                    format_clock(at.ms())
                )
            })
        }
        CheckMode::Never { during_ms } => {
            let deadline = during_ms.map(|d| start.plus(d));
            for i in first..steps.len() {
                if deadline.is_some_and(|d| steps[i].at > d) {
                    break;
                }
                for (at, view) in moments(i, deadline) {
                    if compare(&check.spec, since, steps, i, view).is_none() {
                        return Some(format!(
                            "every field matched at t={} (step {i})",
                            format_clock(at.ms())
                        ));
                    }
                }
            }
            None
        }
    }
}

/// Compares a check's fields with the end of step `at` (counters from step `since`), or with
/// `render` (a view shown during that step) for the view's fields; `None` when everything
/// given matched.
fn compare(
    spec: &ExpectSpec,
    since: usize,
    steps: &[TraceStep],
    at: usize,
    render: Option<&AuthView>,
) -> Option<String> {
    let obs = &steps[at].obs;
    let view = render.unwrap_or(&obs.view);
    let mut diffs: Vec<String> = Vec::new();
    let mut differ = |field: &str, expected: String, observed: String| {
        if expected != observed {
            diffs.push(format!("{field}: expected {expected}, observed {observed}"));
        }
    };
    if let Some(route) = spec.route {
        differ("route", route.as_str().into(), route_name(&view.route).as_str().into());
    }
    if let Some(path) = &spec.path {
        let observed = match &view.route {
            Route::Protected { path } => format!("protected({path})"),
            other => other.to_string(),
        };
        differ("path", format!("protected({path})"), observed);
    }
    if let Some(return_to) = &spec.return_to {
        let observed = match &view.route {
            Route::SignIn { return_to: Some(p) } => format!("sign_in(return_to={p})"),
            Route::SignIn { return_to: None } => "sign_in(return_to=none)".into(),
            other => other.to_string(),
        };
        differ("return_to", format!("sign_in(return_to={return_to})"), observed);
    }
    if let Some(task) = spec.task {
        differ("task", format!("task({})", task.0.as_str()), view.route.to_string());
    }
    if let Some(loaded) = spec.loaded {
        differ("loaded", loaded.to_string(), view.is_loaded.to_string());
    }
    if let Some(signed_in) = spec.signed_in {
        let text = |v: Option<bool>| v.map(|b| b.to_string()).unwrap_or("undefined".into());
        differ("signed_in", text(signed_in.0), text(view.is_signed_in));
    }
    if let Some(status) = spec.session_status {
        differ(
            "session_status",
            status_name(status.status()).into(),
            status_name(view.session.map(|s| s.status)).into(),
        );
    }
    if let Some(status) = spec.server_status {
        differ(
            "server_status",
            status_name(SessionStatusOrNone::status(status)).into(),
            status_name(obs.server.session.map(|(_, s)| s)).into(),
        );
    }
    if let Some(state) = spec.app_state {
        differ("app_state", format!("{:?}", state.0), format!("{:?}", obs.device.app_state));
    }
    if let Some(network) = spec.network {
        differ("network", format!("{:?}", network.0), format!("{:?}", obs.device.network));
    }
    if let Some(n) = spec.in_flight {
        differ("in_flight", n.to_string(), obs.in_flight.to_string());
    }
    if let Some(n) = spec.open_calls {
        differ("open_calls", n.to_string(), obs.open_calls.to_string());
    }
    let window = || steps[since..=at].iter().flat_map(|s| s.obs.happenings.iter());
    if let Some(n) = spec.token_requests {
        let sent = window()
            .filter(|h| matches!(h, Happening::RequestSent { endpoint: Endpoint::Tokens, .. }))
            .count();
        differ("token_requests", n.to_string(), sent.to_string());
    }
    if let Some(statuses) = &spec.backend_statuses {
        let seen: Vec<u16> = window()
            .filter_map(|h| match h {
                Happening::BackendHit { status, .. } => Some(*status),
                _ => None,
            })
            .collect();
        differ("backend_statuses", format!("{statuses:?}"), format!("{seen:?}"));
    }
    if let Some(restores) = spec.credential_restores {
        differ(
            "credential_restores",
            restores.to_string(),
            obs.server.persisted_credential_valid.to_string(),
        );
    }
    if let Some(readable) = spec.storage_readable {
        differ("storage_readable", readable.to_string(), obs.device.storage_readable.to_string());
    }
    if let Some(signed_out) = spec.signed_out {
        let seen = window().any(|h| matches!(h, Happening::SignedOut { .. }));
        differ("signed_out", signed_out.to_string(), seen.to_string());
    }
    if let Some(last) = &spec.last_call {
        let kind = call_kind(last.kind);
        let all = || steps[..=at].iter().flat_map(|s| s.obs.happenings.iter());
        let latest = all()
            .filter_map(|h| match h {
                Happening::CallStarted { call, kind: k, .. } if *k == kind => Some(*call),
                _ => None,
            })
            .next_back();
        let observed = match latest {
            None => "no call".to_string(),
            Some(id) => {
                let settled = all().find_map(|h| match h {
                    Happening::CallSettled { call, result, .. } if *call == id => Some(result),
                    _ => None,
                });
                describe_result(settled, last.status.is_some(), last.code.is_some())
            }
        };
        let mut expected = match last.result {
            CallResultName::Pending => "pending".to_string(),
            CallResultName::Token => "token".to_string(),
            CallResultName::Null => "null".to_string(),
            CallResultName::Ok => "ok".to_string(),
            CallResultName::Killed => "killed".to_string(),
            CallResultName::Error => "error".to_string(),
        };
        if let Some(status) = last.status {
            let _ = write!(expected, " {status}");
        }
        if let Some(code) = &last.code {
            let _ = write!(expected, " {code}");
        }
        let kind_name = format!("last_call({kind:?})");
        differ(&kind_name, expected, observed);
    }
    if diffs.is_empty() { None } else { Some(diffs.join("; ")) }
}

fn describe_result(result: Option<&CallResult>, with_status: bool, with_code: bool) -> String {
    match result {
        None => "pending".into(),
        Some(CallResult::Token { .. }) => "token".into(),
        Some(CallResult::Null) => "null".into(),
        Some(CallResult::Ok) => "ok".into(),
        Some(CallResult::Killed) => "killed".into(),
        Some(CallResult::Error { status, code }) => {
            let mut text = "error".to_string();
            if with_status {
                let _ = write!(text, " {status}");
            }
            if with_code {
                let _ = write!(text, " {code}");
            }
            text
        }
    }
}

/// The report `cargo xtask replay` prints under the step table, in the style of STYLE.md:
/// each violation, the system and profile, and the command that replays it.
pub fn report(run: &VariantRun, variant: &Variant, replay: &str) -> String {
    let mut out = String::new();
    let seed = run
        .outcome
        .trace
        .seed
        .map(|s| format!("  seed: {}", crate::sim::format_seed(s)))
        .unwrap_or_default();
    let sdk = if run.defects.is_empty() {
        run.sdk.clone()
    } else {
        format!("{} [defects: {}]", run.sdk, defect_list(&run.defects))
    };
    for v in &run.outcome.report.violations {
        let _ = writeln!(out, "{v}");
        let _ = writeln!(out, "  sdk: {sdk}  profile: {}{seed}", variant.setup.profile);
        let _ = writeln!(out, "  replay: {replay}");
    }
    if run.outcome.report.violations.is_empty() {
        let _ = writeln!(out, "every invariant held ({} steps)", run.outcome.trace.steps.len());
    }
    if let Some(d) = &run.divergence {
        let why = if variant.divergence_fails() {
            "a failure: `sdk: reference` must agree with the model at every step".to_string()
        } else if !run.defects.is_empty() {
            format!(
                "expected: the defects [{}] depart from it by design",
                defect_list(&run.defects)
            )
        } else {
            "reported; the variant's expectations judge the run".to_string()
        };
        let _ = writeln!(out, "{} ({why})", d.departure());
        let _ = writeln!(out, "  model: {}", d.model);
        let _ = writeln!(out, "  sdk:   {}", d.sdk);
    }
    let expected: Vec<&str> = variant.expect.violates.iter().map(|i| i.as_str()).collect();
    let verdict = if run.passed() { "as expected" } else { "NOT as expected" };
    let _ = writeln!(out, "verdict: {verdict} (expected to break: [{}])", expected.join(", "));
    for f in &run.failures {
        let _ = writeln!(out, "  {f}");
    }
    out
}

/// Invariants a variant broke, for summaries.
pub fn broken(run: &VariantRun) -> Vec<InvariantId> {
    run.outcome.report.broken()
}
