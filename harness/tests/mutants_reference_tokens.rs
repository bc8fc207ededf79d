//! Tests written for mutants of the reference SDK's token room
//! (`harness/src/sdk/reference/js/tokens.rs`) and its timers that `cargo xtask mutants` found
//! missed: the cache's margins and its one slot per template, a stale answer's re-armed
//! timers, the defects that read a token answer, and the stray refresh's zero period.
//! Where the model makes the same call, a test runs the reference SDK in lockstep with it and
//! asserts what both do; a defect's rendering is asserted on the reference SDK's own trace.
//! The mutant each one catches is named below its doc (file: mutation, as cargo-mutants
//! prints it).
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use std::sync::mpsc;
use std::time::Duration;

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::templates::{TemplateSpec, Templates};
use session_harness::model::vocab::TokenInfo;
use session_harness::model::vocab::{
    AppState, CallResult, Defect, Endpoint, Event, FaultKind, FaultSpec, Happening, Platform,
    SignOutCause, TemplateName, TimerKind,
};
use session_harness::runner::lockstep::{self, LockstepOutcome};
use session_harness::trace::{Trace, TraceStep};

mod mutants_support;
use mutants_support::{sent, sign_outs};

/// Signed in on a cold start: the first four steps of most tests below.
fn signed_in() -> Vec<Event> {
    vec![
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
    ]
}

fn fault(kind: FaultKind, count: u32, on: Endpoint) -> Event {
    Event::Fault(FaultSpec { kind, count, on: Some(on) })
}

fn get_token(skip_cache: bool) -> Event {
    Event::GetToken { skip_cache, template: None }
}

/// `getToken({ template: "backend" })`, a template [`with_template`] gives the instance.
fn template_token() -> Event {
    let name = TemplateName::parse("backend").expect("a template name");
    Event::GetToken { skip_cache: false, template: Some(name) }
}

/// `setup` on an instance with the JWT template `backend` (60 s, like the session token).
fn with_template(mut setup: Setup) -> Setup {
    let spec = TemplateSpec { lifetime_ms: 60_000, claims: [("aud".into(), "api".into())].into() };
    setup.instance.templates =
        Templates::from_specs(&[("backend".to_string(), spec)].into()).expect("a valid template");
    setup
}

/// The token a `getToken` of this step settled with, if any.
fn settled_token(step: &TraceStep) -> Option<TokenInfo> {
    step.obs.happenings.iter().find_map(|h| match h {
        Happening::CallSettled { result: CallResult::Token { token }, .. } => Some(*token),
        _ => None,
    })
}

