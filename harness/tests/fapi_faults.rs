//! Faults through the in-process transport under paused tokio time: each kind's answer, what
//! it does (and does not do) to server state, latency on the virtual clock, counts and
//! endpoint targeting, the request log, and faults drawn from a seed.

#[path = "fapi_support/mod.rs"]
mod fapi_support;

use std::time::Duration;

use fapi_support::{Device, assert_clerk_error};
use session_harness::fapi::{
    Fapi, HttpRequest, InProcess, LATENCY_HEADER, TransportError, draw_faults, lock,
};
use session_harness::model::settings::InstanceSettings;
use session_harness::model::time::VTime;
use session_harness::model::vocab::{
    Endpoint, FaultKind, FaultSpec, RequestOutcome, SessionId, SessionStatus,
};

const LATENCY_MS: u64 = 50;

fn setup() -> (Fapi, Device, SessionId, InProcess) {
    let fapi = Fapi::new(InstanceSettings::default());
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    let transport = InProcess::new(fapi.clone(), LATENCY_MS);
    (fapi, device, sid, transport)
}

fn fault(fapi: &Fapi, kind: FaultKind, on: Option<Endpoint>, count: u32) {
    lock(fapi.server()).push_fault(FaultSpec { kind, count, on });
}

fn end_request(device: &Device, sid: SessionId) -> HttpRequest {
    device.prepare(HttpRequest::post(&format!("/v1/client/sessions/{sid}/end")).form(&[]))
}

fn tokens_request(device: &Device, sid: SessionId) -> HttpRequest {
    device.prepare(HttpRequest::post(&format!("/v1/client/sessions/{sid}/tokens")).form(&[]))
}

fn status(fapi: &Fapi, sid: SessionId) -> SessionStatus {
    lock(fapi.server()).session(sid).unwrap().status
}

#[tokio::test(start_paused = true)]
async fn http_answer_faults_replace_the_reply_and_leave_the_server_alone() {
    let (fapi, device, sid, transport) = setup();
    let cases = [
        (FaultKind::ServerError { status: 503 }, 503, "internal_clerk_error"),
        (FaultKind::RateLimited { retry_after_ms: 1_500 }, 429, "too_many_requests"),
        (FaultKind::Unauthorized, 401, "authentication_invalid"),
    ];
    for (kind, status_code, code) in cases {
        fault(&fapi, kind, Some(Endpoint::End), 1);
        let before = lock(fapi.server()).clone();
        let response = transport.send(&end_request(&device, sid), VTime(1_000)).await.unwrap();
        assert_clerk_error(&response, status_code, code);
        assert_eq!(response.header("authorization"), None, "{kind:?}: no rotation on a fault");
        assert_eq!(response.header("x-harness-fault"), Some(kind.name()));
        if status_code == 429 {
            assert_eq!(response.header("retry-after"), Some("2"), "whole seconds, rounded up");
        }
        let mut after = lock(fapi.server()).clone();
        after.faults = before.faults.clone();
        assert_eq!(after, before, "{kind:?} must not touch the server");
        assert_eq!(status(&fapi, sid), SessionStatus::Active);
    }
}

#[tokio::test(start_paused = true)]
async fn missing_expired_token_answers_token_requests_only() {
    let (fapi, device, sid, transport) = setup();
    fault(&fapi, FaultKind::MissingExpiredToken, None, 1);
    // A touch passes through: the fault waits for a token request.
    let touch = device.prepare(HttpRequest::post(&format!("/v1/client/sessions/{sid}/touch")));
    let response = transport.send(&touch, VTime(1_000)).await.unwrap();
    assert_eq!(response.status, 200, "{response:?}");
    let mut device = device;
    device.token = response.client_token().map(str::to_string);
    let response = transport.send(&tokens_request(&device, sid), VTime(1_000)).await.unwrap();
    assert_clerk_error(&response, 422, "missing_expired_token");
}

#[tokio::test(start_paused = true)]
async fn unauthorized_never_answers_get_client() {
    let (fapi, device, _, transport) = setup();
    fault(&fapi, FaultKind::Unauthorized, None, 1);
    let response =
        transport.send(&device.prepare(HttpRequest::get("/v1/client")), VTime(1)).await.unwrap();
    assert_eq!(response.status, 200, "a 401 on GET /client would make clerk-js recurse");
    assert_eq!(lock(fapi.server()).faults.len(), 1, "the fault still waits");
}

#[tokio::test(start_paused = true)]
async fn drop_before_commit_loses_the_request() {
    let (fapi, device, sid, transport) = setup();
    fault(&fapi, FaultKind::DropBeforeCommit, Some(Endpoint::End), 1);
    let result = transport.send(&end_request(&device, sid), VTime(1_000)).await;
    assert_eq!(result.unwrap_err(), TransportError::DroppedBeforeCommit);
    assert!(!TransportError::DroppedBeforeCommit.committed());
    assert_eq!(status(&fapi, sid), SessionStatus::Active, "the server never saw it");
}

