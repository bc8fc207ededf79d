//! Tests written for mutants of the reference SDK's calls and client rooms
//! (`harness/src/sdk/reference/js/{calls,client}.rs` and the user-facing events of
//! `js/mod.rs`: sign-out, `setActive`, the API wrapper, `handleUnauthenticated`) that
//! `cargo xtask mutants` found missed. Each runs the reference SDK in lockstep with the model
//! and asserts what both do; the mutant each one catches is named below its doc (file:line:
//! mutation, as cargo-mutants prints it). The other rooms' tests are in
//! `mutants_reference.rs`, `mutants_reference_load.rs` and `mutants_reference_native.rs`.
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{
    AppPath, CallKind, CallResult, Defect, Endpoint, Event, FaultKind, FaultSpec, Happening,
    Network, Platform, RequestOutcome, SignOutCause, StorageKey,
};
use session_harness::runner::lockstep;
use session_harness::trace::TraceStep;

mod mutants_support;
use mutants_support::{refreshes, sent, shown_signed_in, sign_outs, touched};

/// A second `signOut()` while the first is in flight keeps what the first left from
/// (`js/mod.rs`, `Event::SignOut`: "the app shell remembers a held session"): signed in,
/// two sign-outs end the session once, as the user's; signed out already (the revoked
/// session's payload ended it, the client still lists it, so clerk-js-6 sends the request
/// and goes `undefined`), two sign-outs end nothing. In lockstep with the model.
///
/// Catches, in `sdk/reference/js/mod.rs` `Core::apply`, `replace == with !=` and `replace &&
/// with ||` in `let was = rt.slot == Slot::Undefined && rt.transitive_from_session`.
#[test]
fn a_second_sign_out_in_flight_keeps_what_the_first_left_from() {
    let signed_in = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
    ];
    let twice = [Event::SignOut, Event::SignOut, Event::Advance { ms: 5_000 }];
    for profile in ProfileId::ALL {
        let setup = Setup::new(Platform::Android, profile);
        let events: Vec<Event> = signed_in.iter().chain(&twice).cloned().collect();
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "{}", run.summary());
        assert_eq!(sign_outs(&run.sdk.steps), [SignOutCause::User], "{profile}: ended once");
        assert_eq!(run.sdk.steps.last().unwrap().obs.view.is_signed_in, Some(false));
    }

    let setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    let mut events = signed_in.to_vec();
    events.extend([
        Event::Revoke,
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 5_000 },
    ]);
    let ended = events.len();
    events.extend(twice);
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(sign_outs(&run.sdk.steps[..ended]), [SignOutCause::ClientPayload]);
    assert_eq!(run.sdk.steps[ended].obs.view.is_signed_in, None, "clerk-js-6 goes undefined");
    assert_eq!(sign_outs(&run.sdk.steps[ended..]), [], "nobody was signed in to sign out");
    assert_eq!(run.sdk.steps.last().unwrap().obs.view.is_signed_in, Some(false));
}

/// The article's API wrapper retries a call once after a 401, with a fresh token (its
/// `_retry` flag; the `retry-discipline` invariant): when the retry is refused too, the
/// call fails with that 401. Tokens of one second that reach the backend two seconds
/// later are refused every time. In lockstep with the model, under both profiles.
///
/// Catches `sdk/reference/js/calls.rs: replace && with || in Core::api_call` (`looping &&
/// attempt < RETRY_401_LOOP_ATTEMPTS_MAX`: a defect-free wrapper would retry again).
#[test]
fn an_api_call_retries_once_after_a_401() {
    for profile in ProfileId::ALL {
        let mut setup = Setup::new(Platform::Android, profile);
        setup.instance.session_token_ttl_ms = 1_000;
        setup.net.backend_latency_ms = 2_000;
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 1_000 },
            Event::SignIn { task: None },
            Event::Advance { ms: 5_000 },
            Event::ApiCall { path: AppPath::new("/orders") },
            Event::Advance { ms: 30_000 },
        ];
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "{}", run.summary());
        let after = &run.sdk.steps[4..];
        let hits: Vec<(u8, u16)> = after
            .iter()
            .flat_map(|s| &s.obs.happenings)
            .filter_map(|h| match h {
                Happening::BackendHit { attempt, status, .. } => Some((*attempt, *status)),
                _ => None,
            })
            .collect();
        assert_eq!(hits, [(1, 401), (2, 401)], "{profile}: one retry");
        let settled = after.iter().flat_map(|s| &s.obs.happenings).find_map(|h| match h {
            Happening::CallSettled { kind: CallKind::ApiCall, result, .. } => Some(result),
            _ => None,
        });
        assert!(
            matches!(settled, Some(CallResult::Error { status: 401, .. })),
            "{profile}: {settled:?}"
        );
    }
}

