//! Findings scoped to their mechanism (issue 13 item 4): a finding accepts a broken
//! invariant only when the SDK's trace shows the finding's mechanism, so a different bug that
//! breaks the same invariant is refused — also under `fuzz` scope.
//!
//! Each pair runs on the reference SDK: the `clerk-js-6` profile reproduces the real
//! clerk-js mechanisms (its known deviations), and a defect of the catalogue breaks the same
//! invariant another way. Both are judged against the committed `findings.yaml` as if they
//! came from `clerk-js@6.40.0`'s fuzz campaign.

use std::path::{Path, PathBuf};

use session_harness::gate::{Breakage, Findings};
use session_harness::invariants::InvariantId;
use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{Defect, Event};
use session_harness::runner::lockstep::{LockstepOutcome, run_reference};
use session_harness::scenario;

const LABEL: &str = "clerk-js@6.40.0";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("harness/ has a parent").to_path_buf()
}

fn findings() -> Findings {
    let text = std::fs::read_to_string(root().join("findings.yaml")).expect("findings.yaml");
    Findings::parse("findings.yaml", &text).expect("findings.yaml parses")
}

/// The events and `profile` setup of a library scenario.
fn scenario(name: &str, profile: ProfileId) -> (Setup, Vec<Event>) {
    let file = format!("scenarios/{name}.yaml");
    let sc = scenario::load(&root().join(&file), &file).expect("the scenario loads");
    (Setup { profile, ..sc.variants[0].setup }, sc.events)
}

/// A scenario written inline (a shrunk fuzz case), run on the reference SDK with no defect.
fn run_inline(name: &str, text: &str) -> LockstepOutcome {
    let case = scenario::parse(name, text).expect("the case parses");
    run_reference(case.variants[0].setup, &[], &case.events, None)
}

/// Which finding (if any) accepts `invariant` broken in `outcome`, as a fuzz case.
fn accepted_by(outcome: &LockstepOutcome, invariant: &str) -> Option<String> {
    let id = InvariantId::parse(invariant).expect("a known invariant");
    assert!(
        outcome.report.violations.iter().any(|v| v.invariant == id),
        "the run must break `{invariant}` for the test to mean anything:\n{}",
        outcome.summary()
    );
    findings()
        .accepting(LABEL, "fuzz", "case 0", &Breakage::Invariant(id), outcome)
        .map(|f| f.id.clone())
}

#[test]
fn parallel_skip_cache_requests_are_accepted_and_parallel_plain_get_tokens_are_not() {
    // clerk-js's mechanism: three getToken({ skipCache }) calls, three POST /tokens at once.
    let (setup, events) = scenario("profiles/concurrent-skip-cache", ProfileId::ClerkJs6);
    let real = run_reference(setup, &[], &events, None);
    assert_eq!(
        accepted_by(&real, "single-flight-refresh").as_deref(),
        Some("clerk-js-parallel-token-requests")
    );
    // The look-alike: plain getToken() callers once the network is back and the token has
    // expired offline, each starting its own
    // fetch (a cache that does not share in-flight fetches: defect `no-single-flight`). Same
    // invariant, same endpoint, a different bug: clerk-js shares a plain getToken's fetch.
    let look_alike = scenario::parse(
        "look-alike.yaml",
        "schema_version: 1\nname: look-alike\ndescription: d\nsetup: { platform: ios, profile: documented }\n\
         steps:\n  - cold_start: {}\n  - advance: 1s\n  - sign_in: {}\n  - advance: 5s\n\
         \x20 - network: offline\n  - advance: 2m\n  - network: online\n  - concurrently:\n      - get_token: {}\n\
         \x20     - get_token: {}\n  - advance: 2s\n",
    )
    .expect("the look-alike parses");
    let setup = look_alike.variants[0].setup;
    let look_alike = run_reference(setup, &[Defect::NoSingleFlight], &look_alike.events, None);
    assert_eq!(accepted_by(&look_alike, "single-flight-refresh"), None);
}

#[test]
fn a_template_skip_cache_fetch_beside_a_plain_one_is_accepted() {
    // Fresh-seed clerk-expo@3.2.8 gate campaign 0xbde0e915 (case seed 0x50def73d3cddf8d8):
    // getToken({ template }) then getToken({ template, skipCache }), two POST /tokens/convex
    // in flight. The purpose is `get_token(template=convex)(skip_cache)`.
    let run = run_inline(
        "template-skip-cache.yaml",
        "schema_version: 1\nname: template-skip-cache\ndescription: d\n\
         setup:\n  platform: ios\n  profile: clerk-js-6\n  instance:\n    templates:\n\
         \x20     convex: { lifetime: 30s, claims: { aud: convex } }\n\
         steps:\n  - cold_start: {}\n  - sign_in: {}\n  - advance: 175ms\n\
         \x20 - get_token: { template: convex }\n\
         \x20 - get_token: { template: convex, skip_cache: true }\n  - advance: 1s\n",
    );
    assert_eq!(
        accepted_by(&run, "single-flight-refresh").as_deref(),
        Some("clerk-js-parallel-token-requests")
    );
}