#[tokio::test(start_paused = true)]
async fn drop_after_commit_applies_the_request_and_loses_the_reply() {
    let (fapi, device, sid, transport) = setup();
    fault(&fapi, FaultKind::DropAfterCommit, Some(Endpoint::End), 1);
    let result = transport.send(&end_request(&device, sid), VTime(1_000)).await;
    assert_eq!(result.unwrap_err(), TransportError::DroppedAfterCommit);
    assert_eq!(status(&fapi, sid), SessionStatus::Ended, "the server applied it");
    let entry = fapi.log().pop().unwrap();
    assert_eq!(entry.outcome, RequestOutcome::NetworkError { committed: true });
    assert_eq!(entry.fault, Some(FaultKind::DropAfterCommit));
}

#[tokio::test(start_paused = true)]
async fn latency_is_waited_on_the_tokio_clock() {
    let (fapi, device, sid, transport) = setup();
    let start = tokio::time::Instant::now();
    let delivery = transport.deliver(&tokens_request(&device, sid), VTime(1_000)).await;
    assert_eq!(delivery.latency_ms, LATENCY_MS);
    assert_eq!(start.elapsed(), Duration::from_millis(LATENCY_MS));

    fault(&fapi, FaultKind::Latency { ms: 30_000 }, Some(Endpoint::Tokens), 1);
    let start = tokio::time::Instant::now();
    let delivery = transport.deliver(&tokens_request(&device, sid), VTime(2_000)).await;
    assert_eq!(start.elapsed(), Duration::from_millis(30_000), "paused time: no real wait");
    let response = delivery.result.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header(LATENCY_HEADER), Some("30000"));
    assert_eq!(delivery.fault, Some(FaultKind::Latency { ms: 30_000 }));
}

#[tokio::test(start_paused = true)]
async fn a_fault_covers_exactly_its_count_of_matching_requests() {
    let (fapi, device, sid, transport) = setup();
    fault(&fapi, FaultKind::ServerError { status: 500 }, Some(Endpoint::Tokens), 2);
    let env = device.prepare(HttpRequest::get("/v1/environment"));
    assert_eq!(transport.send(&env, VTime(1)).await.unwrap().status, 200, "other endpoint");
    let mut statuses = Vec::new();
    for i in 0..3 {
        let response = transport.send(&tokens_request(&device, sid), VTime(2 + i)).await.unwrap();
        statuses.push(response.status);
    }
    assert_eq!(statuses, vec![500, 500, 200]);
    let log = fapi.log();
    let faulted: Vec<_> = log.iter().filter_map(|e| e.fault).collect();
    assert_eq!(faulted.len(), 2);
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq && w[0].at <= w[1].at));
}

#[test]
fn faults_drawn_from_a_seed_are_deterministic_and_cover_every_kind() {
    let a = draw_faults(0x5eed_0001, 300);
    assert_eq!(a, draw_faults(0x5eed_0001, 300), "same seed, same faults");
    assert_ne!(a, draw_faults(0x5eed_0002, 300), "another seed, other faults");
    let kinds: std::collections::BTreeSet<&str> = a.iter().map(|f| f.kind.name()).collect();
    assert_eq!(kinds.len(), 7, "every fault kind is drawn: {kinds:?}");
    assert!(a.iter().all(|f| (1..=3).contains(&f.count)));
    assert!(a.iter().any(|f| f.on.is_none()) && a.iter().any(|f| f.on.is_some()));
}

#[tokio::test(start_paused = true)]
async fn drawn_faults_never_break_the_handler() {
    // Every drawn fault applied to a stream of requests: answers or drops, never a panic, and
    // a Clerk-shaped body on every error.
    let (fapi, mut device, sid, transport) = setup();
    for spec in draw_faults(42, 60) {
        lock(fapi.server()).push_fault(spec);
    }
    let mut dropped = 0;
    for i in 0..200u64 {
        let request = match i % 4 {
            0 => device.prepare(HttpRequest::get("/v1/client")),
            1 => tokens_request(&device, sid),
            2 => device.prepare(HttpRequest::post(&format!("/v1/client/sessions/{sid}/touch"))),
            _ => device.prepare(HttpRequest::get("/v1/environment")),
        };
        match transport.send(&request, VTime(1_000 + i)).await {
            Ok(response) => {
                if let Some(token) = response.client_token() {
                    device.token = Some(token.to_string());
                }
                if response.status >= 400 {
                    assert!(response.json()["errors"][0]["code"].is_string(), "{response:?}");
                }
            }
            Err(_) => dropped += 1,
        }
    }
    assert!(dropped > 0, "some drawn faults are drops");
    assert_eq!(fapi.log().len() as u64, 2 + 200, "two requests of the sign-in, then 200");
}