/// `handleUnauthenticated()`'s `GET /v1/client` (`js/client.rs`, `unauthenticated_answer`):
/// a network error is retried like any GET, up to 4 tries on native, 100 ms and then 700 ms
/// × 2ᵏ after each failure (clerk-js `fapiClient`); and under clerk-js-6 a 403 or 500 answer
/// signs the user out (`[403, 500].includes(status)`), any other failure (a 503) does not,
/// nor does a 500 under `documented`. A 401 on a token request starts the reload. In
/// lockstep with the model.
///
/// Catches, in `sdk/reference/js/client.rs` `Core::unauthenticated_answer`: the three
/// mutants of `tries < self.rules.get_tries_max`, `replace - with +` / `with /` in the delay,
/// `replace + with -` / `with *` in the next try, and the four operator mutants of `(status
/// == 403 || status == 500) && self.rules.unauth_reload_error_signs_out`.
#[test]
fn the_unauthenticated_reload_retries_network_errors_and_signs_out_on_403_or_500() {
    let fault = |kind, count, on| Event::Fault(FaultSpec { kind, count, on: Some(on) });
    let signed_in = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        fault(FaultKind::Unauthorized, 1, Endpoint::Tokens),
    ];
    let gets = |steps: &[TraceStep]| -> (Vec<u64>, Vec<u64>) {
        let (mut sent, mut done) = (Vec::new(), Vec::new());
        for h in steps.iter().flat_map(|s| &s.obs.happenings) {
            match h {
                Happening::RequestSent { at, endpoint: Endpoint::GetClient, .. } => {
                    sent.push(at.ms())
                }
                Happening::RequestDone { at, endpoint: Endpoint::GetClient, .. } => {
                    done.push(at.ms())
                }
                _ => {}
            }
        }
        (sent, done)
    };

    // Five dropped answers queued: four tries, then it gives up.
    for profile in ProfileId::ALL {
        let setup = Setup::new(Platform::Android, profile);
        let mut events = signed_in.to_vec();
        events.extend([
            fault(FaultKind::DropBeforeCommit, 5, Endpoint::GetClient),
            Event::GetToken { skip_cache: true, template: None },
            Event::Advance { ms: 30_000 },
        ]);
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "{}", run.summary());
        let (sent, done) = gets(&run.sdk.steps[signed_in.len()..]);
        assert_eq!(sent.len(), 4, "{profile}: four tries, {sent:?}");
        let waits: Vec<u64> = sent[1..].iter().zip(&done).map(|(s, d)| s - d).collect();
        assert_eq!(waits, [100, 700, 1_400], "{profile}: the GET retry schedule");
    }

    // An error answer: only clerk-js-6, and only a 403 or 500, signs out.
    for (profile, status, signs_out) in [
        (ProfileId::ClerkJs6, 500, true),
        (ProfileId::ClerkJs6, 403, true),
        (ProfileId::ClerkJs6, 503, false),
        (ProfileId::Documented, 500, false),
    ] {
        let setup = Setup::new(Platform::Android, profile);
        let mut events = signed_in.to_vec();
        events.extend([
            fault(FaultKind::ServerError { status }, 1, Endpoint::GetClient),
            Event::GetToken { skip_cache: true, template: None },
            Event::Advance { ms: 30_000 },
        ]);
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "{}", run.summary());
        let ended = sign_outs(&run.sdk.steps[signed_in.len()..]);
        let expected: &[SignOutCause] = if signs_out { &[SignOutCause::Unauthorized] } else { &[] };
        assert_eq!(ended, expected, "{profile}, reload answered {status}");
    }
}

