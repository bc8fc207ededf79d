//! Every server-side session status, reached through the emulator: by requests (sign-in,
//! task resolve, end, remove, sign-out), by the virtual clock (maximum lifetime, inactivity
//! measured from the last token or touch), and by server-side actions (revoke, replace). Each
//! transition is checked in the client payload the SDK would read, and terminal statuses are
//! checked to stay terminal.

#[path = "fapi_support/mod.rs"]
mod fapi_support;

use fapi_support::{Device, assert_clerk_error, session_in};
use session_harness::fapi::{Fapi, HttpRequest, lock};
use session_harness::model::settings::InstanceSettings;
use session_harness::model::time::{DAY_MS, MINUTE_MS, VTime};
use session_harness::model::vocab::{SessionId, SessionStatus, TaskKey};

fn setup(settings: InstanceSettings) -> (Fapi, Device, SessionId) {
    let fapi = Fapi::new(settings);
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    (fapi, device, sid)
}

/// After a terminal status: the client shows it, tokens and touches are refused, and the
/// status does not change.
fn assert_terminal(device: &mut Device, sid: SessionId, status: &str, at: VTime) {
    let shown = device.status_in_client(sid, at);
    assert!(
        shown.is_none() || shown.as_deref() == Some(status),
        "client shows {shown:?}, expected {status} or gone"
    );
    assert_clerk_error(&device.tokens(sid, at), 401, "authentication_invalid");
    assert_clerk_error(&device.session_action(sid, "touch", at), 401, "authentication_invalid");
    let server = lock(device.fapi.server());
    assert_eq!(server.session(sid).unwrap().status.as_str(), status, "terminal is final");
}

#[test]
fn sign_in_makes_an_active_session_that_mints_tokens() {
    let (_, mut device, sid) = setup(InstanceSettings::default());
    assert_eq!(device.status_in_client(sid, VTime(1)).as_deref(), Some("active"));
    let jwt = device.tokens(sid, VTime(2)).json()["jwt"].clone();
    let (_, claims) = session_harness::jwt::claims::peek(jwt.as_str().unwrap()).unwrap();
    assert_eq!(claims["sts"], "active");
}

#[test]
fn a_task_keeps_the_session_pending_until_resolved() {
    let fapi = Fapi::new(InstanceSettings::default());
    lock(fapi.server()).set_pending_task(Some(TaskKey::ChooseOrganization));
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    let client = device.send(HttpRequest::get("/v1/client"), VTime(1)).json();
    let session = session_in(&client["response"], sid).unwrap();
    assert_eq!(session["status"], "pending");
    assert_eq!(session["tasks"], serde_json::json!([{ "key": "choose-organization" }]));
    // A pending session still mints tokens, with `sts: pending` (reference §1.5).
    let jwt = device.tokens(sid, VTime(2)).json()["jwt"].clone();
    let (_, claims) = session_harness::jwt::claims::peek(jwt.as_str().unwrap()).unwrap();
    assert_eq!(claims["sts"], "pending");

    let resolved = device.send(
        HttpRequest::post(&format!("/v1/client/sessions/{sid}/tasks/choose-organization/resolve"))
            .form(&[]),
        VTime(3),
    );
    assert_eq!(resolved.status, 200, "{resolved:?}");
    assert_eq!(resolved.json()["response"]["status"], "active");
    assert_eq!(resolved.json()["response"]["tasks"], serde_json::Value::Null);
    assert_eq!(device.status_in_client(sid, VTime(4)).as_deref(), Some("active"));
}

#[test]
fn end_ends_and_the_session_stays_on_the_client() {
    let (_, mut device, sid) = setup(InstanceSettings::default());
    let response = device.session_action(sid, "end", VTime(1_000));
    assert_eq!(response.json()["response"]["status"], "ended");
    assert_eq!(response.json()["response"]["last_active_token"], serde_json::Value::Null);
    assert_eq!(device.status_in_client(sid, VTime(2_000)).as_deref(), Some("ended"));
    assert_terminal(&mut device, sid, "ended", VTime(3_000));
}

