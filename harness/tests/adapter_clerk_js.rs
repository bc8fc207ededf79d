//! The real `@clerk/clerk-js` 6.40.0 (adapters/clerk-js, installed by `npm ci`) driven by the
//! harness through the adapter protocol, in lockstep with the model under `clerk-js-6` at
//! observable fidelity, every invariant judged on its own trace: cold start, sign-in,
//! getToken, two minutes of proactive refreshes, sign-out; and a kill and cold start that
//! restores the session from what the first process persisted; a revoke, with its expired
//! twin rerun on the SDK.

mod serve_support;

use session_harness::invariants::InvariantId;
use session_harness::model::profile::ProfileId;
use session_harness::model::settings::{Setup, TokenCacheKind};
use session_harness::model::time::{MINUTE_MS, SECOND_MS};
use session_harness::model::vocab::{
    AppPath, CallKind, CallResult, Endpoint, Event, Happening, Platform, RequestId, RequestOutcome,
    Route, SessionId, SessionStatus, SignOutCause, TokenInfo,
};
use session_harness::runner::lockstep::{LockstepOutcome, Verdict, run_external};
use session_harness::sdk::external::{AdapterCommand, repo_root};
use session_harness::trace::TraceStep;

fn clerk_js() -> AdapterCommand {
    // A fresh clone has no node_modules yet: install the pinned adapter first (once).
    serve_support::ensure_npm_installed();
    AdapterCommand::clerk_js_pinned(&repo_root())
}

fn run(platform: Platform, events: &[Event]) -> LockstepOutcome {
    let outcome =
        run_external(Setup::new(platform, ProfileId::ClerkJs6), &clerk_js(), events, None);
    assert!(matches!(outcome.verdict, Verdict::Passed), "{}", outcome.summary());
    assert_eq!(outcome.sdk.sdk, "clerk-js@6.40.0");
    assert_eq!(outcome.sdk.steps.len(), events.len(), "every step ran");
    outcome
}

fn tokens(step: &TraceStep) -> Vec<TokenInfo> {
    step.obs
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::CallSettled { result: CallResult::Token { token }, .. } => Some(*token),
            _ => None,
        })
        .collect()
}

fn requests_to(step: &TraceStep, endpoint: Endpoint) -> Vec<(RequestId, RequestOutcome)> {
    let sent: Vec<RequestId> = step
        .obs
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::RequestSent { req, endpoint: e, .. } if *e == endpoint => Some(*req),
            _ => None,
        })
        .collect();
    step.obs
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::RequestDone { req, outcome, .. } if sent.contains(req) => {
                Some((*req, *outcome))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn sign_in_get_token_refresh_and_sign_out_in_lockstep() {
    let events = [
        Event::ColdStart,
        Event::Advance { ms: SECOND_MS },
        Event::SignIn { task: None },
        Event::Advance { ms: SECOND_MS },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: SECOND_MS },
        Event::Advance { ms: 2 * MINUTE_MS },
        Event::GetToken { skip_cache: false, template: None },
        Event::SignOut,
        Event::Advance { ms: SECOND_MS },
    ];
    for platform in [Platform::Ios, Platform::Android] {
        let outcome = run(platform, &events);
        let steps = &outcome.sdk.steps;

        let signed_in = &steps[3].obs;
        assert_eq!(signed_in.view.route, Route::Protected { path: AppPath::home() });
        assert_eq!(signed_in.view.is_signed_in, Some(true));
        let session = signed_in.view.session.expect("a session after sign-in");
        assert_eq!(session.status, SessionStatus::Active);
        assert_eq!(signed_in.server.session, Some((session.id, SessionStatus::Active)));
        assert!(signed_in.server.persisted_credential_valid, "the client JWT was persisted");

        let first = tokens(&steps[4]);
        assert_eq!(first.len(), 1, "getToken settles with a token at once (cached)");
        assert_eq!(first[0].sid, session.id);
        assert_eq!(first[0].exp - first[0].iat, 60, "a 60 s session token");
        assert!(!first[0].is_expired_at(steps[4].at));

        // clerk-js 6 refreshes proactively before expiry: two minutes, two refreshes at least,
        // each a token request the emulator answered.
        let refreshes = requests_to(&steps[6], Endpoint::Tokens);
        assert!(refreshes.len() >= 2, "{refreshes:?}");
        assert!(refreshes.iter().all(|(_, o)| o.status() == Some(200)), "{refreshes:?}");
        let later = tokens(&steps[7]);
        assert_eq!(later.len(), 1);
        assert!(later[0].serial > first[0].serial, "a fresher token after the refreshes");
        assert!(!later[0].is_expired_at(steps[7].at), "a live token from the cache");

        let out = &steps[9].obs;
        assert!(
            out.happenings
                .iter()
                .any(|h| matches!(h, Happening::SignedOut { cause: SignOutCause::User, .. })),
            "{:?}",
            out.happenings
        );
        assert_eq!(out.view.route, Route::SignIn { return_to: None });
        assert_eq!(out.view.is_signed_in, Some(false));
        assert!(out.server.status_of(session.id).is_some_and(|s| s.is_terminal()));
        assert!(!out.server.persisted_credential_valid);

        // Requests are numbered 1, 2, … across the run, as the model numbers them.
        let ids: Vec<u32> = steps
            .iter()
            .flat_map(|s| &s.obs.happenings)
            .filter_map(|h| match h {
                Happening::RequestSent { req, .. } => Some(req.0),
                _ => None,
            })
            .collect();
        assert_eq!(ids, (1..=ids.len() as u32).collect::<Vec<_>>());
        assert!(outcome.report.exercised[&InvariantId::FreshTokenOnly] >= 2);
    }
}

