//! Every invariant can fail: for each of the twenty, a model trace is altered the way the
//! bug it guards against would alter it, and the check must report exactly that invariant at
//! exactly that step — and the unaltered trace must pass.
//!
//! The alterations are small and named after the bug they stand for, so each test reads as
//! "this is what a broken SDK would have shown".

use session_harness::invariants::{self, InvariantId, Report};
use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::time::{MINUTE_MS, SECOND_MS};
use session_harness::model::vocab::*;
use session_harness::trace::{Trace, run_model};

fn setup() -> Setup {
    Setup::new(Platform::Ios, ProfileId::Documented)
}

fn advance(ms: u64) -> Event {
    Event::Advance { ms }
}

fn path(p: &str) -> AppPath {
    AppPath::new(p)
}

/// A signed-in app: launch, load, sign in, settle.
fn signed_in() -> Vec<Event> {
    vec![Event::ColdStart, advance(SECOND_MS), Event::SignIn { task: None }, advance(SECOND_MS)]
}

fn run(events: &[Event]) -> Trace {
    let trace = run_model(setup(), events, None);
    let clean = invariants::check(&trace);
    assert!(clean.violations.is_empty(), "the unaltered trace must pass: {:?}", clean.violations);
    trace
}

/// Asserts `report` holds `id` at `step` and nothing else.
fn assert_only(report: &Report, id: InvariantId, step: u32) {
    let broken = report.broken();
    assert_eq!(broken, vec![id], "expected only `{id}`, got {:#?}", report.violations);
    let first = report.first(id).expect("violated");
    assert_eq!(first.step, step, "{first}");
    assert!(!first.expected.is_empty() && !first.observed.is_empty());
}

fn step_of(trace: &Trace, pred: impl Fn(&Event) -> bool) -> usize {
    trace.steps.iter().position(|s| pred(&s.event)).expect("the step exists")
}

fn happenings(trace: &mut Trace, step: usize) -> &mut Vec<Happening> {
    &mut trace.steps[step].obs.happenings
}

#[test]
fn loaded_before_protected_catches_a_protected_screen_while_loading() {
    let mut trace = run(&signed_in());
    // redirect-before-loaded: the guard rendered the protected screen during load.
    let at = trace.steps[0].at;
    let view = AuthView {
        route: Route::Protected { path: AppPath::home() },
        is_loaded: false,
        is_signed_in: None,
        session: None,
    };
    happenings(&mut trace, 0).push(Happening::Rendered { at, view });
    assert_only(&invariants::check(&trace), InvariantId::LoadedBeforeProtected, 0);
}

#[test]
fn pending_routes_to_task_catches_a_pending_session_sent_to_sign_in() {
    let events = vec![
        Event::ColdStart,
        advance(SECOND_MS),
        Event::SignIn { task: Some(TaskKey::SetupMfa) },
        advance(SECOND_MS),
    ];
    let mut trace = run(&events);
    for h in happenings(&mut trace, 3) {
        if let Happening::Rendered { view, .. } = h
            && view.session.is_some_and(|s| s.status == SessionStatus::Pending)
        {
            view.route = Route::SignIn { return_to: None };
        }
    }
    assert_only(&invariants::check(&trace), InvariantId::PendingRoutesToTask, 3);
}

#[test]
fn revoked_like_expired_catches_a_revoked_session_kept_signed_in() {
    let mut events = signed_in();
    events.extend([
        Event::Revoke,
        advance(2 * MINUTE_MS),
        Event::GetToken { skip_cache: false, template: None },
    ]);
    let revoked = run(&events);
    let expired = run(&invariants::expired_twin(&events));
    assert!(invariants::check_revoked_like_expired(&revoked, &expired).violations.is_empty());
    // revoked-ignored: the SDK kept the revoked session as if it were still signed in.
    let mut broken = revoked.clone();
    let step = 5;
    broken.steps[step].obs.view = broken.steps[3].obs.view.clone();
    let report = invariants::check_revoked_like_expired(&broken, &expired);
    assert_only(&report, InvariantId::RevokedLikeExpired, step as u32);
}

