//! Tests written for mutants of the model's token cache (`harness/src/model/world/
//! tokens.rs`) that `cargo xtask mutants` found missed: each runs a short event list on the
//! model and pins a behaviour no scenario observed. The mutant each one catches is named
//! above it (file: mutation, as cargo-mutants prints it).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::time::VTime;
use session_harness::model::vocab::{
    CallKind, CallResult, Endpoint, Event, FaultKind, FaultSpec, Happening, Platform, SessionId,
    TimerKind,
};
use session_harness::trace::run_model;

/// A fault on the next request to `on`.
fn fault(kind: FaultKind, on: Endpoint) -> Event {
    Event::Fault(FaultSpec { kind, count: 1, on: Some(on) })
}

/// A cached token whose `exp` is now has expired (RFC 7519 §4.1.4: a JWT must not be
/// accepted on or after its `exp`): the documented stale-while-revalidate cache returns a
/// cached token only while it has time left (`remaining > 0`), so `getToken()` at that very
/// millisecond fetches a fresh one. The token minted at the sign-in (t = 1 s, 60 s) expires
/// at t = 61 s; its recurring refresh (45 s later) failed (500), and the documented cache
/// arms no eviction timer, so the entry still holds it when `getToken()` runs at 61 s.
///
/// Catches `world/tokens.rs: replace > with >= in World::token_begin` (the expired token
/// returned from the cache).
#[test]
fn a_token_at_its_exp_is_not_served_from_the_cache() {
    let setup = Setup::new(Platform::Ios, ProfileId::Documented);
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 19_000 },
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 500 },
            count: 1,
            on: Some(Endpoint::Tokens),
        }),
        Event::Advance { ms: 41_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let trace = run_model(setup, &events, None);
    let call = &trace.steps[6];
    assert_eq!(call.at, VTime(61_000));
    let expiry_s = VTime(61_000).unix_s();
    let sent = call.obs.happenings.iter().any(|h| {
        matches!(h, Happening::RequestSent { endpoint: Endpoint::Tokens, call: Some(_), .. })
    });
    assert!(sent, "a fetch for the call: {:?}", call.obs.happenings);
    let results: Vec<&CallResult> = trace.steps[6..]
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::CallSettled { kind: CallKind::GetToken, result, .. } => Some(result),
            _ => None,
        })
        .collect();
    match results.as_slice() {
        [CallResult::Token { token }] => assert!(token.exp > expiry_s, "a fresh token: {token:?}"),
        other => panic!("one token for the call, got {other:?}"),
    }
}

/// The documented cache holds one session token, the current session's: a token that a
/// fetch brings back for a session the app has switched away from meanwhile is not cached
/// (`World::token_resolved`: only the current session's, or a refresh of the entry the
/// cache still holds), so the session switched to keeps its entry and the next
/// `getToken()` is answered from the cache. Here the switch to `sess_2` is made (its touch
/// answered, 2 s) while a fetch of `sess_1`'s token sent after the touch (so fresher than
/// the token the touch's payload brings) is in flight, and answers 0.5 s later.
///
/// Catches `world/tokens.rs: delete ! in World::token_resolved` (`sess_1`'s late token
/// cached in the one slot, over `sess_2`'s).
#[test]
fn a_token_of_a_session_switched_away_from_is_not_cached() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::Documented);
    setup.instance.multi_session = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 1_000 },
        // Back to sess_1.
        Event::SetActive,
        Event::Advance { ms: 1_000 },
        // To sess_2, whose touch takes 2 s; meanwhile sess_1's token is fetched (2.5 s).
        fault(FaultKind::Latency { ms: 2_000 }, Endpoint::Touch),
        Event::SetActive,
        fault(FaultKind::Latency { ms: 2_500 }, Endpoint::Tokens),
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 3_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let trace = run_model(setup, &events, None);
    let shown = |i: usize| trace.steps[i].obs.view.session.map(|s| s.id);
    assert_eq!(shown(7), Some(SessionId(1)));
    assert_eq!(shown(12), Some(SessionId(2)));
    let late = trace.steps[12]
        .obs
        .happenings
        .iter()
        .any(|h| matches!(h, Happening::RequestDone { endpoint: Endpoint::Tokens, .. }));
    assert!(late, "sess_1's token answered after the switch");
    let last: Vec<&Happening> = trace.steps[13..].iter().flat_map(|s| &s.obs.happenings).collect();
    assert!(
        !last
            .iter()
            .any(|h| matches!(h, Happening::RequestSent { endpoint: Endpoint::Tokens, .. })),
        "answered from the cache: {last:?}"
    );
    let token = last.iter().find_map(|h| match h {
        Happening::CallSettled { result: CallResult::Token { token }, .. } => Some(token.sid),
        _ => None,
    });
    assert_eq!(token, Some(SessionId(2)));
}

