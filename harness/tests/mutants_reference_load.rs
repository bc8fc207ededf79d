//! Tests written for mutants of the reference SDK's load room (`harness/src/sdk/reference/
//! js/load.rs`, with the load's retry and recovery jobs of `js/lifecycle.rs` and the events
//! of `js/mod.rs` that start or reset a load) that `cargo xtask mutants` found missed:
//! `Clerk.load()`, its GET retries, the load retry, the resource cache's degraded start and
//! recovery reload. Each runs the reference SDK in lockstep with the model and asserts what
//! both do (a defect's rendering is asserted against its row in `sdk/defects.rs`); the
//! mutant each one catches is named below its doc (file:line: mutation, as cargo-mutants
//! prints it). The other rooms' tests are in `mutants_reference.rs`,
//! `mutants_reference_calls.rs` and `mutants_reference_native.rs`.
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{
    CallKind, CallResult, Defect, Endpoint, Event, FaultKind, FaultSpec, Happening, Network,
    Platform, StorageKey, TimerKind,
};
use session_harness::runner::lockstep;

mod mutants_support;
use mutants_support::sent;

/// `load-waits-for-online-edge` (`sdk/defects.rs`): "the load goes out only once a
/// connectivity listener says 'online': at once when the listener reports the current state
/// and the network is up, else at the next change to online heard while JS runs". With a
/// listener that reports the current state, an online launch loads at once and an offline
/// one waits for the network; with one that reports changes only, a change to a hanging
/// network is no "online", and the change from there to online is.
///
/// Catches `sdk/reference/js/load.rs: replace != with == in Core::start_load` (the network
/// test of `heard`), and in `sdk/reference/js/mod.rs` `Core::apply`'s `Event::Network` arm:
/// `replace == with !=` and `replace && with ||` in `edge`, `replace != with ==` in `before
/// != Network::Online`, `replace && with ||` in `edge && js_runs()`.
#[test]
fn a_load_waiting_for_the_online_edge_goes_out_on_a_change_to_online_only() {
    let defects = [Defect::LoadWaitsForOnlineEdge];
    let launch = |initial: bool, network: Network| {
        let mut setup = Setup::new(Platform::Android, ProfileId::Documented);
        setup.net.connectivity_initial = initial;
        let events = [
            Event::Network { state: network },
            Event::ColdStart,
            Event::Advance { ms: 1_000 },
            Event::Network { state: Network::Hanging },
            Event::Advance { ms: 1_000 },
            Event::Network { state: Network::Online },
            Event::Advance { ms: 1_000 },
        ];
        lockstep::run_sdk(setup, &defects, &events, None)
    };
    let loads = [Endpoint::Environment, Endpoint::GetClient];

    // The listener reports the state it subscribed to: online, the load goes out at once.
    let online = launch(true, Network::Online);
    assert_eq!(sent(&online.steps[1]), loads, "an online launch loads at once");
    assert!(online.steps[2].obs.view.is_loaded, "{:?}", online.steps[2].obs.view);

    // Offline at launch (and a listener that reports changes only, alike): nothing goes out
    // until the network changes to online, a change to a hanging network included.
    for initial in [true, false] {
        let offline = launch(initial, Network::Offline);
        for step in &offline.steps[1..5] {
            assert!(sent(step).is_empty(), "initial {initial}, step {}: {step:?}", step.index);
        }
        assert!(!offline.steps[4].obs.view.is_loaded);
        assert_eq!(sent(&offline.steps[5]), loads, "initial {initial}: online, at last");
        assert!(offline.steps[6].obs.view.is_loaded, "{:?}", offline.steps[6].obs.view);
    }
}

