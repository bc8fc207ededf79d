//! The external-SDK port against adapters that break the protocol on purpose
//! (`tests/fixtures/adapters/broken.mjs`, `flood-stderr.sh`): each fault is the right [`PortError`] with a clear
//! message within a bounded wall time, and leaves no process behind. And the plumbing's happy
//! path on a minimal conforming adapter (`signed-out.mjs`): start, steps, the request-tag join,
//! storage carried from `kill` to `cold_start`, one call counter across processes; and its
//! version 2 form, whose processes are reused unless they answer `end` wrongly.

use std::time::Duration;

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{
    AppPath, CallId, CallKind, CallResult, Endpoint, Event, Happening, Platform, RequestId,
    RequestOutcome, Route, StorageKey,
};
use session_harness::sdk::external::{AdapterCommand, ExternalSdk, Timeouts, repo_root};
use session_harness::sdk::{PortError, SdkPort};

fn fixture(name: &str) -> String {
    format!("harness/tests/fixtures/adapters/{name}")
}

fn broken(mode: &str, step: Duration) -> AdapterCommand {
    let mut command = AdapterCommand::cmd(&repo_root(), "unused");
    command.program = "node".into();
    command.args = vec![fixture("broken.mjs"), mode.into()];
    command.label = format!("broken-{mode}");
    command.with_timeouts(Timeouts { step, ..Timeouts::default() })
}

fn setup() -> Setup {
    Setup::new(Platform::Ios, ProfileId::ClerkJs6)
}

/// Runs `events` and returns the first error, the wall time it took, and the adapter's pid.
fn first_error(command: AdapterCommand, events: &[Event]) -> (PortError, Duration, Option<u32>) {
    let rt = ExternalSdk::runtime();
    let mut sdk = ExternalSdk::new(setup(), command);
    rt.block_on(async {
        let started = tokio::time::Instant::now();
        let mut pid = None;
        for event in events {
            match sdk.step(event).await {
                Ok(_) => pid = sdk.pid().or(pid),
                Err(e) => return (e, started.elapsed(), pid),
            }
        }
        panic!("every step succeeded; expected an adapter error");
    })
}