/// The app's `setActive` (`js/mod.rs`, `Event::SetActive`) switches to another signed-in
/// session of the client, else touches the current one: a revoked session the client
/// still lists is no candidate. A switch that fails (its touch answered 500) is forgotten
/// (`finish_call`: `CallKind::SetActive => preferred = None`), so a later client payload
/// keeps the current session. In lockstep with the model, under `documented`.
///
/// Catches, in `sdk/reference/js/mod.rs` `Core::apply`'s `Event::SetActive` arm, `replace &&
/// with ||` in `ignores_stale_payloads && user_signing_out` and in the candidate's
/// `counts_signed_in(s.status) && Some(s.id) != current`, and `replace != with ==` there;
/// and `sdk/reference/js/calls.rs: delete match arm CallKind::SetActive in
/// Core::finish_call`.
#[test]
fn set_active_switches_to_another_signed_in_session_and_forgets_a_failed_switch() {
    let fault = |kind, on| Event::Fault(FaultSpec { kind, count: 1, on: Some(on) });
    let current = |step: &TraceStep| step.obs.view.session.map(|s| s.id);

    // sess_1 revoked (and shown signed out), sess_2 signed in: setActive touches sess_2.
    let setup = Setup::new(Platform::Android, ProfileId::Documented);
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Revoke,
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::SetActive,
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let second = current(&run.sdk.steps[8]).expect("signed in again");
    let first = current(&run.sdk.steps[3]).expect("signed in");
    assert_ne!(first, second);
    assert_eq!(touched(&run.sdk.steps[9..]), [Some(second)], "the current one, not {first}");
    assert_eq!(current(run.sdk.steps.last().unwrap()), Some(second));

    // Two signed-in sessions (multi-session): the switch to sess_1 fails, and a client
    // payload afterwards (the reload after a 401) keeps sess_2.
    let mut setup = Setup::new(Platform::Android, ProfileId::Documented);
    setup.instance.multi_session = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        fault(FaultKind::ServerError { status: 500 }, Endpoint::Touch),
        Event::SetActive,
        Event::Advance { ms: 5_000 },
        fault(FaultKind::Unauthorized, Endpoint::Tokens),
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let (first, second) = (current(&run.sdk.steps[3]), current(&run.sdk.steps[5]));
    assert_ne!(first, second, "two sessions");
    assert_eq!(touched(&run.sdk.steps[7..9]), [first], "the switch goes for the other one");
    let reloaded = run.sdk.steps[11].obs.happenings.iter().any(|h| {
        matches!(
            h,
            Happening::RequestDone {
                endpoint: Endpoint::GetClient,
                outcome: RequestOutcome::Answered { status: 200, .. },
                ..
            }
        )
    });
    assert!(reloaded, "a client payload arrives after the failed switch");
    assert_eq!(current(run.sdk.steps.last().unwrap()), second, "and keeps the current session");
}

/// A sign-out starts a new sign-out epoch (`js/mod.rs`, `Event::SignOut`), and under
/// `documented` an answer to a request sent before it is stale (`ignores_stale_payloads`):
/// the client reload `handleUnauthenticated` sent after a 401, answered while the sign-out
/// is in flight, does not bring the session back. And under `clerk-js-6` a sign-out keeps
/// the token cache until it settles (`signout_failure_keeps_state`): while its request
/// hangs (no request timeout, Android's network hangs for ever) the cached token's refresh
/// timer still fires. In lockstep with the model.
///
/// Catches, in `sdk/reference/js/mod.rs` `Core::apply`: `replace += with *=` in the sign-out's
/// and in `end()`'s `rt.signout_epoch += 1`, and `delete !` in
/// `!self.rules.signout_failure_keeps_state`.
#[test]
fn a_sign_out_starts_a_new_epoch_and_keeps_the_cache_where_the_profile_says() {
    let signed_in = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
    ];

    let setup = Setup::new(Platform::Android, ProfileId::Documented);
    let mut events = signed_in.to_vec();
    events.extend([
        Event::Fault(FaultSpec {
            kind: FaultKind::Unauthorized,
            count: 1,
            on: Some(Endpoint::Tokens),
        }),
        Event::GetToken { skip_cache: true, template: None },
        // The 401 lands at 50 ms and sends the reload, which answers at 100 ms.
        Event::Advance { ms: 60 },
        Event::SignOut,
        Event::Advance { ms: 5_000 },
    ]);
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(sent(&run.sdk.steps[6]), [Endpoint::GetClient], "the reload is in flight");
    assert!(!shown_signed_in(&run.sdk.steps[7..]), "the reload's payload is stale");
    assert_eq!(sign_outs(&run.sdk.steps[7..]), [SignOutCause::User]);

    // So does `session.end()` (with the resource cache, a payload applied would be stored).
    let mut setup = Setup::new(Platform::Android, ProfileId::Documented);
    setup.sdk.resource_cache = true;
    let mut events = signed_in.to_vec();
    events.extend([
        Event::Fault(FaultSpec {
            kind: FaultKind::Unauthorized,
            count: 1,
            on: Some(Endpoint::Tokens),
        }),
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 60 },
        Event::SessionEnd,
        Event::Advance { ms: 5_000 },
    ]);
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(sent(&run.sdk.steps[7]), [Endpoint::End]);
    let answers = &run.sdk.steps[8].obs.happenings;
    let reloaded = answers.iter().find_map(|h| match h {
        Happening::RequestDone { at, endpoint: Endpoint::GetClient, .. } => Some(*at),
        _ => None,
    });
    let reloaded = reloaded.expect("the reload answers while `end()` is in flight");
    let stored = answers.iter().any(|h| {
        matches!(h, Happening::StorageWritten { at, key: StorageKey::CachedClient, .. }
            if *at == reloaded)
    });
    assert!(!stored, "the stale payload is not applied: {answers:?}");

    let setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    let mut events = signed_in.to_vec();
    events.extend([
        Event::Network { state: Network::Hanging },
        Event::SignOut,
        Event::Advance { ms: 60_000 },
    ]);
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(sent(&run.sdk.steps[5]), [Endpoint::RemoveSessions]);
    assert_eq!(refreshes(&run.sdk.steps[6..]).len(), 1, "the cached token's refresh timer");
    assert_eq!(sent(&run.sdk.steps[6]), [Endpoint::Tokens], "its background refresh");
}