#[test]
fn restore_after_cold_start_catches_a_session_not_restored() {
    let mut events = signed_in();
    events.extend([Event::Kill, advance(5 * MINUTE_MS), Event::ColdStart, advance(3 * SECOND_MS)]);
    let mut trace = run(&events);
    // The relaunch, not the first launch.
    let cold =
        trace.steps.iter().rposition(|s| matches!(s.event, Event::ColdStart)).expect("relaunch");
    // ios-native-cache-wipe: the load ends signed out although the server still has the session.
    for step in &mut trace.steps[cold + 1..] {
        for h in &mut step.obs.happenings {
            if let Happening::Rendered { view, .. } = h
                && view.session.is_some()
            {
                view.session = None;
                view.is_signed_in = Some(false);
                view.route = Route::SignIn { return_to: None };
            }
        }
    }
    assert_only(&invariants::check(&trace), InvariantId::RestoreAfterColdStart, cold as u32);
}

#[test]
fn nothing_destructive_while_loading_catches_a_wipe_during_load() {
    let mut events = signed_in();
    events.extend([Event::JsReload, advance(SECOND_MS)]);
    let mut trace = run(&events);
    let reload = step_of(&trace, |e| matches!(e, Event::JsReload));
    // signout-while-loading: the native sign-out wiped the native device token before isLoaded.
    let at = trace.steps[reload].at;
    happenings(&mut trace, reload)
        .push(Happening::StorageDeleted { at, key: StorageKey::NativeDeviceToken });
    assert_only(
        &invariants::check(&trace),
        InvariantId::NothingDestructiveWhileLoading,
        reload as u32,
    );
}

#[test]
fn nothing_destructive_while_loading_catches_a_native_session_removal() {
    let mut events = signed_in();
    events.extend([Event::JsReload, advance(SECOND_MS)]);
    let clean = run(&events);
    let reload = step_of(&clean, |e| matches!(e, Event::JsReload));
    let at = clean.steps[reload].at;
    // 3.2.7: native signOut() while the reloaded runtime loads removes the native session.
    let mut trace = clean.clone();
    happenings(&mut trace, reload).push(Happening::NativeRequest {
        at,
        endpoint: session_harness::model::vocab::Endpoint::Remove,
        status: 200,
    });
    assert_only(
        &invariants::check(&trace),
        InvariantId::NothingDestructiveWhileLoading,
        reload as u32,
    );
    // The native cached client dropped on a token change is a cache, not a credential.
    let mut cache = clean;
    happenings(&mut cache, reload)
        .push(Happening::StorageDeleted { at, key: StorageKey::NativeCachedClient });
    assert!(invariants::check(&cache).violations.is_empty());
}

#[test]
fn single_flight_refresh_catches_two_token_requests_in_flight() {
    let mut events = signed_in();
    events.extend([Event::GetToken { skip_cache: true, template: None }, advance(SECOND_MS)]);
    let mut trace = run(&events);
    let step = 4;
    // no-single-flight: a second caller started its own request.
    let duplicate = happenings(&mut trace, step)
        .iter()
        .find_map(|h| match h {
            Happening::RequestSent { at, endpoint: Endpoint::Tokens, call, sid, .. } => {
                Some(Happening::RequestSent {
                    at: *at,
                    req: RequestId(9_999),
                    endpoint: Endpoint::Tokens,
                    call: *call,
                    sid: *sid,
                    template: None,
                    instance: 0,
                })
            }
            _ => None,
        })
        .expect("the skip-cache call sent a token request");
    happenings(&mut trace, step).push(duplicate);
    assert_only(&invariants::check(&trace), InvariantId::SingleFlightRefresh, step as u32);
}