fn is_gone(pid: Option<u32>) -> bool {
    // A reaped process has no /proc entry (a zombie still has one).
    pid.is_none_or(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

const GENEROUS: Duration = Duration::from_secs(20);

#[test]
fn a_crash_mid_step_is_crashed_with_exit_status_and_stderr() {
    let (e, took, pid) = first_error(
        broken("crash-mid-step", GENEROUS),
        &[Event::ColdStart, Event::GetToken { skip_cache: false, template: None }],
    );
    let PortError::Crashed { step, detail, .. } = &e else { panic!("expected crashed: {e}") };
    assert_eq!(*step, 1, "{e}");
    assert!(detail.contains("exit status 3"), "{detail}");
    assert!(detail.contains("cannot read properties of undefined"), "{detail}");
    assert!(detail.contains("get_token"), "names the step's event: {detail}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(is_gone(pid), "the adapter process {pid:?} is still there");
}

#[test]
fn a_hang_is_hung_within_the_step_timeout_and_the_process_is_killed() {
    let timeout = Duration::from_millis(1_500);
    let (e, took, pid) =
        first_error(broken("hang", timeout), &[Event::ColdStart, Event::Advance { ms: 1_000 }]);
    let PortError::Hung { step, event, timeout_ms, .. } = &e else { panic!("expected hung: {e}") };
    assert_eq!((*step, *timeout_ms), (1, 1_500), "{e}");
    assert!(event.contains("advance") && event.contains("request id 2"), "{event}");
    assert!(took >= timeout && took < timeout + Duration::from_secs(8), "took {took:?}");
    assert!(is_gone(pid), "the hung adapter {pid:?} was not killed");
}

#[test]
fn garbage_is_garbled_quoting_the_line() {
    let (e, _, _) = first_error(broken("garbage", GENEROUS), &[Event::ColdStart]);
    let PortError::Garbled { detail, .. } = &e else { panic!("expected garbled: {e}") };
    assert!(detail.contains("`Warning: this is not JSON at all {`"), "{detail}");
    assert!(detail.contains("start"), "{detail}");
}

#[test]
fn a_line_over_the_limit_is_garbled_and_cut() {
    let (e, _, _) = first_error(broken("long-line", GENEROUS), &[Event::ColdStart]);
    let PortError::Garbled { detail, .. } = &e else { panic!("expected garbled: {e}") };
    assert!(detail.contains("over 33554432 bytes"), "{detail}");
    assert!(detail.len() < 600, "the message quotes at most 200 characters: {}", detail.len());
}

#[test]
fn an_answer_to_another_id_is_garbled_naming_both() {
    let (e, _, _) = first_error(broken("wrong-id", GENEROUS), &[Event::ColdStart]);
    let PortError::Garbled { detail, .. } = &e else { panic!("expected garbled: {e}") };
    assert!(detail.contains("answered id 42, expected 1"), "{detail}");
}

#[test]
fn another_protocol_is_garbled_naming_both_versions() {
    let (e, _, _) = first_error(broken("wrong-protocol", GENEROUS), &[Event::ColdStart]);
    let PortError::Garbled { detail, .. } = &e else { panic!("expected garbled: {e}") };
    assert!(detail.contains("speaks protocol 3, the harness speaks 1 and 2"), "{detail}");
}

#[test]
fn a_chatty_adapter_never_blocks_and_its_crash_shows_the_last_40_lines() {
    let command = AdapterCommand::cmd(&repo_root(), &format!("sh {}", fixture("flood-stderr.sh")))
        .with_timeouts(Timeouts { step: GENEROUS, ..Timeouts::default() });
    let (e, took, _) =
        first_error(command, &[Event::ColdStart, Event::Navigate { path: AppPath::new("/x") }]);
    let PortError::Crashed { step, detail, .. } = &e else { panic!("expected crashed: {e}") };
    assert_eq!(*step, 1, "start succeeded despite 16 MiB of stderr: {e}");
    assert!(detail.contains("exit status 1"), "{detail}");
    assert!(detail.contains("the last words of a chatty adapter"), "{detail}");
    assert!(detail.contains("last 40 stderr lines"), "{detail}");
    let kept = detail.matches("dying:").count();
    assert!((30..=40).contains(&kept), "{kept} flood lines shown; expected the last 40 lines");
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn error_replies_are_garbled_or_crashed_with_the_adapters_message() {
    let events = [Event::ColdStart, Event::GetToken { skip_cache: true, template: None }];
    let (e, _, _) = first_error(broken("bad-request", GENEROUS), &events);
    let PortError::Garbled { detail, .. } = &e else { panic!("expected garbled: {e}") };
    assert!(detail.contains("bad request: step `event` is missing"), "{detail}");
    let (e, _, pid) = first_error(broken("internal", GENEROUS), &events);
    let PortError::Crashed { detail, .. } = &e else { panic!("expected crashed: {e}") };
    assert!(detail.contains("failed internally"), "{detail}");
    assert!(detail.contains("at drain (clock.mjs:1:1)"), "with stderr: {detail}");
    assert!(is_gone(pid), "the process is killed after an error");
}

#[test]
fn a_program_that_does_not_exist_is_crashed_with_the_reason() {
    let mut command = broken("hang", GENEROUS);
    command.program = "session-harness-no-such-adapter".into();
    let (e, _, _) = first_error(command, &[Event::ColdStart]);
    let PortError::Crashed { detail, .. } = &e else { panic!("expected crashed: {e}") };
    assert!(detail.contains("could not start `session-harness-no-such-adapter"), "{detail}");
}

fn signed_out() -> AdapterCommand {
    AdapterCommand::cmd(&repo_root(), &format!("exec node {}", fixture("signed-out.mjs")))
        .with_timeouts(Timeouts { step: GENEROUS, ..Timeouts::default() })
}

#[test]
fn a_conforming_adapter_starts_steps_and_carries_storage_across_processes() {
    let rt = ExternalSdk::runtime();
    let mut sdk = ExternalSdk::new(setup(), signed_out());
    rt.block_on(async {
        let first = sdk.step(&Event::ColdStart).await.expect("start");
        assert_eq!(first.view.route, Route::SignIn { return_to: None });
        assert!(first.device.running);
        let sent = first.happenings.iter().find_map(|h| match h {
            Happening::RequestSent { req, endpoint, call, .. } => Some((*req, *endpoint, *call)),
            _ => None,
        });
        assert_eq!(sent, Some((RequestId(1), Endpoint::Environment, Some(CallId(1)))));
        let done = first.happenings.iter().find_map(|h| match h {
            Happening::RequestDone { req, outcome, .. } => Some((*req, *outcome)),
            _ => None,
        });
        assert_eq!(
            done,
            Some((RequestId(1), RequestOutcome::Answered { status: 200, retry_after_ms: None })),
            "joined with the emulator's log by tag"
        );
        assert_eq!(sdk.storage().get("__clerk_cache_environment").map(String::as_str), Some("1"));

        let obs = sdk.step(&Event::Advance { ms: 90_000 }).await.expect("advance");
        assert_eq!(sdk.now().ms(), 90_000);
        assert!(obs.happenings.is_empty(), "{:?}", obs.happenings);
        let obs = sdk
            .step(&Event::GetToken { skip_cache: true, template: None })
            .await
            .expect("get_token");
        assert!(obs.happenings.contains(&Happening::CallSettled {
            at: sdk.now(),
            call: CallId(2),
            kind: CallKind::GetToken,
            result: CallResult::Null
        }));

        let pid = sdk.pid();
        let killed = sdk.step(&Event::Kill).await.expect("kill");
        assert_eq!(killed.view.route, Route::Closed);
        assert!(!killed.device.running);
        assert!(is_gone(pid), "the first process {pid:?} exited");
        // Dead app: JS events are not sent, time still passes.
        sdk.step(&Event::GetToken { skip_cache: false, template: None })
            .await
            .expect("ignored while dead");
        sdk.step(&Event::Advance { ms: 10_000 }).await.expect("advance while dead");

        let second = sdk.step(&Event::ColdStart).await.expect("second start");
        assert_ne!(sdk.pid(), pid, "a new process");
        assert_eq!(sdk.storage().get("__clerk_cache_environment").map(String::as_str), Some("2"));
        let read = second.happenings.iter().find_map(|h| match h {
            Happening::StorageRead { key: StorageKey::CachedEnvironment, digest, .. } => {
                Some(*digest)
            }
            _ => None,
        });
        assert!(matches!(read, Some(Some(_))), "the second process read what the first wrote");
        let load = second.happenings.iter().find_map(|h| match h {
            Happening::CallStarted { call, kind: CallKind::Load, .. } => Some(*call),
            _ => None,
        });
        assert_eq!(load, Some(CallId(3)), "one call counter across processes");
        let req = second.happenings.iter().find_map(|h| match h {
            Happening::RequestSent { req, .. } => Some(*req),
            _ => None,
        });
        assert_eq!(req, Some(RequestId(2)), "one request counter across processes");

        let e = sdk.step(&Event::SignIn { task: None }).await.expect_err("unsupported");
        assert!(
            matches!(&e, PortError::Unsupported { event, .. } if event.contains("sign_in")),
            "{e}"
        );
    });
}

/// Protocol 2 (docs/adapter-protocol.md §1): a launch ends with `end` and the next one runs
/// in the same warm process; an adapter that answers `end` with the wrong id is not trusted
/// with another launch: each one gets a new process, and the run goes on without an error.
#[test]
fn a_version_2_adapter_is_reused_and_a_bad_end_costs_a_new_process() {
    let launches = |mode: &str| -> Vec<u32> {
        let command = AdapterCommand::cmd(
            &repo_root(),
            &format!("exec node {} {mode}", fixture("signed-out.mjs")),
        )
        .with_timeouts(Timeouts { step: GENEROUS, ..Timeouts::default() });
        let rt = ExternalSdk::runtime();
        let mut sdk = ExternalSdk::new(setup(), command);
        rt.block_on(async {
            let mut pids = Vec::new();
            for launch in 1..=3 {
                let obs = sdk.step(&Event::ColdStart).await.expect("start");
                assert_eq!(obs.view.route, Route::SignIn { return_to: None }, "{mode} {launch}");
                let rendered =
                    obs.happenings.iter().filter(|h| matches!(h, Happening::Rendered { .. }));
                assert_eq!(
                    rendered.count(),
                    2,
                    "{mode} {launch}: loading, then sign-in, from closed"
                );
                pids.extend(sdk.pid());
                sdk.step(&Event::Kill).await.expect("kill");
            }
            let launches = sdk.storage().get("__clerk_cache_environment").cloned();
            assert_eq!(launches.as_deref(), Some("3"), "{mode}: storage carried across launches");
            pids
        })
    };
    let good = launches("v2");
    assert_eq!(good.len(), 3);
    assert!(good.iter().all(|p| *p == good[0]), "one warm process: {good:?}");
    let bad = launches("v2-bad-end");
    assert_eq!(bad.len(), 3);
    assert!(bad[0] != bad[1] && bad[1] != bad[2] && bad[0] != bad[2], "no reuse: {bad:?}");
}

/// A version 2 `start` refused with `unsupported` begins no launch (docs/adapter-protocol.md
/// §3), so the harness sends no `end` (which the fixture, like the clerk-js driver, calls a
/// bad request): the same warm process hosts the next launch, of another run.
#[test]
fn a_refused_start_leaves_its_process_warm_for_the_next_launch() {
    // Its own command line: the pool is shared by every test thread of this binary.
    let command = AdapterCommand::cmd(
        &repo_root(),
        &format!("exec node {} v2 refused-start", fixture("signed-out.mjs")),
    )
    .with_timeouts(Timeouts { step: GENEROUS, ..Timeouts::default() });
    let rt = ExternalSdk::runtime();
    let pid_in_hello = |sdk: &ExternalSdk| -> u32 {
        let said = sdk.sdk_description().expect("a hello was read");
        let pid = said.split("-pid.").nth(1).expect("the v2 fixture names its pid");
        pid.parse().unwrap_or_else(|e| panic!("{said}: {e}"))
    };

    let mut refusing = setup();
    refusing.sdk.resource_cache = true;
    let mut sdk = ExternalSdk::new(refusing, command.clone());
    let refused = rt.block_on(sdk.step(&Event::ColdStart)).expect_err("start is refused");
    assert!(matches!(refused, PortError::Unsupported { .. }), "{refused}");
    let first = pid_in_hello(&sdk);
    drop(sdk);

    let mut sdk = ExternalSdk::new(setup(), command);
    let obs = rt.block_on(sdk.step(&Event::ColdStart)).expect("the next launch starts");
    assert_eq!(obs.view.route, Route::SignIn { return_to: None });
    assert_eq!(sdk.pid(), Some(first), "the refused process hosts the next launch");
    assert_eq!(pid_in_hello(&sdk), first);
    rt.block_on(sdk.step(&Event::Kill)).expect("kill");
}

/// Whether `pid` is gone: no `/proc` entry, or a zombie (dead, waiting for a reaper that a
/// container's init may never be).
fn is_dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// An `sh -c` adapter that leaves a `sleep` behind (writing its pid to `pidfile`), holding
/// the adapter's stdout open, then ends as `ending` says.
fn escaping(
    label: &str,
    leave_behind: &str,
    ending: &str,
    pidfile: &std::path::Path,
) -> AdapterCommand {
    let mut command = AdapterCommand::cmd(&repo_root(), "unused");
    command.program = "sh".into();
    command.args =
        vec!["-c".into(), format!("{leave_behind} echo $! > '{}'; {ending}", pidfile.display())];
    // Where a grandchild writes its pid.
    command.env.push(("INNER".into(), format!("{}.inner", pidfile.display())));
    command.label = label.into();
    command.with_timeouts(Timeouts { hello: GENEROUS, step: GENEROUS, ..Timeouts::default() })
}

/// Issue 19 §7: an adapter that exits (0 or by a crash) before the harness kills its group
/// used to make `Process::kill` return early, leaving its children; with the children holding
/// stdout open, a crash was reported as a hang after the 60 s hello timeout. Every escape
/// route but `setsid` (which leaves the process group; documented) is covered.
#[test]
#[allow(clippy::disallowed_methods, reason = "wall time bounds the wait for the kill")]
fn children_left_behind_by_an_adapter_are_gone_when_the_harness_returns() {
    let dir = std::env::temp_dir().join(format!("harness-orphans-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let routes = [
        ("exits 0", "sleep 300 &", "exit 0"),
        ("crashes (SIGSEGV)", "sleep 300 &", "kill -SEGV $$"),
        ("exits 3", "sleep 300 &", "exit 3"),
        (
            "double fork, then exits 0",
            "(sleep 300 & echo $! > \"$INNER\"; wait) &",
            // Once the grandchild has said who it is.
            "while [ ! -s \"$INNER\" ]; do sleep 0.01; done; exit 0",
        ),
        ("nohup, then exits 0", "nohup sleep 300 >/dev/null 2>&1 &", "exit 0"),
    ];
    for (i, (what, leave_behind, ending)) in routes.into_iter().enumerate() {
        let pidfile = dir.join(format!("route-{i}"));
        let command = escaping(what, leave_behind, ending, &pidfile);
        let (e, took, _) = first_error(command, &[Event::ColdStart]);
        assert!(matches!(e, PortError::Crashed { .. }), "{what}: a crash, not a hang: {e}");
        assert!(took < Duration::from_secs(5), "{what}: fails fast, took {took:?}");
        let mut pids = Vec::new();
        for file in [pidfile.clone(), dir.join(format!("route-{i}.inner"))] {
            if let Ok(text) = std::fs::read_to_string(&file) {
                pids.push(text.trim().parse::<u32>().expect("a pid"));
            }
        }
        let expected = if leave_behind.contains("INNER") { 2 } else { 1 };
        assert_eq!(pids.len(), expected, "{what}: the children to look for");
        // The kill is synchronous, but give the kernel a moment to deliver it.
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while pids.iter().any(|p| !is_dead(*p)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let alive: Vec<_> = pids.iter().filter(|p| !is_dead(**p)).collect();
        assert!(alive.is_empty(), "{what}: children {alive:?} outlived the harness");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