/// Whether `steps` deleted the stored client token.
fn client_token_deleted(steps: &[TraceStep]) -> bool {
    steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .any(|h| matches!(h, Happening::StorageDeleted { key: StorageKey::ClientJwt, .. }))
}

/// A `getToken()` that answers `null` changes nothing in a defect-free app: only the Core 2
/// app of `null-offline-logout` reads a null token as a sign-out and deletes its client token
/// (`sdk/defects.rs`; `js/calls.rs`, `get_token_call`). Signed out, `getToken()` answers
/// null at once; signed in, a call whose first try failed (503) answers null on its retry
/// once the user signed out meanwhile (`documented` rereads the current session). In
/// lockstep with the model, the client token stays stored.
///
/// Catches `sdk/reference/js/calls.rs: replace && with || in Core::get_token_call` (the
/// `… && self.has(Defect::NullOfflineLogout)` of `null && was_signed_in && …`).
#[test]
fn a_null_token_deletes_nothing_without_the_core_2_defect() {
    let setup = Setup::new(Platform::Android, ProfileId::Documented);
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let settled = run.sdk.steps[2].obs.happenings.iter().find_map(|h| match h {
        Happening::CallSettled { result, .. } => Some(result.clone()),
        _ => None,
    });
    assert_eq!(settled, Some(CallResult::Null), "signed out: null");
    assert!(!client_token_deleted(&run.sdk.steps), "and the client token stays");

    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 503 },
            count: 1,
            on: Some(Endpoint::Tokens),
        }),
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 100 },
        Event::SignOut,
        Event::Advance { ms: 10_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let settled: Vec<(CallKind, CallResult)> = run.sdk.steps[8]
        .obs
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::CallSettled { kind, result, .. } => Some((*kind, result.clone())),
            _ => None,
        })
        .collect();
    assert!(settled.contains(&(CallKind::GetToken, CallResult::Null)), "{settled:?}");
    assert!(!client_token_deleted(&run.sdk.steps[7..]), "the client token stays");
}

/// `null-offline-logout` (`sdk/defects.rs`): "Core 2: `getToken` answers `null` at once
/// while offline, and the app treats a `null` token as a sign-out (drops the session,
/// deletes the client token)". Online, a signed-in `getToken()` answers a token and the
/// session stays; offline it answers null and the app signs out locally, deleting the
/// client token.
///
/// Catches `sdk/reference/js/calls.rs: replace && with || in Core::get_token_call` (the
/// `null && was_signed_in` of the defect's clean-up).
#[test]
fn the_core_2_app_signs_out_on_a_null_token_only() {
    let setup = Setup::new(Platform::Android, ProfileId::Documented);
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
        Event::Network { state: Network::Offline },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let trace = lockstep::run_sdk(setup, &[Defect::NullOfflineLogout], &events, None);
    let online = &trace.steps[4..6];
    let token = online
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .any(|h| matches!(h, Happening::CallSettled { result: CallResult::Token { .. }, .. }));
    assert!(token, "online: a token");
    assert!(!client_token_deleted(online) && sign_outs(online).is_empty(), "and nothing else");
    assert_eq!(trace.steps[5].obs.view.is_signed_in, Some(true));
    let offline = &trace.steps[7..];
    assert_eq!(sign_outs(offline), [SignOutCause::LocalWipe], "offline: null, a sign-out");
    assert!(client_token_deleted(offline), "and the client token deleted");
}