/// Token requests are single-flight per token, not per session: a template's request beside
/// the session token's is two fetches of two tokens (clerk-js keys them by `tokenId`), and a
/// second request of the same template is the race the invariant is about.
#[test]
fn single_flight_refresh_counts_per_template() {
    let mut events = signed_in();
    events.extend([Event::GetToken { skip_cache: true, template: None }, advance(SECOND_MS)]);
    let mut trace = run(&events);
    let step = 4;
    let supabase = Some(TemplateName::parse("supabase").expect("a valid name"));
    let sent = |req: u32, template| {
        move |h: &Happening| match h {
            Happening::RequestSent { at, endpoint: Endpoint::Tokens, call, sid, .. } => {
                Some(Happening::RequestSent {
                    at: *at,
                    req: RequestId(req),
                    endpoint: Endpoint::Tokens,
                    call: *call,
                    sid: *sid,
                    template,
                    instance: 0,
                })
            }
            _ => None,
        }
    };
    let template_fetch = happenings(&mut trace, step).iter().find_map(sent(9_998, supabase));
    happenings(&mut trace, step).push(template_fetch.expect("a token request was sent"));
    let report = invariants::check(&trace);
    assert!(
        report.violations.is_empty(),
        "a template's fetch beside the session token's is no race: {:?}",
        report.violations
    );
    let second = happenings(&mut trace, step).iter().find_map(sent(9_999, supabase));
    happenings(&mut trace, step).push(second.expect("a token request was sent"));
    assert_only(&invariants::check(&trace), InvariantId::SingleFlightRefresh, step as u32);
}

/// A template token is judged on its own `exp`: served past it, it is stale, whatever the
/// session token's lifetime.
#[test]
fn fresh_token_only_judges_a_template_token_by_its_own_expiry() {
    let mut events = signed_in();
    events.push(Event::GetToken { skip_cache: false, template: None });
    let mut trace = run(&events);
    let step = trace.steps.len() - 1;
    let template = Some(TemplateName::parse("supabase").expect("a valid name"));
    for h in happenings(&mut trace, step).iter_mut() {
        if let Happening::CallSettled { at, result: CallResult::Token { token }, .. } = h {
            // Minted an hour ago with a 30 s lifetime: long dead, though a fresh session
            // token of the same session is live.
            token.template = template;
            token.iat = at.unix_s() - 3_600;
            token.nbf = token.iat - 10;
            token.exp = token.iat + 30;
        }
    }
    assert_only(&invariants::check(&trace), InvariantId::FreshTokenOnly, step as u32);
}

#[test]
fn fresh_token_only_catches_an_expired_token_returned() {
    let mut events = signed_in();
    events.push(Event::GetToken { skip_cache: false, template: None });
    let mut trace = run(&events);
    for h in happenings(&mut trace, 4) {
        if let Happening::CallSettled { result: CallResult::Token { token }, at, .. } = h {
            token.exp = at.unix_s() - 30;
        }
    }
    assert_only(&invariants::check(&trace), InvariantId::FreshTokenOnly, 4);
}

#[test]
fn transient_never_signs_out_catches_a_sign_out_on_a_5xx() {
    let mut events = signed_in();
    events.extend([
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 503 },
            count: 1,
            on: None,
        }),
        Event::GetToken { skip_cache: true, template: None },
        advance(SECOND_MS),
    ]);
    let mut trace = run(&events);
    // The 503 was taken as the end of the session.
    let at = trace.steps[6].at.plus(60);
    happenings(&mut trace, 6).push(Happening::SignedOut {
        at,
        cause: SignOutCause::ClientPayload,
        server_revoke: false,
    });
    assert_only(&invariants::check(&trace), InvariantId::TransientNeverSignsOut, 6);
}

#[test]
fn terminal_is_final_catches_a_revoked_session_that_stays_on_screen() {
    let mut events = signed_in();
    events.extend([Event::Revoke, advance(5 * MINUTE_MS)]);
    let mut trace = run(&events);
    // The app never noticed: it still shows the session five minutes later.
    let kept = trace.steps[3].obs.view.clone();
    trace.steps[5].obs.view = kept;
    trace.steps[5]
        .obs
        .happenings
        .retain(|h| !matches!(h, Happening::Rendered { .. } | Happening::SignedOut { .. }));
    assert_only(&invariants::check(&trace), InvariantId::TerminalIsFinal, 5);
}