#[test]
fn a_sign_out_with_no_session_listed_is_accepted_and_one_that_keeps_the_credential_is_not() {
    // clerk-js's signOut returns at once: no request, the native token JS saved stays.
    let (setup, events) = scenario("native/sign-out-before-native-adoption", ProfileId::ClerkJs6);
    let real = run_reference(setup, &[], &events, None);
    let label = "clerk-expo@3.2.8";
    let id = InvariantId::SignoutSettles;
    let accepted = |o: &LockstepOutcome| {
        assert!(o.report.violations.iter().any(|v| v.invariant == id), "{}", o.summary());
        findings()
            .accepting(label, "fuzz", "case 0", &Breakage::Invariant(id), o)
            .map(|f| f.id.clone())
    };
    assert_eq!(
        accepted(&real).as_deref(),
        Some("clerk-js-sign-out-without-sessions-keeps-credential")
    );
    // The look-alike: a sign-out that asks the server and keeps the credential anyway
    // (defect `signout-keeps-credential`), settled ok after its request.
    let (setup, events) = scenario("defects/signout-keeps-credential", ProfileId::Documented);
    let look_alike = run_reference(setup, &[Defect::SignoutKeepsCredential], &events, None);
    assert_ne!(
        accepted(&look_alike).as_deref(),
        Some("clerk-js-sign-out-without-sessions-keeps-credential")
    );
}

#[test]
fn a_sign_out_after_a_500_reload_is_accepted_and_a_stale_timer_sign_out_is_not() {
    let (setup, events) = scenario("profiles/unauthorized-then-client-5xx", ProfileId::ClerkJs6);
    let real = run_reference(setup, &[], &events, None);
    assert_eq!(
        accepted_by(&real, "transient-never-signs-out").as_deref(),
        Some("clerk-js-500-on-reload-signs-out")
    );
    // The look-alike: `transient-never-signs-out` broken by a 401 on a stale timer's token
    // (PR #8303), with no 500 on the client reload.
    let (setup, events) = scenario("defects/stale-timer-logout", ProfileId::Documented);
    let look_alike = run_reference(setup, &[Defect::StaleTimerLogout], &events, None);
    assert_eq!(accepted_by(&look_alike, "transient-never-signs-out"), None);
}

#[test]
fn every_finding_names_its_mechanism_and_a_finding_without_one_is_refused() {
    let findings = findings();
    assert!(!findings.findings.is_empty());
    for f in &findings.findings {
        let m = f.mechanism.as_ref().unwrap_or_else(|| panic!("`{}` names no mechanism", f.id));
        assert!(!m.what.trim().is_empty(), "`{}` says nothing of its mechanism", f.id);
    }
    let text = std::fs::read_to_string(root().join("findings.yaml")).expect("findings.yaml");
    // Drop every mechanism: the file is refused, naming the first finding and the patterns.
    let stripped: String = {
        let mut out = String::new();
        let mut skipping = false;
        for line in text.lines() {
            if line.starts_with("    mechanism:") {
                skipping = true;
                continue;
            }
            if skipping && line.starts_with("      ") {
                continue;
            }
            skipping = false;
            out.push_str(line);
            out.push('\n');
        }
        out
    };
    let e = Findings::parse("findings.yaml", &stripped).unwrap_err().to_string();
    assert!(e.contains("names no mechanism") && e.contains("overlapping_requests"), "{e}");
    let bad = text.replacen("        retry_before_retry_after:", "        retry_before_retry:", 1);
    let e = Findings::parse("findings.yaml", &bad).unwrap_err().to_string();
    assert!(e.contains("retry_before_retry"), "{e}");
}

#[test]
fn a_terminal_session_nothing_asked_about_is_accepted_and_an_ignored_401_is_not() {
    // clerk-js's mechanism: the foreground refresh failed for good, the late timer is skipped
    // (expired token), so nothing asks the server after the revoke.
    let (setup, events) = scenario("profiles/terminal-unnoticed", ProfileId::ClerkJs6);
    let real = run_reference(setup, &[], &events, None);
    assert_eq!(
        accepted_by(&real, "terminal-is-final").as_deref(),
        Some("clerk-js-terminal-unnoticed-on-native")
    );
    // The look-alike: the SDK asks, hears the 401 and the reloaded client says `revoked`,
    // and keeps the session anyway (defect `revoked-ignored`). Same invariant, a different
    // bug: clerk-js signs out once it hears.
    let (setup, events) = scenario("defects/revoked-ignored", ProfileId::Documented);
    let look_alike = run_reference(setup, &[Defect::RevokedIgnored], &events, None);
    assert_eq!(accepted_by(&look_alike, "terminal-is-final"), None);
}