/// A GET of `load()` that failed with a network error is retried (100 ms later) only while
/// its own load attempt is still the one running (`JsJob::GetRetry`); under `documented`
/// (no `load_get_outlives_load`) a GET whose attempt already failed — its sibling answered
/// 503, and the load retry is pending — sends nothing, and the load retry, 3 s later, sends
/// both GETs again. In lockstep with the model.
///
/// Catches `sdk/reference/js/lifecycle.rs: replace && with || in Core::run_js` (`attempt ==
/// rt.load_attempt && rt.status == LoadStatus::Loading`).
#[test]
fn a_get_of_a_failed_load_attempt_is_not_retried_under_documented() {
    let setup = Setup::new(Platform::Android, ProfileId::Documented);
    let fault = |kind, on| Event::Fault(FaultSpec { kind, count: 1, on: Some(on) });
    let events = [
        fault(FaultKind::DropBeforeCommit, Endpoint::Environment),
        fault(FaultKind::ServerError { status: 503 }, Endpoint::GetClient),
        Event::ColdStart,
        Event::Advance { ms: 2_000 },
        Event::Advance { ms: 10_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    assert_eq!(sent(&run.sdk.steps[2]), [Endpoint::Environment, Endpoint::GetClient]);
    assert_eq!(sent(&run.sdk.steps[3]), [], "the failed attempt's GET is not retried");
    let retried = run.sdk.steps[3]
        .obs
        .happenings
        .iter()
        .any(|h| matches!(h, Happening::TimerFired { timer: TimerKind::Retry, .. }));
    assert!(retried, "its retry timer fired: {:?}", run.sdk.steps[3].obs.happenings);
    assert_eq!(sent(&run.sdk.steps[4]), [Endpoint::Environment, Endpoint::GetClient]);
    assert!(run.sdk.steps[4].obs.view.is_loaded);
}

/// With the resource cache, a cold start whose client GET fails renders from the cached
/// client, and the recovery reload's client payload, once it lands, seeds the token cache
/// with the session's fresh `last_active_token` like any payload (`js/load.rs`,
/// `reload_answer`; under `documented` nothing hydrated it on arrival): the next
/// `getToken()` is a cache hit, with no token request. In lockstep with the model.
///
/// Catches `sdk/reference/js/load.rs: delete ! in Core::reload_answer` (the payload's
/// `seed`).
#[test]
fn the_recovery_reloads_payload_seeds_the_token_cache() {
    let mut setup = Setup::new(Platform::Android, ProfileId::Documented);
    setup.sdk.resource_cache = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Kill,
        // Closed for two minutes: the cached client's session token expires.
        Event::Advance { ms: 120_000 },
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 503 },
            count: 1,
            on: Some(Endpoint::GetClient),
        }),
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let reload = &run.sdk.steps[8];
    assert_eq!(sent(reload), [Endpoint::Environment, Endpoint::GetClient], "the reload");
    assert_eq!(reload.obs.view.is_signed_in, Some(true));
    let call = &run.sdk.steps[9];
    assert_eq!(sent(call), [], "a cache hit sends nothing");
    let token = call.obs.happenings.iter().find_map(|h| match h {
        Happening::CallSettled { result: CallResult::Token { token }, .. } => Some(*token),
        _ => None,
    });
    assert!(token.is_some(), "answered from the cache: {:?}", call.obs.happenings);
}