#[test]
fn terminal_is_final_counts_ios_inactive_as_foreground() {
    // iOS: the app is on screen but `inactive` (Control Center, a call banner) when the
    // session is revoked; JS runs, so the bound applies as in `active`.
    let mut events = signed_in();
    events.extend([
        Event::AppState { state: AppState::Inactive },
        Event::Revoke,
        advance(5 * MINUTE_MS),
    ]);
    let mut trace = run(&events);
    let kept = trace.steps[3].obs.view.clone();
    trace.steps[6].obs.view = kept;
    trace.steps[6]
        .obs
        .happenings
        .retain(|h| !matches!(h, Happening::Rendered { .. } | Happening::SignedOut { .. }));
    assert_eq!(trace.steps[6].obs.device.app_state, AppState::Inactive);
    assert_only(&invariants::check(&trace), InvariantId::TerminalIsFinal, 6);
}

#[test]
fn storage_round_trips_catches_a_value_the_platform_cannot_read_back() {
    let mut events = signed_in();
    events.extend([Event::Kill, Event::ColdStart, advance(SECOND_MS)]);
    let mut trace = run(&events);
    // The relaunch's read of the client token fails: the value is over the item limit.
    let at = trace.steps[5].at;
    let step = happenings(&mut trace, 5);
    step.retain(|h| !matches!(h, Happening::StorageRead { key: StorageKey::ClientJwt, .. }));
    step.push(Happening::StorageFailed {
        at,
        op: StorageOp::Read,
        key: StorageKey::ClientJwt,
        error: StorageError::TooLarge,
    });
    assert_only(&invariants::check(&trace), InvariantId::StorageRoundTrips, 5);
}

#[test]
fn calls_settle_catches_a_call_that_never_settles() {
    let mut events = signed_in();
    events.extend([Event::GetToken { skip_cache: true, template: None }, advance(30 * MINUTE_MS)]);
    let mut trace = run(&events);
    // retry-401-loop's "queued calls hanging": the call's settlement never comes.
    for step in &mut trace.steps {
        step.obs
            .happenings
            .retain(|h| !matches!(h, Happening::CallSettled { kind: CallKind::GetToken, .. }));
    }
    assert_only(&invariants::check(&trace), InvariantId::CallsSettle, 5);
}

/// Signed in, then a `getToken({ skipCache })` answered 429 with `Retry-After: 30` (step 6).
fn rate_limited_get_token() -> Vec<Event> {
    let mut events = signed_in();
    events.extend([
        Event::Fault(FaultSpec {
            kind: FaultKind::RateLimited { retry_after_ms: 30_000 },
            count: 1,
            on: Some(Endpoint::Tokens),
        }),
        Event::GetToken { skip_cache: true, template: None },
        advance(MINUTE_MS),
    ]);
    events
}

#[test]
fn retry_discipline_catches_a_429_retried_before_retry_after() {
    let events = rate_limited_get_token();
    let mut trace = run(&events);
    let mut changed = false;
    for h in happenings(&mut trace, 6) {
        if let Happening::RetryScheduled { delay_ms, .. } = h {
            *delay_ms = 3_000;
            changed = true;
        }
    }
    assert!(changed, "the 429 was retried");
    assert_only(&invariants::check(&trace), InvariantId::RetryDiscipline, 6);
}

/// An SDK that retries inside its own code (the real clerk-js behind an adapter) declares no
/// `RetryScheduled`: the retry's send time is what is judged.
#[test]
fn retry_discipline_catches_an_undeclared_retry_sent_before_retry_after() {
    let events = rate_limited_get_token();
    let mut trace = run(&events);
    let list = happenings(&mut trace, 6);
    let answered = list
        .iter()
        .find_map(|h| match h {
            Happening::RequestDone {
                at,
                outcome: RequestOutcome::Answered { status: 429, .. },
                ..
            } => Some(*at),
            _ => None,
        })
        .expect("the 429 was answered");
    list.retain(|h| !matches!(h, Happening::RetryScheduled { .. }));
    let mut moved = false;
    for h in list.iter_mut() {
        if let Happening::RequestSent { at, endpoint: Endpoint::Tokens, .. } = h
            && *at > answered
        {
            *at = answered.plus(3_000);
            moved = true;
        }
    }
    assert!(moved, "the 429 was retried");
    assert_only(&invariants::check(&trace), InvariantId::RetryDiscipline, 6);
    // The same trace with the retry sent after Retry-After holds.
    let mut patient = run(&events);
    happenings(&mut patient, 6).retain(|h| !matches!(h, Happening::RetryScheduled { .. }));
    assert!(invariants::check(&patient).violations.is_empty(), "{:?}", invariants::check(&patient));
}