/// Signed in, then a `setActive` whose touch answers 2 s late (at 4 s, with the token of its
/// send time) while a `getToken({ skipCache })` sent at 2.1 s brings a fresher one first;
/// then `more`.
fn staler_touch_then(more: &[Event]) -> Vec<Event> {
    let mut events = vec![
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 1_000 },
        fault(FaultKind::Latency { ms: 2_000 }, Endpoint::Touch),
        Event::SetActive,
        Event::Advance { ms: 100 },
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 3_000 },
    ];
    events.extend_from_slice(more);
    events
}

/// A staler token never replaces a fresher one in the documented cache
/// (`World::set_cached`: "the fresher token wins"; without clerk-js's timers a staler token
/// changes nothing): a `setActive` touch whose answer takes 2 s carries the session's token
/// of its send time, and a `getToken({ skipCache })` sent meanwhile brings a fresher one
/// first; the next `getToken()` returns the fresher one, from the cache.
///
/// Catches `world/tokens.rs: replace match guard t.serial >= token.serial with false in
/// World::set_cached` (the touch's staler token cached over the fresher one).
#[test]
fn a_staler_payload_token_does_not_replace_a_fresher_one() {
    let setup = Setup::new(Platform::Ios, ProfileId::Documented);
    let events = staler_touch_then(&[
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 100 },
    ]);
    let trace = run_model(setup, &events, None);
    // The two `getToken()` calls' tokens, in order.
    let tokens: Vec<u64> = trace
        .steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::CallSettled { result: CallResult::Token { token }, .. } => {
                Some(token.serial)
            }
            _ => None,
        })
        .collect();
    let touched = trace.steps[8]
        .obs
        .happenings
        .iter()
        .any(|h| matches!(h, Happening::RequestDone { endpoint: Endpoint::Touch, .. }));
    assert!(touched, "the touch answered after the fetch");
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert_eq!(tokens[1], tokens[0], "the fresher token, from the cache");
    let last = &trace.steps[9].obs.happenings;
    assert!(!last.iter().any(|h| matches!(h, Happening::RequestSent { .. })), "{last:?}");
}

/// Under clerk-js 6 a staler token re-arms the fresher entry's timers from now
/// (`World::set_cached`: clerk-js `setInternal` clears the entry's timers and stores the new
/// entry; once it settles the fresher token wins and its timers are armed again from now),
/// and the refresh timer counts whole seconds (`Profile::token_timers`, measured on 6.40.0).
/// The token fetched at 2.100 s (`exp` 62 s) is cached at 2.150 s, its refresh due at
/// 2.150 + (62 − 2 − 17) s = 45.150 s; the touch answering at 4 s with the staler token
/// re-arms it at 4 + (62 − 4 − 17) s = 45 s, when it fires.
///
/// Catches `world/tokens.rs: delete ! in World::set_cached` (the staler token ignored, the
/// refresh left at 45.150 s).
#[test]
fn clerk_js_6_a_staler_token_re_arms_the_refresh_from_now() {
    let setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    let events = staler_touch_then(&[Event::Advance { ms: 60_000 }]);
    let trace = run_model(setup, &events, None);
    let touched = trace.steps[8].obs.happenings.iter().find_map(|h| match h {
        Happening::RequestDone { at, endpoint: Endpoint::Touch, .. } => Some(*at),
        _ => None,
    });
    assert_eq!(touched, Some(VTime(4_000)));
    let refreshes: Vec<VTime> = trace.steps[9]
        .obs
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::TimerFired { timer: TimerKind::TokenRefresh, due, .. } => Some(*due),
            _ => None,
        })
        .collect();
    assert_eq!(refreshes, [VTime(45_000)]);
}
