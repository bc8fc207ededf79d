//! Request-level lockstep (`Fidelity::Requests`, issue 13 item 2): the requests each step
//! sends and the storage writes are compared, and a divergence names the first differing
//! request in the scenario's words, never Rust `Debug`.
//!
//! Runs on the reference SDK (a defect makes it send requests the model does not), so the
//! comparison itself is tested without Node; `adapter_clerk_js.rs` runs the real clerk-js.

use std::path::Path;

use session_harness::model::vocab::Defect;
use session_harness::runner::lockstep::{Fidelity, run_lockstep_with};
use session_harness::scenario;
use session_harness::sdk::ReferenceSdk;

fn scenario(name: &str) -> scenario::Scenario {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("harness/ has a parent");
    let file = format!("scenarios/{name}.yaml");
    scenario::load(&root.join(&file), &file).expect("the scenario loads")
}

/// The first divergence of `name`'s events on the reference SDK with `defects`, at
/// `fidelity`.
fn divergence(
    name: &str,
    defects: &[Defect],
    fidelity: Fidelity,
) -> Option<session_harness::runner::lockstep::Divergence> {
    let sc = scenario(name);
    let setup = sc.variants[0].setup;
    let rt = ReferenceSdk::runtime();
    let mut sdk = ReferenceSdk::new(setup, defects);
    let (_, _, divergence, broken) =
        rt.block_on(run_lockstep_with(setup, &mut sdk, &sc.events, sc.seed, fidelity));
    assert!(broken.is_none(), "{broken:?}");
    divergence
}

#[test]
fn a_defect_free_sdk_agrees_at_request_level() {
    for name in ["defects/no-single-flight", "profiles/retry-after-429", "lifecycle/sign-out"] {
        assert_eq!(divergence(name, &[], Fidelity::Requests), None, "{name}");
    }
}

#[test]
fn an_extra_request_is_named_in_the_scenario_words() {
    let d = divergence("defects/no-single-flight", &[Defect::NoSingleFlight], Fidelity::Requests)
        .expect("three token requests where the model sends one");
    assert_eq!(d.field, "requests", "{d}");
    // The first request the model did not send, as the log and a fault step name it.
    assert!(
        d.sdk.contains("sent req_") && d.sdk.contains(" tokens session=sess_1"),
        "the divergence names the request: {d}"
    );
    assert!(d.sdk.contains("purpose=get_token(skip_cache)"), "{d}");
    // Scenario words, not Rust Debug.
    for debug in ["Tokens", "SessionId", "RequestId", "Some(", "GetToken"] {
        assert!(!d.to_string().contains(debug), "`{debug}` in {d}");
    }
    // Observable does not look at requests: the same run agrees there (what the user sees
    // is the same token).
    let observable =
        divergence("defects/no-single-flight", &[Defect::NoSingleFlight], Fidelity::Observable);
    assert!(observable.as_ref().is_none_or(|o| o.field != "requests"), "{observable:?}");
}

#[test]
fn fidelities_parse_from_their_words_and_order_loosest_first() {
    for f in Fidelity::ALL {
        assert_eq!(f.as_str().parse::<Fidelity>(), Ok(f));
    }
    assert!(Fidelity::Observable < Fidelity::Requests && Fidelity::Requests < Fidelity::Exact);
    let e = "request".parse::<Fidelity>().unwrap_err();
    assert!(e.contains("observable, requests, exact"), "{e}");
}

#[test]
fn a_hello_declaring_an_unknown_fidelity_is_garbled_naming_the_accepted_ones() {
    use session_harness::model::profile::ProfileId;
    use session_harness::model::settings::Setup;
    use session_harness::model::vocab::{Event, Platform};
    use session_harness::sdk::external::{AdapterCommand, ExternalSdk, repo_root};
    use session_harness::sdk::{PortError, SdkPort};

    let hello = r#"{"hello":"session-harness-adapter","protocol":1,"fidelity":"loose"}"#;
    let command = AdapterCommand::cmd(&repo_root(), &format!("echo '{hello}'; sleep 5"));
    let rt = ExternalSdk::runtime();
    let mut sdk = ExternalSdk::new(Setup::new(Platform::Ios, ProfileId::ClerkJs6), command);
    let e = rt.block_on(sdk.step(&Event::ColdStart)).expect_err("the hello is refused");
    let PortError::Garbled { detail, .. } = &e else { panic!("expected garbled: {e}") };
    assert!(
        detail.contains("declares fidelity `loose`; accepted: observable, requests, exact"),
        "{detail}"
    );
}