#[test]
fn signout_is_final_catches_a_credential_written_back() {
    let mut events = signed_in();
    events.extend([Event::SignOut, advance(SECOND_MS), Event::Navigate { path: path("/home") }]);
    let mut trace = run(&events);
    // A late response wrote a usable client token after the sign-out.
    let at = trace.steps[6].at;
    happenings(&mut trace, 6).push(Happening::StorageWritten {
        at,
        key: StorageKey::ClientJwt,
        len: 518,
        digest: 1,
        stored_digest: 1,
        credential: true,
    });
    assert_only(&invariants::check(&trace), InvariantId::SignoutIsFinal, 6);
}

#[test]
fn storage_round_trips_catches_a_truncated_value() {
    let mut events = signed_in();
    events.extend([Event::Kill, Event::ColdStart, advance(SECOND_MS)]);
    let mut trace = run(&events);
    let cold =
        trace.steps.iter().rposition(|s| matches!(s.event, Event::ColdStart)).expect("cold start");
    // securestore-truncation: what comes back is not what was written.
    for h in happenings(&mut trace, cold) {
        if let Happening::StorageRead { digest, .. } = h {
            *digest = Some(0xdead);
        }
    }
    assert_only(&invariants::check(&trace), InvariantId::StorageRoundTrips, cold as u32);
}

#[test]
fn return_to_preserved_catches_a_user_sent_home_after_re_authentication() {
    let mut events = signed_in();
    events.extend([
        Event::Navigate { path: path("/checkout") },
        Event::ExpireNow,
        advance(2 * MINUTE_MS),
        Event::SignIn { task: None },
        advance(SECOND_MS),
    ]);
    let mut trace = run(&events);
    let last = trace.steps.len() - 1;
    for h in happenings(&mut trace, last) {
        if let Happening::Rendered { view, .. } = h
            && let Route::Protected { path } = &mut view.route
        {
            *path = AppPath::home();
        }
    }
    assert_only(&invariants::check(&trace), InvariantId::ReturnToPreserved, last as u32);
}

#[test]
fn signout_settles_catches_an_app_left_loading_with_its_credential() {
    let mut events = signed_in();
    events.extend([Event::SignOut, advance(SECOND_MS)]);
    let mut trace = run(&events);
    // A sign-out that failed and left `session = undefined`: the loading screen stays, and
    // the stored client token still restores the session.
    let loading =
        AuthView { route: Route::Loading, is_loaded: false, is_signed_in: None, session: None };
    let step = trace.steps.len() - 1;
    for h in happenings(&mut trace, step) {
        if let Happening::Rendered { view, .. } = h {
            *view = loading.clone();
        }
        if let Happening::SignedOut { .. } = h {
            *h = Happening::TimerFired { at: h.at(), timer: TimerKind::Retry, due: h.at() };
        }
    }
    trace.steps[step].obs.view = loading;
    trace.steps[step].obs.server.persisted_credential_valid = true;
    assert_only(&invariants::check(&trace), InvariantId::SignoutSettles, step as u32);
}

#[test]
fn eventually_signed_in_catches_an_app_that_gives_up_after_an_offline_start() {
    let mut events = signed_in();
    events.extend([
        Event::Kill,
        Event::Network { state: Network::Offline },
        Event::ColdStart,
        advance(5 * MINUTE_MS),
        Event::Network { state: Network::Online },
        advance(3 * MINUTE_MS),
    ]);
    let mut trace = run(&events);
    let last = trace.steps.len() - 1;
    // The SDK gave up for good on the failed start: once the network is back, nothing
    // reloads, and the app stays on the sign-in screen with a credential that would work.
    let gave_up = AuthView {
        route: Route::SignIn { return_to: None },
        is_loaded: true,
        is_signed_in: Some(false),
        session: None,
    };
    happenings(&mut trace, last).retain(|h| !matches!(h, Happening::Rendered { .. }));
    trace.steps[last].obs.view = gave_up;
    assert_only(&invariants::check(&trace), InvariantId::EventuallySignedIn, last as u32);
}