/// The reference SDK in lockstep with the model: they must agree on every step.
fn agree(setup: Setup, events: &[Event]) -> LockstepOutcome {
    let run = lockstep::run_reference(setup, &[], events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(run.sdk.steps.len(), events.len(), "every step ran");
    run
}

/// Under `profile`, with every refresh failing (503) so the sign-in's token stays cached, a
/// `getToken` with `left` ms of that token to go: whether it is served from the cache (with no
/// request of its own), for each `(left, hits)` given, in lockstep with the model.
fn cache_serves_at(profile: ProfileId, cases: [(u64, bool); 2]) {
    let setup = Setup::new(Platform::Android, profile);
    let mut events = signed_in();
    events.push(fault(FaultKind::ServerError { status: 503 }, 1_000, Endpoint::Tokens));
    // The token cached at the end of `events`, and that instant: asked with one more getToken.
    let mut probe = events.clone();
    probe.push(get_token(false));
    let probed = agree(setup, &probe);
    let last = probed.sdk.steps.last().unwrap();
    let exp = settled_token(last).expect("the signed-in session has a token").exp;
    let now = last.at.unix_ms();
    for (left, hits) in cases {
        let mut run = events.clone();
        run.push(Event::Advance { ms: exp * 1000 - left - now });
        run.push(get_token(false));
        let run = agree(setup, &run);
        let step = run.sdk.steps.last().unwrap();
        let cached = settled_token(step).is_some_and(|t| t.exp == exp);
        // The call's own request (a documented hit this close to expiry also starts a
        // background refresh, which no call waits on).
        let asked = step.obs.happenings.iter().any(|h| {
            matches!(h, Happening::RequestSent { endpoint: Endpoint::Tokens, call: Some(_), .. })
        });
        assert_eq!((cached, asked), (hits, !hits), "{left} ms left: {:?}", step.obs.happenings);
    }
}

/// `clerk-js-6` serves `getToken` from its cache only while *more than* 5 s of the token
/// remain: 5001 ms left is a hit, exactly 5000 ms goes to FAPI — on the reference SDK as on
/// the model.
///
/// Catches `sdk/reference/js/tokens.rs: replace > with >= in Core::token_next` (the hit margin).
#[test]
fn the_reference_cache_hits_only_while_more_than_the_margin_remains() {
    let margin = ProfileId::ClerkJs6.rules().hit_min_remaining_ms;
    assert_eq!(margin, 5_000, "clerk-js-6 keeps a 5 s margin");
    cache_serves_at(ProfileId::ClerkJs6, [(margin + 1, true), (margin, false)]);
}

/// The documented cache serves a token while it has any time left (stale-while-revalidate):
/// 1 ms left is a hit, none left goes to FAPI.
///
/// Catches `sdk/reference/js/tokens.rs: replace > with >= in Core::token_next` (`remaining > 0`).
#[test]
fn the_reference_cache_serves_no_token_with_no_time_left() {
    cache_serves_at(ProfileId::Documented, [(1, true), (0, false)]);
}

/// The documented cache keeps one slot per template: a fresh session token replaces the
/// session token's entry and leaves a JWT template's entry alone, so a second `getToken` of
/// the template is a cache hit.
///
/// Catches `sdk/reference/js/tokens.rs: replace != with == in Core::set_cached`.
#[test]
fn a_session_token_leaves_a_template_entry_in_the_one_slot_cache() {
    let setup = with_template(Setup::new(Platform::Android, ProfileId::Documented));
    let mut events = signed_in();
    events.push(template_token());
    events.push(Event::Advance { ms: 2_000 });
    events.push(get_token(true));
    events.push(Event::Advance { ms: 2_000 });
    events.push(template_token());
    let run = agree(setup, &events);
    let first = settled_token(&run.sdk.steps[5]).expect("the template's token, 50 ms later");
    let again = run.sdk.steps.last().unwrap();
    assert_eq!(settled_token(again), Some(first), "the template's entry is still cached");
    assert!(!sent(again).contains(&Endpoint::Tokens), "{:?}", again.obs.happenings);
}

/// The documented cache compares an incoming session token with the session token's entry,
/// not with a JWT template's: a session token minted before a template's, answered after it
/// (a 20 s latency), still replaces the older session token.
///
/// Catches `sdk/reference/js/tokens.rs: replace == with != in Core::set_cached`.
#[test]
fn a_late_session_token_is_compared_with_the_session_entry() {
    let setup = with_template(Setup::new(Platform::Android, ProfileId::Documented));
    let mut events = signed_in();
    events.push(fault(FaultKind::Latency { ms: 20_000 }, 1, Endpoint::Tokens));
    events.push(get_token(true));
    events.push(Event::Advance { ms: 5_000 });
    events.push(template_token());
    events.push(Event::Advance { ms: 20_000 });
    events.push(get_token(false));
    let run = agree(setup, &events);
    let late = run.sdk.steps[8]
        .obs
        .happenings
        .iter()
        .find_map(|h| match h {
            Happening::CallSettled { result: CallResult::Token { token }, .. }
                if token.template.is_none() =>
            {
                Some(*token)
            }
            _ => None,
        })
        .expect("the slow getToken settled");
    let template = settled_token(&run.sdk.steps[8]).expect("the template's token came first");
    assert!(template.template.is_some() && template.serial > late.serial, "{template:?}");
    let last = run.sdk.steps.last().unwrap();
    assert_eq!(settled_token(last), Some(late), "{:?}", last.obs.happenings);
}

/// Under clerk-js-6 a stale token answer (an older token, answered after a newer one is
/// cached) keeps the newer token and re-arms its timers from the instant it lands: here a
/// 20.25 s latency lands it off the second, so the refresh timer fires a quarter second later
/// than the newer token's own would have — on the reference SDK as on the model.
///
/// Catches `sdk/reference/js/tokens.rs: replace match guard t.serial >= token.serial with
/// false in Core::set_cached` and `delete ! in Core::set_cached`.
#[test]
fn a_stale_token_answer_keeps_the_newer_token_and_rearms_its_timers() {
    let setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    let mut events = signed_in();
    events.push(fault(FaultKind::Latency { ms: 20_250 }, 1, Endpoint::Tokens));
    events.push(get_token(true));
    events.push(Event::Advance { ms: 5_000 });
    events.push(get_token(true));
    events.push(Event::Advance { ms: 20_000 });
    events.push(get_token(false));
    events.push(Event::Advance { ms: 60_000 });
    let run = agree(setup, &events);
    // Step 8 settles the fast getToken first (50 ms), then the slow one.
    let newer = settled_token(&run.sdk.steps[8]).expect("the fast getToken settled");
    assert_eq!(settled_token(&run.sdk.steps[9]), Some(newer), "the newer token stays cached");
    let fired: Vec<u64> = run.sdk.steps[9..]
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::TimerFired { at, timer: TimerKind::TokenRefresh, .. } => Some(at.ms()),
            _ => None,
        })
        .collect();
    assert!(fired.iter().any(|ms| ms % 1_000 == 250), "re-armed off the second: {fired:?}");
}

