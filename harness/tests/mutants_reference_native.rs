//! Tests written for mutants of the reference SDK's native room (`harness/src/sdk/reference/
//! js/native.rs`, with the answers `js/transport.rs` dispatches to it) that `cargo xtask
//! mutants` found missed: `@clerk/expo`'s JS side of the native module adopting the native
//! layer's session. Each runs the reference SDK in lockstep with the model and asserts what
//! both do; the mutant each one catches is named below its doc (file:line: mutation, as
//! cargo-mutants prints it). The other rooms' tests are in `mutants_reference.rs`,
//! `mutants_reference_calls.rs` and `mutants_reference_load.rs`.
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{
    AppState, Defect, Endpoint, Event, FaultKind, FaultSpec, Happening, NativeCallName, Platform,
    RequestOutcome, SessionId, SessionStatus, SignOutCause,
};
use session_harness::runner::lockstep;
use session_harness::trace::TraceStep;

mod mutants_support;
use mutants_support::{shown_signed_in, sign_outs, touched};

/// Under `clerk-js-6` `setActive` awaits `session.getToken()` (`Profile::set_active_awaits_token`),
/// and a native sign-in on iOS ends in `setActive` to the native layer's session: with
/// 5-second session tokens no cached token is ever a hit (clerk-js keeps a 5 s margin), so
/// after the touch a token request goes out, and the session becomes current once it
/// answers (`js/native.rs`, `Core::native_activated`: "the session is current only once
/// `getToken` has one"). The reference SDK agrees with the model at every step.
///
/// Catches `sdk/reference/js/transport.rs: replace match guard reply.is_ok() with false in
/// Core::dispatch` (the `NativeActivateToken` answer), and in `sdk/reference/js/native.rs`
/// `Core::native_activation_token`: `delete !` and `replace && with ||` (in `stale`), and in
/// `Core::native_activated` `replace == with !=` (`s.id == sid` of `signs_in`).
#[test]
fn a_native_sign_in_under_clerk_js_6_is_current_once_its_token_answers() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    setup.sdk.native = true;
    setup.instance.session_token_ttl_ms = 5_000;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::NativeSignIn,
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let adoption = &run.sdk.steps[3].obs.happenings;
    let (touched, token) = adoption.iter().fold((None, None), |(touched, token), h| match h {
        Happening::RequestDone { at, endpoint: Endpoint::Touch, .. } => (Some(*at), token),
        Happening::RequestDone {
            at,
            endpoint: Endpoint::Tokens,
            outcome: RequestOutcome::Answered { status: 200, .. },
            ..
        } => (touched, Some(*at)),
        _ => (touched, token),
    });
    let (touched, token) = (touched.expect("the touch answers"), token.expect("a token answers"));
    assert!(touched < token, "the token is asked for after the touch: {adoption:?}");
    let shown = adoption.iter().find_map(|h| match h {
        Happening::Rendered { at, view } if view.is_signed_in == Some(true) => Some(*at),
        _ => None,
    });
    assert_eq!(shown, Some(token), "signed in once the token is in: {adoption:?}");
    let view = &run.sdk.steps[3].obs.view;
    assert_eq!(view.session.map(|s| s.status), Some(SessionStatus::Active), "{view:?}");

    // The user signs out while that token request is in flight. clerk-js keeps no sign-out
    // epoch (`ignores_stale_payloads` is the documented contract's): the token's answer,
    // first to arrive, still makes the session current, until the sign-out's answer ends it.
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::NativeSignIn,
        Event::Advance { ms: 100 },
        Event::SignOut,
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let sent = |step: &TraceStep, endpoint| {
        step.obs
            .happenings
            .iter()
            .any(|h| matches!(h, Happening::RequestSent { endpoint: e, .. } if *e == endpoint))
    };
    assert!(sent(&run.sdk.steps[3], Endpoint::Tokens), "the token request is in flight");
    assert!(sent(&run.sdk.steps[4], Endpoint::RemoveSessions), "when the user signs out");
    let shown: Vec<Option<bool>> = run.sdk.steps[5]
        .obs
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::Rendered { view, .. } => Some(view.is_signed_in),
            _ => None,
        })
        .collect();
    assert!(
        shown.windows(2).any(|w| w == [Some(true), Some(false)]),
        "shown again, then signed out: {shown:?}"
    );
    assert_eq!(run.sdk.steps[5].obs.view.is_signed_in, Some(false));
}

/// The native session's `setActive` touch (`js/native.rs`, `Core::native_activated`): "on
/// success the session is made current; a failure is swallowed". Under clerk-js-6, whose
/// payloads select a session only while JS holds no client, a native sign-in whose touch is
/// answered 500 leaves JS signed out; and the touch's answer is no stale payload when the
/// user signed out meanwhile (clerk-js keeps no sign-out epoch): the session shows until
/// the sign-out's answer ends it. In lockstep with the model.
///
/// Catches, in `sdk/reference/js/native.rs` `Core::native_activated`, `replace || with &&` in
/// `!ok || stale` and `replace && with ||` in `stale`.
#[test]
fn a_native_sessions_touch_activates_it_unless_it_failed() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    setup.sdk.native = true;
    let fault = FaultSpec {
        kind: FaultKind::ServerError { status: 500 },
        count: 1,
        on: Some(Endpoint::Touch),
    };
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::Fault(fault),
        Event::NativeSignIn,
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(touched(&run.sdk.steps[3..]).len(), 1, "the adoption's touch");
    assert!(!shown_signed_in(&run.sdk.steps), "a failed touch activates nothing");

    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::NativeSignIn,
        Event::Advance { ms: 50 },
        Event::SignOut,
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(touched(&run.sdk.steps[3..4]).len(), 1, "the touch is in flight at the sign-out");
    assert!(shown_signed_in(&run.sdk.steps[5..]), "the touch's answer still activates");
    assert_eq!(sign_outs(&run.sdk.steps[5..]), [SignOutCause::User]);
    assert_eq!(run.sdk.steps[5].obs.view.is_signed_in, Some(false));
}