/// Under `clerk-js-6` with the resource cache, a sign-out whose request fails with a
/// network error is swallowed (`js/calls.rs`, `finish_call`: "Swallowed `network_error`:
/// signed out locally, credential kept"): the call settles ok, the app shows signed out, and
/// the client token stays stored. Without the resource cache the error is rethrown and the
/// app stays `undefined`. In lockstep with the model.
///
/// Catches `sdk/reference/js/calls.rs: replace match guard self.rules.signout_failure_keeps_state
/// && reply.status() == 0 && self.setup.sdk.resource_cache with false in Core::finish_call`.
#[test]
fn an_offline_sign_out_is_swallowed_with_the_resource_cache_under_clerk_js_6() {
    for resource_cache in [true, false] {
        let mut setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
        setup.sdk.resource_cache = resource_cache;
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 1_000 },
            Event::SignIn { task: None },
            Event::Advance { ms: 5_000 },
            Event::Network { state: Network::Offline },
            Event::SignOut,
            Event::Advance { ms: 1_000 },
        ];
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "{}", run.summary());
        let settled =
            run.sdk.steps[5..].iter().flat_map(|s| &s.obs.happenings).find_map(|h| match h {
                Happening::CallSettled { kind: CallKind::SignOut, result, .. } => {
                    Some(result.clone())
                }
                _ => None,
            });
        let shown = run.sdk.steps[6].obs.view.is_signed_in;
        if resource_cache {
            assert_eq!(settled, Some(CallResult::Ok), "swallowed");
            assert_eq!(shown, Some(false), "signed out locally");
        } else {
            assert!(matches!(settled, Some(CallResult::Error { status: 0, .. })), "{settled:?}");
            assert_eq!(shown, None, "still undefined");
        }
        assert!(!client_token_deleted(&run.sdk.steps[5..]), "the credential is kept");
    }
}

/// Under `clerk-js-6` (`CachePolicy::HitUntil`) a client payload that seeds a session's
/// token replaces the pending fetch in that token's slot (`js/client.rs`, `seed`; clerk-js
/// `#hydrateCache` sets the entry the resolver held): a `setActive` whose touch payload
/// arrives while a slow `getToken({ skipCache })` is in flight hits the seeded token and
/// settles with the touch, instead of joining the slow fetch. In lockstep with the model.
///
/// Catches `sdk/reference/js/client.rs: replace == with != in Core::seed`.
#[test]
fn a_seeded_token_replaces_the_pending_fetch_under_clerk_js_6() {
    let setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Fault(FaultSpec {
            kind: FaultKind::Latency { ms: 2_000 },
            count: 1,
            on: Some(Endpoint::Tokens),
        }),
        Event::GetToken { skip_cache: true, template: None },
        Event::SetActive,
        Event::Advance { ms: 5_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let start = run.sdk.steps[6].at.ms();
    let settled: Vec<(CallKind, u64)> = run.sdk.steps[7]
        .obs
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::CallSettled { at, kind, .. } => Some((*kind, at.ms() - start)),
            _ => None,
        })
        .collect();
    assert_eq!(
        settled,
        [(CallKind::SetActive, 50), (CallKind::GetToken, 2_000)],
        "setActive settles with its touch, getToken with its slow fetch"
    );
}

/// `regressions/sign-out-during-degraded-start` on the reference SDK: a sign-out sent before
/// a degraded start made the cached session current answers with a stale client, and the
/// documented SDK drops the cached client that still shows the session, so the next degraded
/// start (a background wake) stays signed out — in lockstep with the model.
///
/// Catches `sdk/reference/js/calls.rs: delete ! in Core::finish_call`.
#[test]
fn a_stale_sign_out_answer_drops_the_cached_client_under_documented() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::Documented);
    setup.sdk.resource_cache = true;
    let events = [
        Event::ColdStart,
        Event::SignIn { task: None },
        Event::Advance { ms: 162 },
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 502 },
            count: 3,
            on: Some(Endpoint::GetClient),
        }),
        Event::Reboot,
        Event::ColdStart,
        Event::SignOut,
        Event::Advance { ms: 81 },
        Event::Kill,
        Event::BackgroundWake { ms: 21_111 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let last = run.sdk.steps.last().unwrap();
    assert_eq!(last.obs.view.is_signed_in, Some(false), "{:?}", last.obs.view);
    assert!(!shown_signed_in(&run.sdk.steps[9..]), "the wake does not show the removed session");
}
