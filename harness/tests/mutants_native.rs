//! Tests written for mutants of the native layer (`harness/src/model/native.rs`) that
//! `cargo xtask mutants` found missed: each drives `NativeLayer` directly, as the model and
//! the reference SDK do, and pins a behaviour no scenario observed. The mutant each one
//! catches is named above it (file: mutation, as cargo-mutants prints it).

use session_harness::model::device::Device;
use session_harness::model::native::{NativeCall, NativeEnv, NativeLayer, NativeVariant};
use session_harness::model::server::Server;
use session_harness::model::settings::InstanceSettings;
use session_harness::model::time::VTime;
use session_harness::model::vocab::{Happening, Platform};

/// A call's environment at `now` on `device` and `server`.
fn env<'a>(
    device: &'a mut Device,
    server: &'a mut Server,
    now: u64,
    log: &'a mut Vec<Happening>,
) -> NativeEnv<'a> {
    NativeEnv {
        device,
        server,
        now: VTime(now),
        latency_ms: 50,
        variant: NativeVariant::Current,
        log,
    }
}

/// Android's `presentAuth` needs `Clerk.isInitialized` (a `configure` in this process) and
/// refuses a second sign-in while one is held; once configured and signed out it signs in.
///
/// Catches `native.rs: replace && with || in NativeLayer::try_sign_in`.
#[test]
fn android_native_sign_in_needs_a_configured_layer_without_a_session() {
    let mut device = Device::new(Platform::Android);
    let mut server = Server::new(InstanceSettings::default());
    let mut log = Vec::new();
    let mut layer = NativeLayer::default();
    assert_eq!(
        layer.sign_in(&mut env(&mut device, &mut server, 0, &mut log)),
        None,
        "never configured: the flow cannot run"
    );
    layer.call(
        &mut env(&mut device, &mut server, 10, &mut log),
        NativeCall::Configure { token: None },
    );
    let first = layer.sign_in(&mut env(&mut device, &mut server, 20, &mut log));
    assert!(first.is_some(), "configured and signed out: signs in");
    assert_eq!(
        layer.sign_in(&mut env(&mut device, &mut server, 30, &mut log)),
        None,
        "a second sign-in while one is held is refused"
    );
    assert_eq!(layer.session, first, "the held session stays");
}

/// The end of the process takes the native layer's memory (configured, started, the held
/// client and session), whichever SDK port ends it.
///
/// Catches `native.rs: replace NativeLayer::process_ended with ()`.
#[test]
fn the_end_of_the_process_forgets_the_native_layers_memory() {
    let mut device = Device::new(Platform::Ios);
    let mut server = Server::new(InstanceSettings::default());
    let mut log = Vec::new();
    let mut layer = NativeLayer::default();
    layer.call(
        &mut env(&mut device, &mut server, 0, &mut log),
        NativeCall::Configure { token: None },
    );
    layer.sign_in(&mut env(&mut device, &mut server, 10, &mut log)).expect("signed in");
    assert!(layer.configured && layer.started && layer.session.is_some());
    layer.process_ended();
    assert_eq!(layer, NativeLayer::default(), "nothing of the process survives it");
}