/// A reinstall on iOS keeps the keychain (`Device::reinstall`), the resource cache's
/// environment included, so a degraded start after it still knows the instance is a
/// session minter: under `clerk-js-6` its token request carries the last session token,
/// which expired meanwhile, and the minter refuses it (401), as after a plain kill
/// (`mutants_caught.rs`, `a_degraded_load_keeps_the_cached_environment`). In lockstep with
/// the model.
///
/// Catches `sdk/reference/js/mod.rs: replace == with != in Core::apply` (the reinstall's
/// `device.platform == Platform::Android`: iOS would forget the cached environment).
#[test]
fn a_reinstall_on_ios_keeps_the_cached_environment() {
    let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    setup.sdk.resource_cache = true;
    setup.instance.session_minter = true;
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
        Event::Reinstall,
        Event::Advance { ms: 120_000 },
        Event::Fault(FaultSpec {
            kind: FaultKind::ServerError { status: 503 },
            count: 1,
            on: Some(Endpoint::GetClient),
        }),
        Event::ColdStart,
        Event::Advance { ms: 100 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let last = &run.sdk.steps.last().unwrap().obs.happenings;
    let tokens: Vec<Option<u16>> = last
        .iter()
        .filter_map(|h| match h {
            Happening::RequestDone { endpoint: Endpoint::Tokens, outcome, .. } => {
                Some(outcome.status())
            }
            _ => None,
        })
        .collect();
    assert_eq!(tokens, [Some(401)], "the expired carried token is refused: {last:?}");
}

/// Each round of the resource cache's recovery reload is an attempt of its own: an answer
/// of an earlier round that arrives late is refused (`js/load.rs`, `reload_answer`: "a
/// reload sent before … is stale"; `JsJob::ResourceReload` and a failed round each move to
/// a new attempt). Every environment GET answers 15 s late; the client GET fails twice
/// (the load, at 0 s, and the first reload round, at 3 s), so the second round, at 13 s,
/// completes only when its own environment answer lands, at 28.1 s, not with the first
/// round's, at 18 s. In lockstep with the model.
///
/// Catches `sdk/reference/js/lifecycle.rs: replace += with -= in Core::run_js` (the reload's
/// `rt.load_attempt += 1`) and `sdk/reference/js/load.rs: replace += with -= in
/// Core::reload_answer`.
#[test]
fn a_late_answer_of_an_earlier_recovery_round_is_refused() {
    let mut setup = Setup::new(Platform::Android, ProfileId::Documented);
    setup.sdk.resource_cache = true;
    let fault = |kind, count, on| Event::Fault(FaultSpec { kind, count, on: Some(on) });
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 5_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Kill,
        fault(FaultKind::Latency { ms: 15_000 }, 3, Endpoint::Environment),
        fault(FaultKind::ServerError { status: 503 }, 2, Endpoint::GetClient),
        Event::ColdStart,
        Event::Advance { ms: 40_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    // The recovery applies the client and persists the session token (the cached client
    // itself is unchanged, so not written again).
    let start = run.sdk.steps[7].at.ms();
    let recovered: Vec<u64> = run.sdk.steps[7..]
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::StorageWritten { at, key: StorageKey::CachedSessionJwt, .. } => {
                Some(at.ms() - start)
            }
            _ => None,
        })
        .collect();
    assert_eq!(recovered, [28_100], "recovered with its own answer, not the first round's");
}