#[test]
fn remove_removes_and_the_session_leaves_the_client() {
    let (_, mut device, sid) = setup(InstanceSettings::default());
    let response = device.session_action(sid, "remove", VTime(1_000));
    assert_eq!(response.json()["response"]["status"], "removed");
    assert_eq!(device.status_in_client(sid, VTime(2_000)), None);
    assert_terminal(&mut device, sid, "removed", VTime(3_000));
}

#[test]
fn sign_out_removes_every_session() {
    let settings = InstanceSettings { multi_session: true, ..InstanceSettings::default() };
    let (_, mut device, first) = setup(settings);
    let second = device.sign_in(VTime(10));
    assert_ne!(first, second);
    device.send(HttpRequest::post("/v1/client/sessions").query("_method", "DELETE"), VTime(20));
    for sid in [first, second] {
        assert_terminal(&mut device, sid, "removed", VTime(30));
    }
}

#[test]
fn the_maximum_lifetime_expires_the_session() {
    let settings =
        InstanceSettings { max_lifetime_ms: Some(DAY_MS), ..InstanceSettings::default() };
    let (_, mut device, sid) = setup(settings);
    // Activity does not extend the maximum lifetime.
    device.tokens(sid, VTime(DAY_MS - 1));
    assert_eq!(device.status_in_client(sid, VTime(DAY_MS - 1)).as_deref(), Some("active"));
    assert_eq!(device.status_in_client(sid, VTime(DAY_MS)).as_deref(), Some("expired"));
    assert_terminal(&mut device, sid, "expired", VTime(DAY_MS + 1));
}

#[test]
fn inactivity_abandons_the_session_counted_from_the_last_token_or_touch() {
    let settings = InstanceSettings {
        inactivity_timeout_ms: Some(30 * MINUTE_MS),
        ..InstanceSettings::default()
    };
    let fapi = Fapi::new(settings);
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    // A token at 20 min and a touch at 45 min push the deadline to 75 min. Only the server is
    // asked in between, so no client payload counts as activity.
    device.tokens(sid, VTime(20 * MINUTE_MS));
    let touched = device.session_action(sid, "touch", VTime(45 * MINUTE_MS));
    assert_eq!(touched.status, 200);
    let abandon_at = touched.json()["response"]["abandon_at"].as_u64().unwrap();
    assert_eq!(abandon_at, VTime(75 * MINUTE_MS).unix_ms());
    let status = |at| lock(fapi.server()).status_of(sid, VTime(at)).unwrap();
    assert_eq!(status(75 * MINUTE_MS - 1), SessionStatus::Active);
    assert_eq!(status(75 * MINUTE_MS), SessionStatus::Abandoned);
    assert_terminal(&mut device, sid, "abandoned", VTime(80 * MINUTE_MS));
}

#[test]
fn a_backend_revoke_revokes() {
    let (fapi, mut device, sid) = setup(InstanceSettings::default());
    assert!(lock(fapi.server()).end_session_as(sid, SessionStatus::Revoked, VTime(5_000)));
    assert_eq!(device.status_in_client(sid, VTime(6_000)).as_deref(), Some("revoked"));
    assert_terminal(&mut device, sid, "revoked", VTime(7_000));
}

#[test]
fn another_session_taking_over_replaces() {
    let (fapi, mut device, sid) = setup(InstanceSettings::default());
    let successor = lock(fapi.server()).replace_session(sid, VTime(5_000)).unwrap();
    let client = device.send(HttpRequest::get("/v1/client"), VTime(6_000)).json();
    let client = &client["response"];
    assert_eq!(session_in(client, sid).unwrap()["status"], "replaced");
    assert_eq!(session_in(client, successor).unwrap()["status"], "active");
    assert_eq!(client["last_active_session_id"], successor.to_string());
    assert_terminal(&mut device, sid, "replaced", VTime(7_000));
}

#[test]
fn every_status_is_reached_through_the_emulator() {
    // One status per scenario above; this pins the list so a ninth status cannot slip in
    // untested.
    let reached = [
        SessionStatus::Active,
        SessionStatus::Pending,
        SessionStatus::Ended,
        SessionStatus::Removed,
        SessionStatus::Expired,
        SessionStatus::Abandoned,
        SessionStatus::Revoked,
        SessionStatus::Replaced,
    ];
    let mut all = SessionStatus::ALL.to_vec();
    all.sort();
    let mut reached = reached.to_vec();
    reached.sort();
    assert_eq!(all, reached);
}
