//! The native module over the adapter protocol (docs/adapter-protocol.md §11), driven by a
//! scripted adapter (`tests/fixtures/adapters/native.mjs`): its `native` lines reach the
//! harness's native layer (`model/native.rs`) and come back as `native_answer`s, a
//! `native_sign_in` reaches it with the iOS `onAuthStateChange` event, the calls show in the
//! trace at their instants, and an adapter that does not say `native_module` is refused.
//! Storage faults armed while no process runs reach the next `start` of an adapter that
//! lists their kind (§3, "Storage faults across a launch"), and refuse any other.

use std::time::Duration;

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{
    Endpoint, Event, Happening, NativeCallName, Platform, SessionStatus, StorageFaultKind,
    StorageFaultSpec, StorageKey, StorageOp,
};
use session_harness::sdk::external::{AdapterCommand, ExternalSdk, Timeouts, repo_root};
use session_harness::sdk::{PortError, SdkPort};

fn adapter(script: &str) -> AdapterCommand {
    AdapterCommand::cmd(
        &repo_root(),
        &format!("exec node harness/tests/fixtures/adapters/{script}"),
    )
    .with_timeouts(Timeouts { step: Duration::from_secs(20), ..Timeouts::default() })
}

fn native_setup() -> Setup {
    let mut setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    setup.sdk.native = true;
    setup
}

fn native_calls(happenings: &[Happening]) -> Vec<(NativeCallName, String)> {
    happenings
        .iter()
        .filter_map(|h| match h {
            Happening::NativeCalled { call, answer, .. } => Some((*call, answer.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn native_calls_and_events_go_through_the_protocol_to_the_one_native_layer() {
    let rt = ExternalSdk::runtime();
    let mut sdk = ExternalSdk::new(native_setup(), adapter("native.mjs"));
    rt.block_on(async {
        let first = sdk.step(&Event::ColdStart).await.expect("start with native calls");
        let calls = native_calls(&first.happenings);
        assert_eq!(
            calls,
            vec![
                (NativeCallName::Configure, "ok".to_string()),
                (NativeCallName::GetSession, "none".to_string()),
            ],
            "{:#?}",
            first.happenings
        );
        // `configure` with no token: clerk-ios fetched a client of its own.
        assert!(first.happenings.iter().any(|h| matches!(
            h,
            Happening::NativeRequest { endpoint: Endpoint::GetClient, status: 200, .. }
        )));

        sdk.step(&Event::Advance { ms: 1_000 }).await.expect("advance");
        let signed = sdk.step(&Event::NativeSignIn).await.expect("native sign-in");
        let session = signed.happenings.iter().find_map(|h| match h {
            Happening::NativeSignedIn { session, .. } => Some(*session),
            _ => None,
        });
        let sid = session.flatten().expect("the native layer signed in");
        let calls = native_calls(&signed.happenings);
        assert!(
            matches!(
                calls.first(),
                Some((NativeCallName::GetClientToken, t)) if t.starts_with("client_")
            ),
            "{calls:?}"
        );
        // The unknown call was refused by the harness and reached no native rule; the
        // sign-out removed the native session on the server.
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[1], (NativeCallName::SignOut, "ok".to_string()));
        assert!(signed.happenings.iter().any(|h| matches!(
            h,
            Happening::NativeRequest { endpoint: Endpoint::Remove, status: 200, .. }
        )));
        assert!(signed.server.sessions.contains(&(sid, SessionStatus::Removed)));
        // Merged by instant: nothing the harness logged is out of order.
        let ats: Vec<_> = signed.happenings.iter().map(Happening::at).collect();
        assert!(ats.windows(2).all(|w| w[0] <= w[1]), "{ats:?}");
    });
}

#[test]
fn an_adapter_without_the_native_module_is_refused_before_start() {
    let rt = ExternalSdk::runtime();
    let mut sdk = ExternalSdk::new(native_setup(), adapter("signed-out.mjs"));
    rt.block_on(async {
        let e = sdk.step(&Event::ColdStart).await.expect_err("refused");
        assert!(
            matches!(&e, PortError::Unsupported { event, .. } if event.contains("native_module")),
            "{e}"
        );
    });
}

fn read_throws() -> Event {
    Event::StorageFault(StorageFaultSpec {
        op: StorageOp::Read,
        kind: StorageFaultKind::Throw,
        count: 1,
        key: None,
    })
}

/// The digests of the launch counter the fake writes at each start
/// (`__clerk_cache_environment`).
fn counter(happenings: &[Happening]) -> Vec<u64> {
    happenings
        .iter()
        .filter_map(|h| match h {
            Happening::StorageWritten { key: StorageKey::CachedEnvironment, digest, .. } => {
                Some(*digest)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_storage_fault_armed_while_dead_reaches_the_next_start_only() {
    let rt = ExternalSdk::runtime();
    let setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    let mut sdk = ExternalSdk::new(setup, adapter("signed-out.mjs faults"));
    rt.block_on(async {
        let mut writes = Vec::new();
        for event in [
            Event::ColdStart,
            Event::Kill,
            read_throws(),
            Event::ColdStart,
            Event::Kill,
            Event::ColdStart,
        ] {
            let obs = sdk.step(&event).await.unwrap_or_else(|e| panic!("{event}: {e}"));
            writes.extend(counter(&obs.happenings));
        }
        // Launch counts 1, then 1 again (the read threw), then 2: the fault met the second
        // launch only.
        assert_eq!(writes.len(), 3, "{writes:?}");
        assert_eq!(writes[0], writes[1], "the second launch's read threw: it counted from 0");
        assert_ne!(writes[1], writes[2], "the third launch read the counter again");
    });
}

#[test]
fn a_storage_fault_for_an_adapter_that_does_not_list_its_kind_is_refused_at_launch() {
    let rt = ExternalSdk::runtime();
    let setup = Setup::new(Platform::Ios, ProfileId::ClerkJs6);
    let mut sdk = ExternalSdk::new(setup, adapter("signed-out.mjs"));
    rt.block_on(async {
        sdk.step(&Event::ColdStart).await.expect("start");
        sdk.step(&Event::Kill).await.expect("kill");
        sdk.step(&read_throws()).await.expect("armed while dead");
        let e = sdk.step(&Event::ColdStart).await.expect_err("refused");
        assert!(
            matches!(&e, PortError::Unsupported { event, .. }
                if event.contains("storage_fault") && event.contains("throw")),
            "{e}"
        );
    });
}