/// Under `clerk-js-6` (`load_get_outlives_load`) a GET of `load()` that keeps failing with
/// network errors keeps retrying on the transport's GET schedule — 4 tries, 100 ms and then
/// 700 ms × 2ᵏ after each failure — even once its sibling's 503 failed the load: nobody reads
/// it (`js/load.rs`, `load_answer`). In lockstep with the model.
///
/// Catches, in `sdk/reference/js/load.rs` `Core::load_answer`'s stale branch, `replace < with
/// >` in `tries < self.rules.get_tries_max` and `replace - with +` / `with /` in the delay.
#[test]
fn a_get_of_a_failed_load_keeps_retrying_under_clerk_js_6() {
    let setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    let fault = |kind, count, on| Event::Fault(FaultSpec { kind, count, on: Some(on) });
    let events = [
        fault(FaultKind::DropBeforeCommit, 4, Endpoint::Environment),
        fault(FaultKind::ServerError { status: 503 }, 1, Endpoint::GetClient),
        Event::ColdStart,
        Event::Advance { ms: 10_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let (mut sent_at, mut done_at) = (Vec::new(), Vec::new());
    for h in run.sdk.steps.iter().flat_map(|s| &s.obs.happenings) {
        match h {
            Happening::RequestSent { at, endpoint: Endpoint::Environment, .. } => {
                sent_at.push(at.ms())
            }
            Happening::RequestDone { at, endpoint: Endpoint::Environment, .. } => {
                done_at.push(at.ms())
            }
            _ => {}
        }
    }
    assert_eq!(sent_at.len(), 4, "four tries: {sent_at:?}");
    let waits: Vec<u64> = sent_at[1..].iter().zip(&done_at).map(|(s, d)| s - d).collect();
    assert_eq!(waits, [100, 700, 1_400], "the GET retry schedule");
    assert!(!run.sdk.steps[3].obs.view.is_loaded, "the load failed for good");
}

/// Under `documented` (`LoadFailurePolicy::RetryThenSignedOut`) a failed `load()` is retried
/// up to `retries_max` (8) times on the getToken schedule unless the failure is final (a 4xx
/// other than 429), then settles signed out (`js/load.rs`, `load_failed`): a client GET
/// answered 400 is not retried; one answered 503 every time is sent 9 times for the load.
/// In lockstep with the model.
///
/// Catches, in `sdk/reference/js/load.rs` `Core::load_failed`, `replace && with ||` and
/// `replace < with <=` in `retries < self.rules.retries_max && !failure.is_final()`.
#[test]
fn a_failed_load_is_retried_eight_times_unless_refused() {
    let setup = Setup::new(Platform::Android, ProfileId::Documented);
    assert_eq!(ProfileId::Documented.rules().retries_max, 8);
    let load_gets = |status: u16, count: u32| {
        let events = [
            Event::Fault(FaultSpec {
                kind: FaultKind::ServerError { status },
                count,
                on: Some(Endpoint::GetClient),
            }),
            Event::ColdStart,
            Event::Advance { ms: 400_000 },
        ];
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "{}", run.summary());
        let load = run.sdk.steps[1].obs.happenings.iter().find_map(|h| match h {
            Happening::CallStarted { call, kind: CallKind::Load, .. } => Some(*call),
            _ => None,
        });
        let sent = run.sdk.steps.iter().flat_map(|s| &s.obs.happenings).filter(|h| {
            matches!(h, Happening::RequestSent { endpoint: Endpoint::GetClient, call, .. }
                if *call == load)
        });
        let settled = run.sdk.steps.iter().flat_map(|s| &s.obs.happenings).find_map(|h| match h {
            Happening::CallSettled { kind: CallKind::Load, result, .. } => Some(result.clone()),
            _ => None,
        });
        (sent.count(), settled)
    };
    let (sent, settled) = load_gets(400, 1);
    assert_eq!(sent, 1, "a 400 is final");
    assert!(matches!(settled, Some(CallResult::Error { status: 400, .. })), "{settled:?}");
    let (sent, settled) = load_gets(503, 1_000);
    assert_eq!(sent, 9, "the load and its 8 retries");
    assert!(matches!(settled, Some(CallResult::Error { status: 503, .. })), "{settled:?}");
}

/// Under `clerk-js-6` the resource cache's recovery reload stops at a non-retryable status
/// (`recovery_outlasts_refusals` off: "`@clerk/expo`'s resource-cache recovery stops at a
/// non-retryable status"), and goes on after any other failure (`js/load.rs`,
/// `reload_answer`): a degraded start whose first recovery round is answered 503 sends a
/// second round; one answered 400 sends none. In lockstep with the model.
///
/// Catches, in `sdk/reference/js/load.rs` `Core::reload_answer`, `replace && with ||` and
/// `delete !` in `refused = !network && reply.failure().is_final()`.
#[test]
fn the_recovery_reload_stops_at_a_refusal_under_clerk_js_6() {
    let mut setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    setup.sdk.resource_cache = true;
    let rounds = |status: u16| {
        let fault = |status, count| {
            Event::Fault(FaultSpec {
                kind: FaultKind::ServerError { status },
                count,
                on: Some(Endpoint::GetClient),
            })
        };
        let events = [
            Event::ColdStart,
            Event::Advance { ms: 5_000 },
            Event::SignIn { task: None },
            Event::Advance { ms: 5_000 },
            Event::Kill,
            // The load fails (503), then the first recovery round gets `status`.
            fault(503, 1),
            fault(status, 1),
            Event::ColdStart,
            Event::Advance { ms: 60_000 },
        ];
        let run = lockstep::run_reference(setup, &[], &events, None);
        assert!(run.divergence().is_none(), "{}", run.summary());
        run.sdk.steps[7..]
            .iter()
            .flat_map(|s| &s.obs.happenings)
            .filter(|h| {
                matches!(
                    h,
                    Happening::RequestSent { endpoint: Endpoint::GetClient, call: None, .. }
                )
            })
            .count()
    };
    assert_eq!(rounds(503), 2, "a 503 is retried");
    assert_eq!(rounds(400), 1, "a 400 ends the recovery");
}

/// A failed load moves its attempt on (`load_failed`), so a GET of the failed attempt that
/// answers once the retry has gone out belongs to no load. Here the session is revoked while
/// the first load's slow `GET /client` (3,075 ms) is on its way back: it answers between the
/// retry's requests and their answers, with a client that still shows the session, and the
/// app must load from the retry's client (signed out), in lockstep with the model.
///
/// Catches `sdk/reference/js/load.rs: replace += with -= in Core::load_failed` (the attempt
/// moved back would make the retry's attempt the failed one's again).
#[test]
fn a_get_of_a_failed_load_answering_during_the_retry_is_refused() {
    let setup = Setup::new(Platform::Android, ProfileId::Documented);
    let fault = |kind, on| Event::Fault(FaultSpec { kind, count: 1, on: Some(on) });
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Kill,
        fault(FaultKind::ServerError { status: 503 }, Endpoint::Environment),
        fault(FaultKind::Latency { ms: 3_075 }, Endpoint::GetClient),
        Event::ColdStart,
        Event::Advance { ms: 500 },
        Event::Revoke,
        Event::Advance { ms: 3_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let last = &run.sdk.steps[10];
    let retried = last
        .obs
        .happenings
        .iter()
        .any(|h| matches!(h, Happening::TimerFired { timer: TimerKind::LoadRetry, .. }));
    assert!(retried, "the load was retried: {:?}", last.obs.happenings);
    assert_eq!(last.obs.view.is_signed_in, Some(false), "{:?}", last.obs.view);
}

/// Only a per-session cache (clerk-js-6) parses a client half as it arrives: the documented
/// SDK seeds its token cache from a reload's client once both halves are in. Here a degraded
/// start's recovery reload gets its client (with a fresh token) 2 s before its environment,
/// and a `getToken` between the two finds only the expired token of the resource cache's
/// client, so it asks FAPI, in lockstep with the model.
///
/// Catches `sdk/reference/js/load.rs: replace && with || in Core::take_part`.
#[test]
fn a_documented_reload_seeds_nothing_from_a_client_half_alone() {
    let mut setup = Setup::new(Platform::Android, ProfileId::Documented);
    setup.sdk.resource_cache = true;
    let fault = |kind, on| Event::Fault(FaultSpec { kind, count: 1, on: Some(on) });
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 5_000 },
        Event::Kill,
        Event::Advance { ms: 120_000 },
        fault(FaultKind::ServerError { status: 503 }, Endpoint::GetClient),
        Event::ColdStart,
        Event::Advance { ms: 100 },
        fault(FaultKind::Latency { ms: 2_000 }, Endpoint::Environment),
        Event::Advance { ms: 3_100 },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 3_000 },
    ];
    let run = lockstep::run_reference(setup, &[], &events, None);
    assert!(run.divergence().is_none(), "{}", run.summary());
    let reload = &run.sdk.steps[10].obs.happenings;
    let client_answered = reload.iter().any(|h| {
        matches!(h, Happening::RequestDone { endpoint: Endpoint::GetClient, fault: None, .. })
    });
    assert!(client_answered, "the reload's client half answered: {reload:?}");
    let asked = sent(&run.sdk.steps[11]).contains(&Endpoint::Tokens);
    assert!(asked, "getToken asks FAPI: {:?}", run.sdk.steps[11].obs.happenings);
}