#[test]
fn a_second_fetch_after_a_cache_clear_is_accepted_and_a_fetch_that_does_not_join_is_not() {
    // clerk-js's mechanism: `remove()` clears the cache under a pending fetch, and the next
    // API call's getToken starts a second one.
    let (setup, events) = scenario("profiles/cache-clear-forgets-fetch", ProfileId::ClerkJs6);
    let real = run_reference(setup, &[], &events, None);
    assert_eq!(
        accepted_by(&real, "single-flight-refresh").as_deref(),
        Some("clerk-js-cache-clear-forgets-pending-fetch")
    );
    // The look-alike: the same overlap with no clearing call between (defect
    // `no-single-flight`: two API calls each fetch their own token). Refused.
    let look_alike = scenario::parse(
        "look-alike.yaml",
        "schema_version: 1\nname: look-alike\ndescription: d\nsetup: { platform: ios, profile: documented }\n\
         steps:\n  - cold_start: {}\n  - advance: 1s\n  - sign_in: {}\n  - advance: 5s\n\
         \x20 - network: offline\n  - advance: 2m\n  - network: online\n  - concurrently:\n      - api_call: { path: /settings }\n\
         \x20     - api_call: { path: /settings }\n  - advance: 2s\n",
    )
    .expect("the look-alike parses");
    let setup = look_alike.variants[0].setup;
    let look_alike = run_reference(setup, &[Defect::NoSingleFlight], &look_alike.events, None);
    assert_eq!(accepted_by(&look_alike, "single-flight-refresh"), None);
}

#[test]
fn the_api_wrappers_refresh_after_a_401_beside_a_plain_fetch_is_accepted() {
    // Found by the clerk-js@6.40.0 campaign (seed 0x8abe5510, case 119): `remove()` empties
    // the cache, one API call fetches a token, and another's backend answers 401, so the
    // wrapper's getToken({ skipCache: true }) goes out beside it.
    let outcome = run_inline(
        "api-refresh.yaml",
        "schema_version: 1\nname: api-refresh\ndescription: d\n\
         setup: { platform: android, profile: clerk-js-6, instance: { multi_session: true } }\n\
         steps:\n  - cold_start: {}\n  - advance: 5ms\n  - sign_in: {}\n  - advance: 26s495ms\n\
         \x20 - api_call: { path: /orders/42 }\n  - session_remove: {}\n  - advance: 2ms\n\
         \x20 - api_call: { path: /home }\n  - advance: 5s\n",
    );
    assert_eq!(
        accepted_by(&outcome, "single-flight-refresh").as_deref(),
        Some("clerk-js-parallel-token-requests")
    );
}

#[test]
fn a_switch_that_drops_the_session_is_accepted_and_an_empty_client_from_a_refresh_is_not() {
    // clerk-js's mechanisms: a sign-in's late (older) piggybacked client, and a touch's 401
    // whose client reload no longer holds setActive's session — each signs the app out while
    // another session is active on the server.
    for name in ["profiles/sign-in-payload-drops-session", "profiles/touch-401-drops-session"] {
        let (setup, events) = scenario(name, ProfileId::ClerkJs6);
        let real = run_reference(setup, &[], &events, None);
        assert_eq!(
            accepted_by(&real, "transient-never-signs-out").as_deref(),
            Some("clerk-js-switch-drops-session"),
            "{name}"
        );
    }
    // A foreground refresh's token answer landing between the reload's answer and the
    // sign-out (fuzz seed 0x5a44cc47, case 12, on clerk-expo 3.2.8) is still this mechanism.
    let refreshed = run_inline(
        "foreground-refresh-between.yaml",
        "schema_version: 1
name: foreground-refresh-between
description: d
setup:
  platform: android
  profile: clerk-js-6
  token_cache: secure_store
  resource_cache: true
  native: true
  treat_pending_as_signed_out: true
  instance:
    session_token_ttl: 1m
    max_lifetime: 7d
    inactivity_timeout: 30m
    multi_session: true
    session_minter: false
steps:
- cold_start: {}
- advance: 5s204ms
- sign_in: {}
- sign_in: {}
- replace: {}
- advance: 91ms
- sign_in:
    task: setup-mfa
- app_state: background
- advance: 27ms
- app_state: active
- advance: 134ms
",
    );
    assert_eq!(
        accepted_by(&refreshed, "transient-never-signs-out").as_deref(),
        Some("clerk-js-switch-drops-session")
    );
    // The look-alike: a foreground refresh with a rotated-out client token gets a new empty
    // client and stores it (defect `empty-client-clobber`). Same invariant, same sign-out
    // cause (`client_payload`), but no sign-in or setActive is open: a different bug.
    let (setup, events) = scenario("defects/empty-client-clobber", ProfileId::Documented);
    let look_alike = run_reference(setup, &[Defect::EmptyClientClobber], &events, None);
    assert_eq!(accepted_by(&look_alike, "transient-never-signs-out"), None);
}