#[test]
fn one_refresh_schedule_catches_a_second_refresh_loop() {
    let mut events = signed_in();
    events.push(advance(2 * MINUTE_MS));
    let mut trace = run(&events);
    let last = trace.steps.len() - 1;
    // A second schedule, armed on the last resume and never cleared: its timer fires 5 s
    // after the first one's and sends its own background refresh.
    let (at, sid) = happenings(&mut trace, last)
        .iter()
        .find_map(|h| match h {
            Happening::RequestSent { at, endpoint: Endpoint::Tokens, call: None, sid, .. } => {
                Some((*at, *sid))
            }
            _ => None,
        })
        .expect("the schedule refreshed in two minutes");
    let again = at.plus(5 * SECOND_MS);
    let h = happenings(&mut trace, last);
    h.push(Happening::TimerFired { at: again, timer: TimerKind::TokenRefresh, due: again });
    h.push(Happening::RequestSent {
        at: again,
        req: RequestId(999),
        endpoint: Endpoint::Tokens,
        call: None,
        sid,
        template: None,
        instance: 0,
    });
    h.push(Happening::RequestDone {
        at: again.plus(50),
        req: RequestId(999),
        endpoint: Endpoint::Tokens,
        outcome: RequestOutcome::NetworkError { committed: false },
        fault: None,
    });
    h.sort_by_key(|h| h.at());
    assert_only(&invariants::check(&trace), InvariantId::OneRefreshSchedule, last as u32);
}

/// [`run`] on another setup: the unaltered trace must pass.
fn run_on(setup: Setup, events: &[Event]) -> Trace {
    let trace = run_model(setup, events, None);
    let clean = invariants::check(&trace);
    assert!(clean.violations.is_empty(), "the unaltered trace must pass: {:?}", clean.violations);
    trace
}

/// An iOS app with the native module, signed in through the native UI (JS adopts it), then
/// one quiet second to alter.
fn native_signed_in() -> (Setup, Vec<Event>) {
    let mut setup = setup();
    setup.sdk.native = true;
    let events = vec![
        Event::ColdStart,
        advance(SECOND_MS),
        Event::NativeSignIn,
        advance(SECOND_MS),
        advance(SECOND_MS),
    ];
    (setup, events)
}

/// The last step's presentation made to carry the token before the last rotation: the SDK
/// kept (or went back to) a superseded token.
fn present_the_previous_token(trace: &mut Trace) -> (usize, bool) {
    let last = trace.steps.len() - 1;
    let mut altered = false;
    for h in happenings(trace, last) {
        if let Happening::ClientTokenPresented { token, .. } = h {
            token.version -= 1;
            altered = true;
        }
    }
    (last, altered)
}

#[test]
fn superseded_token_never_presented_catches_a_token_presented_after_its_successor() {
    // A grace of 10 s in time: the sign-in's rotation is 20 s old when the next request goes.
    let mut window = setup();
    window.instance.token_reuse.grace =
        session_harness::model::settings::ReuseGrace::WindowMs(10 * SECOND_MS);
    let mut events = signed_in();
    events.extend([advance(20 * SECOND_MS), Event::GetToken { skip_cache: true, template: None }]);
    let mut trace = run_on(window, &events);
    let (last, altered) = present_the_previous_token(&mut trace);
    assert!(altered, "the get_token step presents the client token");
    assert_only(
        &invariants::check(&trace),
        InvariantId::SupersededTokenNeverPresented,
        last as u32,
    );
    // Under Clerk's default grace (64 rotations) the same token is still honoured.
    let mut trace = run(&events);
    present_the_previous_token(&mut trace);
    assert!(invariants::check(&trace).violations.is_empty());
}

