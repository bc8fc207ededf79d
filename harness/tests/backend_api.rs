//! The app's backend: 200 for a live session's token, 401 with a reason otherwise, the same
//! answer in-process (token handles, no RSA) as from text (full RS256 verification), and the
//! same on its own wiremock server.

#[path = "fapi_support/mod.rs"]
mod fapi_support;

use fapi_support::Device;
use session_harness::backend::{self, Backend};
use session_harness::fapi::{Fapi, HttpRequest, VIRTUAL_TIME_HEADER, lock};
use session_harness::jwt::claims::peek;
use session_harness::jwt::{Rejection, Signer, SigningKey};
use session_harness::model::settings::InstanceSettings;
use session_harness::model::time::VTime;
use session_harness::model::vocab::{SessionStatus, TokenInfo};

/// A signed-in device and the token the server minted at `t`.
fn minted(fapi: &Fapi) -> (Device, TokenInfo) {
    let mut device = Device::new(fapi);
    let sid = device.sign_in(VTime(0));
    device.tokens(sid, VTime(1_000));
    let info = lock(fapi.server()).session(sid).unwrap().last_token.unwrap();
    (device, info)
}

fn bearer(jwt: &str) -> HttpRequest {
    HttpRequest::get("/api/orders").header("authorization", &format!("Bearer {jwt}"))
}

#[test]
fn in_process_and_text_verification_answer_alike_over_a_session_life() {
    let fapi = Fapi::new(InstanceSettings::default());
    let backend = Backend::new(&fapi);
    let (_, info) = minted(&fapi);
    let token = fapi.token(info);
    // Through a live token, past its expiry, and after a revoke.
    let exp = VTime::from_unix_s(info.exp);
    let moments = [VTime(1_000), VTime(30_000), exp, exp.plus(1)];
    let mut statuses = Vec::new();
    for at in moments {
        let rsa_before = fapi.signer().rsa_signatures();
        let fast = backend.call("/api/orders", Some(&token), at);
        assert_eq!(fapi.signer().rsa_signatures(), rsa_before, "the in-process path signs nothing");
        let slow = backend.handle(&bearer(&token.jwt()), at);
        assert_eq!(fast, slow, "at {at}");
        assert_eq!(backend.call_status("/api/orders", Some(&token), at), fast.status, "at {at}");
        statuses.push(fast.status);
    }
    assert_eq!(statuses, vec![200, 200, 401, 401]);
    lock(fapi.server()).end_session_as(info.sid, SessionStatus::Revoked, VTime(2_000));
    let fast = backend.call("/api/orders", Some(&token), VTime(3_000));
    assert_eq!(fast, backend.handle(&bearer(&token.jwt()), VTime(3_000)));
    assert_eq!(backend.call_status("/api/orders", Some(&token), VTime(3_000)), 401);
    // The status alone answers as the whole response: no token, and a path off the API.
    assert_eq!(backend.call_status("/api/orders", None, VTime(3_000)), 401);
    assert_eq!(backend.call("/elsewhere", Some(&token), VTime(3_000)).status, 404);
    assert_eq!(backend.call_status("/elsewhere", Some(&token), VTime(3_000)), 404);
    assert_eq!(fast.json()["reason"], "session_not_active");
}

#[test]
fn every_server_side_reason_reaches_the_401_body() {
    let fapi = Fapi::new(InstanceSettings::default());
    let backend = Backend::new(&fapi);
    let (_, info) = minted(&fapi);
    let token = fapi.token(info);
    let ok = backend.call("/api/x", Some(&token), VTime(2_000));
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["user_id"], "user_1");

    let missing = backend.call("/api/x", None, VTime(2_000));
    assert_eq!((missing.status, missing.json()["reason"].clone()), (401, "missing_token".into()));
    assert!(missing.header("www-authenticate").unwrap().contains("missing_token"));
    let no_scheme = backend
        .handle(&HttpRequest::get("/api/x").header("authorization", &token.jwt()), VTime(2_000));
    assert_eq!(no_scheme.json()["reason"], "malformed");
    assert_eq!(backend.handle(&HttpRequest::get("/health"), VTime(0)).status, 404);

    // A session the server never had: unknown.
    let ghost = TokenInfo { sid: session_harness::model::vocab::SessionId(99), ..info };
    assert_eq!(
        backend.authenticate_token(&fapi.token(ghost), VTime(2_000)).unwrap_err(),
        Rejection::UnknownSession
    );
    // A token handle from a signer whose key the backend does not trust.
    let foreign = std::sync::Arc::new(Signer::new(
        SigningKey::from_pem("ins_other", include_str!("../../fixtures/keys/attacker.key.pem"))
            .unwrap(),
        &fapi.config().issuer(),
        &fapi.config().authorized_party,
    ));
    assert_eq!(
        backend.authenticate_token(&foreign.token(info), VTime(2_000)).unwrap_err(),
        Rejection::UnknownKid { kid: "ins_other".into() }
    );
    // Expired sessions, through the clock.
    let settings =
        InstanceSettings { max_lifetime_ms: Some(10 * 60_000), ..InstanceSettings::default() };
    let fapi = Fapi::new(settings);
    let backend = Backend::new(&fapi);
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    device.tokens(sid, VTime(10 * 60_000 - 30_000));
    let late = lock(fapi.server()).session(sid).unwrap().last_token.unwrap();
    let answer = backend.call("/api/x", Some(&fapi.token(late)), VTime(10 * 60_000));
    assert_eq!(answer.json()["reason"], "session_not_active", "{answer:?}");
    assert!(answer.json()["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn the_backend_alone_on_wiremock_answers_200_or_401() {
    let fapi = Fapi::new(InstanceSettings::default());
    let backend = Backend::new(&fapi);
    let (_, info) = minted(&fapi);
    let jwt = fapi.token(info).jwt();
    let server = backend::start(backend).await;
    let http = reqwest::Client::new();
    let call = |at: u64, auth: Option<String>| {
        let mut request = http
            .get(format!("{}/api/orders", server.uri()))
            .header(VIRTUAL_TIME_HEADER, at.to_string());
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    let ok = call(2_000, Some(format!("Bearer {jwt}"))).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let expired = call(61_000 + 1_000, Some(format!("Bearer {jwt}"))).await.unwrap();
    assert_eq!(expired.status().as_u16(), 401);
    assert_eq!(expired.json::<serde_json::Value>().await.unwrap()["reason"], "expired");
    let none = call(2_000, None).await.unwrap();
    assert_eq!(none.status().as_u16(), 401);
    let (_, claims) = peek(&jwt).unwrap();
    assert_eq!(claims["exp"].as_u64().unwrap(), info.exp);
}