#[test]
fn a_switch_finishing_after_the_sign_out_is_accepted_and_a_late_payload_is_not() {
    // clerk-js's mechanism: setActive's continuation sets its session after the app signed
    // out (the sign-out still in flight).
    let (setup, events) = scenario("profiles/set-active-after-sign-out", ProfileId::ClerkJs6);
    let real = run_reference(setup, &[], &events, None);
    assert_eq!(
        accepted_by(&real, "signout-is-final").as_deref(),
        Some("clerk-js-set-active-after-sign-out")
    );
    // The look-alike: a client payload answering a request sent before the sign-out arrives
    // after it and signs the user back in, with no switch in flight. It is another finding's
    // mechanism; this finding alone must refuse it.
    let (setup, events) = scenario("profiles/payload-after-sign-out", ProfileId::ClerkJs6);
    let look_alike = run_reference(setup, &[], &events, None);
    assert_eq!(
        accepted_by(&look_alike, "signout-is-final").as_deref(),
        Some("clerk-js-answer-after-sign-out")
    );
    let mut only = findings();
    only.findings.retain(|f| f.id == "clerk-js-set-active-after-sign-out");
    let id = InvariantId::parse("signout-is-final").expect("a known invariant");
    assert!(
        only.accepting(LABEL, "fuzz", "case 0", &Breakage::Invariant(id), &look_alike).is_none(),
        "a late payload with no switch in flight is not a switch finishing late"
    );
}

#[test]
fn a_session_the_android_bootstrap_dropped_for_good_is_accepted_and_a_failed_load_is_not() {
    // Fresh-seed clerk-expo@3.2.8 gate campaign 0xa308aeb9, case 189 (case seed
    // 0x844d5ce8a65faeaa), shrunk: the bootstrap's poll finds the native session, reloads
    // and sets it active; clerk-js signs JS out of its own session, which the server keeps
    // and the stored client token restores, and nothing sets it current again.
    let run = run_inline(
        "bootstrap-drops-js-session-for-good.yaml",
        "schema_version: 1
name: bootstrap-drops-js-session-for-good
description: d
setup:
  platform: android
  profile: clerk-js-6
  token_cache: secure_store
  resource_cache: true
  native: true
  treat_pending_as_signed_out: true
  instance:
    session_token_ttl: 1m
    max_lifetime: 7d
    inactivity_timeout: 'off'
    multi_session: false
    session_minter: true
steps:
- cold_start: {}
- advance: 101ms
- sign_in: {}
- native_sign_in: {}
- advance: 1m53s70ms
",
    );
    let label = "clerk-expo@3.2.8";
    let accepted = |o: &LockstepOutcome, findings: &Findings, invariant: &str| {
        let id = InvariantId::parse(invariant).expect("a known invariant");
        assert!(o.report.violations.iter().any(|v| v.invariant == id), "{}", o.summary());
        findings
            .accepting(label, "fuzz", "case 0", &Breakage::Invariant(id), o)
            .map(|f| f.id.clone())
    };
    let all = findings();
    assert_eq!(
        accepted(&run, &all, "transient-never-signs-out").as_deref(),
        Some("clerk-expo-native-bootstrap-drops-js-session")
    );
    assert_eq!(
        accepted(&run, &all, "eventually-signed-in").as_deref(),
        Some("clerk-expo-native-bootstrap-drops-js-session-for-good")
    );
    // The look-alike: a launch whose load failed offline never loads again (clerk-js's own
    // finding). Same invariant, no bootstrap reload, no sign-out: this finding refuses it.
    let (setup, events) = scenario("device/offline-start-recovers", ProfileId::ClerkJs6);
    let look_alike = run_reference(setup, &[], &events, None);
    let mut only = findings();
    only.findings.retain(|f| f.id == "clerk-expo-native-bootstrap-drops-js-session-for-good");
    assert_eq!(accepted(&look_alike, &only, "eventually-signed-in"), None);
}