/// A signed-in documented app with `defect` on whose foreground `getToken({ skipCache })`
/// meets `kind` (asserted: step 6 shows the faulted answer), then `more` events; nobody is
/// signed out.
fn foreground_fault_signs_nobody_out(defect: Defect, kind: FaultKind, more: &[Event]) -> Trace {
    let setup = Setup::new(Platform::Android, ProfileId::Documented);
    let mut events = signed_in();
    events.extend([
        fault(kind, 1, Endpoint::Tokens),
        get_token(true),
        Event::Advance { ms: 2_000 },
    ]);
    events.extend_from_slice(more);
    let trace = lockstep::run_sdk(setup, &[defect], &events, None);
    let faulted = trace.steps[6].obs.happenings.iter().any(|h| {
        matches!(h, Happening::RequestDone { endpoint: Endpoint::Tokens, fault: Some(f), .. } if *f == kind)
    });
    assert!(faulted, "the getToken's request met {kind:?}: {:?}", trace.steps[6]);
    assert_eq!(sign_outs(&trace.steps), Vec::<SignOutCause>::new());
    trace
}

/// `stale-timer-logout` signs out on a *background* refresh's 401 only: a foreground
/// `getToken` answered 401 and a background refresh answered 200 sign nobody out.
///
/// Catches `sdk/reference/js/tokens.rs: replace && with || in Core::fetch_answer` (the first
/// `&&` of the 401 check) and `replace == with != in Core::fetch_answer`.
#[test]
fn stale_timer_logout_reads_only_a_background_refresh_401() {
    let more = [Event::Advance { ms: 60_000 }];
    let trace =
        foreground_fault_signs_nobody_out(Defect::StaleTimerLogout, FaultKind::Unauthorized, &more);
    let refreshed = trace.steps[7]
        .obs
        .happenings
        .iter()
        .any(|h| matches!(h, Happening::TimerFired { timer: TimerKind::TokenRefresh, .. }));
    assert!(refreshed, "a background refresh ran: {:?}", trace.steps[7]);
}

/// `refresh-error-removes-session` removes the session on a *background* refresh's network
/// error only: a foreground `getToken` whose request is lost removes nothing.
///
/// Catches `sdk/reference/js/tokens.rs: replace && with || in Core::fetch_answer` (the
/// failed-refresh check).
#[test]
fn refresh_error_removes_session_reads_only_a_background_refresh() {
    let defect = Defect::RefreshErrorRemovesSession;
    foreground_fault_signs_nobody_out(defect, FaultKind::DropBeforeCommit, &[]);
}

/// `refresh-loop-per-resume` arms a stray refresh one refresh period after each resume; with
/// a session token of 17 s or less (clerk-js-6 refreshes 17 s before expiry) the period is
/// zero and nothing is armed. A zero-period loop would never let the step end, so the run
/// gets 5 s of wall time (it takes milliseconds), less than a mutation run's own timeout.
///
/// Catches `sdk/reference/js/lifecycle.rs: replace > with >= in Core::arm_stray_refresh`.
#[test]
fn a_stray_refresh_with_no_period_is_not_armed() {
    let mut setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    setup.instance.session_token_ttl_ms = 15_000;
    let mut events = signed_in();
    events.extend([
        Event::AppState { state: AppState::Background },
        Event::Advance { ms: 1_000 },
        Event::AppState { state: AppState::Active },
        Event::Advance { ms: 5_000 },
    ]);
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let trace = lockstep::run_sdk(setup, &[Defect::RefreshLoopPerResume], &events, None);
        let _ = done.send(trace);
    });
    let trace = finished
        .recv_timeout(Duration::from_secs(5))
        .expect("the run ended: no refresh loop with a zero period");
    let last = trace.steps.last().unwrap();
    assert!(last.obs.view.is_signed_in == Some(true), "{:?}", last.obs.view);
}