/// The native `setActive` counts the cached token as a hit only while *more than* clerk-js's
/// 5 s margin is left (`hit_min_remaining_ms`, as `getToken`'s cache): with 500 ms requests
/// and 6-second tokens, the token the touch's payload brings (minted at 5.5 s, so issued at
/// 5 s and expiring at 11 s) has exactly 5 s left when the touch answers at 6 s, so
/// `setActive` still fetches a token before the session is current. In lockstep with the
/// model.
///
/// Catches `sdk/reference/js/native.rs: replace > with >= in Core::native_activated`.
#[test]
fn the_native_set_active_needs_more_than_the_margin_left_to_skip_its_token_request() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    setup.sdk.native = true;
    setup.instance.session_token_ttl_ms = 6_000;
    setup.net.fapi_latency_ms = 500;
    assert_eq!(ProfileId::ClerkJs6.rules().hit_min_remaining_ms, 5_000);
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::NativeSignIn,
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let adoption = &run.sdk.steps[3].obs.happenings;
    let touch = adoption.iter().find_map(|h| match h {
        Happening::RequestDone { at, endpoint: Endpoint::Touch, .. } => Some(at.ms()),
        _ => None,
    });
    assert_eq!(touch, Some(6_000), "the touch answers at 6 s: {adoption:?}");
    let tokens = adoption
        .iter()
        .filter(|h| matches!(h, Happening::RequestSent { endpoint: Endpoint::Tokens, .. }))
        .count();
    assert_eq!(tokens, 1, "5 s left is no hit: {adoption:?}");
    assert_eq!(run.sdk.steps[3].obs.view.is_signed_in, Some(true));
}

/// Under `documented` with multi-session, a native sign-in while JS shows its own session
/// adds a second session to the client both share; the reload's payload keeps the current
/// one, and the native `setActive`'s touch, once answered (no sign-out meanwhile, so not
/// stale), makes the native layer's session current (`Core::native_activated`). In
/// lockstep with the model.
///
/// Catches `sdk/reference/js/native.rs: replace != with == in Core::native_activated` (the
/// sign-out epoch comparison of `stale`).
#[test]
fn a_native_sign_in_beside_a_js_session_becomes_current_once_touched() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::Documented);
    setup.sdk.native = true;
    setup.instance.multi_session = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::NativeSignIn,
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let js = run.sdk.steps[3].obs.view.session.map(|s| s.id).expect("JS signed in");
    let native = run.sdk.steps[4].obs.happenings.iter().find_map(|h| match h {
        Happening::NativeSignedIn { session, .. } => *session,
        _ => None,
    });
    let native = native.expect("the native layer signs in");
    assert_ne!(js, native, "a second session");
    assert_eq!(touched(&run.sdk.steps[5..]), [Some(native)]);
    assert_eq!(run.sdk.steps[5].obs.view.session.map(|s| s.id), Some(native));
}

/// Two native sign-ins heard in a row on iOS (a multi-session instance) each run their own
/// adoption on the reference SDK as on the model (`mutants_world_native.rs`,
/// `two_native_sign_ins_in_flight_are_each_adopted`): both reloads end in their `setActive`,
/// `sess_1`'s then `sess_2`'s.
///
/// Catches `sdk/reference/js/native.rs: replace += with *= in Core::adopt_native_session`.
#[test]
fn two_native_sign_ins_in_flight_are_each_adopted_by_the_reference_sdk() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    setup.sdk.native = true;
    setup.instance.multi_session = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::NativeSignIn,
        Event::NativeSignIn,
        Event::Advance { ms: 1_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(touched(&run.sdk.steps[4..]), [Some(SessionId(1)), Some(SessionId(2))]);
}

/// `empty-client-clobber` re-syncs from the native client when the app comes to the
/// foreground (`active` after anything else), never on the way out: going `inactive`, then
/// `background` asks the native layer nothing; coming back `active` asks it for its client
/// token.
///
/// Catches `sdk/reference/js/lifecycle.rs: replace && with || in Core::set_app_state`.
#[test]
fn empty_client_clobber_syncs_on_the_way_into_the_foreground_only() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    setup.sdk.native = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::NativeSignIn,
        Event::Advance { ms: 5_000 },
        Event::AppState { state: AppState::Inactive },
        Event::AppState { state: AppState::Background },
        Event::Advance { ms: 1_000 },
        Event::AppState { state: AppState::Active },
    ];
    let trace = lockstep::run_sdk(setup, &[Defect::EmptyClientClobber], &events, None);
    let asks = |step: &TraceStep| {
        step.obs.happenings.iter().any(|h| {
            matches!(h, Happening::NativeCalled { call: NativeCallName::GetClientToken, .. })
        })
    };
    for step in &trace.steps[4..7] {
        assert!(!asks(step), "step {}: {:?}", step.index, step.obs.happenings);
    }
    assert!(asks(&trace.steps[7]), "{:?}", trace.steps[7].obs.happenings);
}