#[test]
fn kill_and_cold_start_restore_the_session_from_storage() {
    let events = [
        Event::ColdStart,
        Event::Advance { ms: SECOND_MS },
        Event::SignIn { task: None },
        Event::Advance { ms: SECOND_MS },
        Event::GetToken { skip_cache: false, template: None },
        Event::Kill,
        Event::Advance { ms: 5 * MINUTE_MS },
        Event::ColdStart,
        Event::Advance { ms: 3 * SECOND_MS },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: SECOND_MS },
    ];
    let outcome = run(Platform::Ios, &events);
    let steps = &outcome.sdk.steps;
    let session = steps[3].obs.view.session.expect("signed in").id;
    assert_eq!(steps[5].obs.view.route, Route::Closed);
    assert!(!steps[5].obs.device.running);
    let load_calls: Vec<u32> = steps
        .iter()
        .flat_map(|s| &s.obs.happenings)
        .filter_map(|h| match h {
            Happening::CallStarted { call, kind: CallKind::Load, .. } => Some(call.0),
            _ => None,
        })
        .collect();
    assert_eq!(load_calls.len(), 2, "one load per process");
    assert!(load_calls[1] > load_calls[0], "one call counter across processes");

    let restored = &steps[8].obs;
    assert_eq!(restored.view.route, Route::Protected { path: AppPath::home() });
    assert_eq!(restored.view.session.map(|s| s.id), Some(session), "the same session");
    assert!(outcome.report.exercised[&InvariantId::RestoreAfterColdStart] >= 1);
    // The second process's token is fresh: minted after the restart, not before the kill.
    let token = tokens(&steps[9])
        .into_iter()
        .chain(tokens(&steps[10]))
        .next()
        .expect("getToken settles with a token after the restore");
    assert_eq!(token.sid, session);
    assert!(!token.is_expired_at(steps[9].at));
}

#[test]
fn revoked_runs_its_expired_twin_on_the_sdk() {
    let events = [
        Event::ColdStart,
        Event::Advance { ms: SECOND_MS },
        Event::SignIn { task: None },
        Event::Advance { ms: SECOND_MS },
        Event::Revoke,
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 2 * SECOND_MS },
    ];
    // `run` checks the verdict, which includes the twin: every `revoke` rerun as
    // `expire_now` on a fresh clerk-js, and what the app saw compared step by step.
    let outcome = run(Platform::Ios, &events);
    assert_eq!(outcome.report.exercised[&InvariantId::RevokedLikeExpired], 1);
    let last = outcome.sdk.steps.last().expect("steps");
    assert!(last.obs.happenings.iter().any(|h| matches!(
        h,
        Happening::CallSettled {
            kind: CallKind::GetToken,
            result: CallResult::Error { status: 401, .. },
            ..
        }
    )));
    assert_eq!(last.obs.view.route, Route::SignIn { return_to: Some(AppPath::home()) });
    assert_eq!(last.obs.server.status_of(SessionId(1)), Some(SessionStatus::Revoked));
}