#[test]
fn one_writer_per_credential_catches_a_native_credential_overwritten_by_an_empty_one() {
    let (setup, events) = native_signed_in();
    let mut trace = run_on(setup, &events);
    let last = trace.steps.len() - 1;
    let native = trace.steps[last].obs.device.native.expect("the native layer is observed");
    assert!(native.session.is_some() && native.credential == native.session);
    // #9217's reverse: another writer stores an anonymous client token in ClerkKit's item.
    let at = trace.steps[last].at.plus(10);
    happenings(&mut trace, last).push(Happening::StorageWritten {
        at,
        key: StorageKey::NativeDeviceToken,
        len: 518,
        digest: 7,
        stored_digest: 7,
        credential: false,
    });
    trace.steps[last].obs.device.native = Some(NativeView { credential: None, ..native });
    assert_only(&invariants::check(&trace), InvariantId::OneWriterPerCredential, last as u32);
}

#[test]
fn layers_agree_catches_js_signed_out_while_the_native_layer_holds_the_session() {
    let (setup, events) = native_signed_in();
    let mut trace = run_on(setup, &events);
    let last = trace.steps.len() - 1;
    // The seed bug's end state: JS gave up and shows sign-in, ClerkKit still has the session.
    let obs = &mut trace.steps[last].obs;
    obs.view.session = None;
    obs.view.is_signed_in = Some(false);
    obs.view.route = Route::SignIn { return_to: None };
    assert_only(&invariants::check(&trace), InvariantId::LayersAgree, last as u32);
}

#[test]
fn layers_agree_catches_a_route_loop() {
    let (setup, events) = native_signed_in();
    let mut trace = run_on(setup, &events);
    let last = trace.steps.len() - 1;
    let signed_in_view = trace.steps[last].obs.view.clone();
    let signed_out = AuthView {
        route: Route::SignIn { return_to: None },
        is_signed_in: Some(false),
        session: None,
        ..signed_in_view.clone()
    };
    // JS and native signing each other out and back in, over and over, with no event.
    let at = trace.steps[last].at;
    for i in 0..3u64 {
        let h = happenings(&mut trace, last);
        h.push(Happening::Rendered { at: at.plus(2 * i + 1), view: signed_out.clone() });
        h.push(Happening::Rendered { at: at.plus(2 * i + 2), view: signed_in_view.clone() });
    }
    let report = invariants::check(&trace);
    assert!(report.broken().contains(&InvariantId::LayersAgree), "{:#?}", report.violations);
    assert_eq!(report.first(InvariantId::LayersAgree).expect("broken").step, last as u32);
}

/// The same second refresh from a headless SDK instance (`instances: 2`) is that instance's
/// own schedule, not a second one of the UI's: each instance has its own timers.
#[test]
fn one_refresh_schedule_is_per_sdk_instance() {
    let mut events = signed_in();
    events.push(advance(2 * MINUTE_MS));
    let mut trace = run(&events);
    let last = trace.steps.len() - 1;
    let (at, sid) = happenings(&mut trace, last)
        .iter()
        .find_map(|h| match h {
            Happening::RequestSent { at, endpoint: Endpoint::Tokens, call: None, sid, .. } => {
                Some((*at, *sid))
            }
            _ => None,
        })
        .expect("the schedule refreshed in two minutes");
    let again = at.plus(5 * SECOND_MS);
    let h = happenings(&mut trace, last);
    h.push(Happening::TimerFired { at: again, timer: TimerKind::TokenRefresh, due: again });
    h.push(Happening::RequestSent {
        at: again,
        req: RequestId(999),
        endpoint: Endpoint::Tokens,
        call: None,
        sid,
        template: None,
        instance: 1,
    });
    h.sort_by_key(|h| h.at());
    let report = invariants::check(&trace);
    assert!(
        report.violations.iter().all(|v| v.invariant != InvariantId::OneRefreshSchedule
            && v.invariant != InvariantId::SingleFlightRefresh),
        "{:?}",
        report.violations
    );
}

#[test]
fn every_invariant_has_a_failing_test_here() {
    // Twenty invariants, twenty tests above; this guards the count when one is added.
    assert_eq!(InvariantId::ALL.len(), 20);
    let source = include_str!("invariants_fail.rs");
    for id in InvariantId::ALL {
        let name = id.as_str().replace('-', "_");
        assert!(source.contains(&format!("fn {name}_catches")), "no failing test for `{id}`");
    }
}