#[test]
fn a_memory_token_cache_forgets_the_session_with_the_process() {
    let events = [
        Event::ColdStart,
        Event::Advance { ms: SECOND_MS },
        Event::SignIn { task: None },
        Event::Advance { ms: SECOND_MS },
        Event::Kill,
        Event::ColdStart,
        Event::Advance { ms: 3 * SECOND_MS },
    ];
    let mut setup = Setup::new(Platform::Android, ProfileId::ClerkJs6);
    setup.sdk.token_cache = TokenCacheKind::Memory;
    let outcome = run_external(setup, &clerk_js(), &events, None);
    assert!(matches!(outcome.verdict, Verdict::Passed), "{}", outcome.summary());
    let steps = &outcome.sdk.steps;
    let session = steps[3].obs.view.session.expect("signed in").id;
    // The harness's server view follows the token the process holds in memory.
    assert_eq!(steps[3].obs.server.session, Some((session, SessionStatus::Active)));
    assert!(!steps[3].obs.server.persisted_credential_valid, "nothing persisted");
    let after = &steps[6].obs;
    assert_eq!(after.view.route, Route::SignIn { return_to: None });
    assert_ne!(after.server.session.map(|s| s.0), Some(session), "a new, empty client");
}

/// Issue 20: a launch is a hand-over to a warm adapter process (protocol 2's `end`), and the
/// trace of a seed must not tell which process hosted which launch. One generated case
/// (waits clamped to ten minutes, so the real SDK runs it in seconds) and a hand-written run
/// of every process event, each at pool size 0 (a new Node process per launch, as protocol 1)
/// and twice at pool size 4 (the second run only on processes earlier launches ended): the
/// trace bytes are identical.
#[test]
fn the_same_seed_gives_the_same_trace_bytes_whatever_the_pool_size() {
    use session_harness::generate;
    use session_harness::runner::lockstep::run_external_sdk;

    let seed = 0x2020_0001;
    let case = generate::case_from_seed(ProfileId::ClerkJs6, 24, seed);
    let generated: Vec<Event> = generate::interpret_for(&case, None, false)
        .events()
        .into_iter()
        .map(|e| match e {
            Event::Advance { ms } => Event::Advance { ms: ms.min(10 * MINUTE_MS) },
            e => e,
        })
        .collect();
    let relaunches = vec![
        Event::ColdStart,
        Event::SignIn { task: None },
        Event::Advance { ms: 2 * MINUTE_MS },
        Event::JsReload,
        Event::Advance { ms: SECOND_MS },
        Event::Kill,
        Event::ColdStart,
        Event::GetToken { skip_cache: true, template: None },
        Event::Reinstall,
        Event::ColdStart,
        Event::Advance { ms: SECOND_MS },
    ];
    for (setup, events) in
        [(case.setup, generated), (Setup::new(Platform::Android, ProfileId::ClerkJs6), relaunches)]
    {
        let trace = |pool: usize| {
            let (trace, broken) =
                run_external_sdk(setup, &clerk_js().with_pool(pool), &events, Some(seed));
            assert!(broken.is_none(), "pool {pool}: {broken:?}");
            assert_eq!(trace.steps.len(), events.len(), "pool {pool}: every step ran");
            trace.to_bytes()
        };
        let fresh = trace(0);
        let warm = trace(4);
        let warmer = trace(4);
        assert!(fresh == warm, "pool 0 and pool 4 differ on {events:?}");
        assert!(fresh == warmer, "a run on warm processes only differs on {events:?}");
    }
}

/// The hand-over is real: with a pool, a `kill` then `cold_start` runs the next launch in the
/// same adapter process (and it still restores only what was persisted, the test above);
/// without one, in a new process.
#[test]
fn a_relaunch_reuses_the_warm_process_only_with_a_pool() {
    use session_harness::sdk::SdkPort as _;
    use session_harness::sdk::external::ExternalSdk;

    let pids = |pool: usize| {
        let rt = ExternalSdk::runtime();
        let setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
        // Its own pool key: the other tests here run at the same time and would take the
        // process between the `kill` and the `cold_start`.
        let mut command = clerk_js().with_pool(pool);
        command.env.push(("SESSION_HARNESS_TEST_POOL_KEY".into(), "relaunch".into()));
        let mut sdk = ExternalSdk::new(setup, command);
        rt.block_on(async {
            let mut pids = Vec::new();
            for event in [Event::ColdStart, Event::Kill, Event::ColdStart, Event::JsReload] {
                sdk.step(&event).await.expect("each step runs");
                pids.extend(sdk.pid());
            }
            pids
        })
    };
    let pooled = pids(4);
    assert_eq!(pooled.len(), 3, "{pooled:?}");
    assert!(
        pooled.iter().all(|p| *p == pooled[0]),
        "one warm process for every launch: {pooled:?}"
    );
    let fresh = pids(0);
    assert_eq!(fresh.len(), 3, "{fresh:?}");
    assert!(fresh[0] != fresh[1] && fresh[1] != fresh[2], "a process per launch: {fresh:?}");
}
