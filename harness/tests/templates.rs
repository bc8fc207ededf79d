//! JWT templates end to end below the SDK: the emulator's `POST …/tokens/{template}` mints an
//! RS256 token with the template's claims and lifetime (or answers 404 `resource_not_found`
//! for a template the instance lacks), and the backend verifies it the way a service
//! configured for that template does.

#[path = "fapi_support/mod.rs"]
mod fapi_support;

use std::collections::BTreeMap;

use fapi_support::{Device, assert_clerk_error};
use session_harness::backend::Backend;
use session_harness::fapi::{Fapi, HttpRequest, lock};
use session_harness::jwt::claims::peek;
use session_harness::model::settings::InstanceSettings;
use session_harness::model::templates::{TemplateSpec, Templates};
use session_harness::model::time::VTime;
use session_harness::model::vocab::{SessionStatus, TemplateName};

fn settings() -> InstanceSettings {
    let spec = |lifetime_ms, claims: &[(&str, &str)]| TemplateSpec {
        lifetime_ms,
        claims: claims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    };
    let specs = BTreeMap::from([
        (
            "supabase".to_string(),
            spec(3_600_000, &[("aud", "supabase"), ("role", "authenticated")]),
        ),
        ("convex".to_string(), spec(30_000, &[("aud", "convex")])),
    ]);
    InstanceSettings { templates: Templates::from_specs(&specs).unwrap(), ..Default::default() }
}

fn template_token(
    device: &mut Device,
    sid: impl std::fmt::Display,
    name: &str,
    at: VTime,
) -> String {
    let path = format!("/v1/client/sessions/{sid}/tokens/{name}");
    let answer = device.send(HttpRequest::post(&path).form(&[]), at);
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(answer.body()));
    answer.json()["jwt"].as_str().expect("a token answer carries `jwt`").to_string()
}

fn bearer(path: &str, jwt: &str) -> HttpRequest {
    HttpRequest::get(path).header("authorization", &format!("Bearer {jwt}"))
}

#[test]
fn a_template_token_carries_its_claims_and_its_own_lifetime() {
    let fapi = Fapi::new(settings());
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    let jwt = template_token(&mut device, sid, "supabase", VTime(1_000));
    let (header, claims) = peek(&jwt).expect("a compact JWT");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["aud"], "supabase");
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 3_600);
    // Clerk's template tokens carry no session-bound claims (clerk/clerk-docs #2286).
    for absent in ["sid", "sts", "v", "fva"] {
        assert!(claims.get(absent).is_none(), "`{absent}` in {claims}");
    }
    assert!(claims["jti"].as_str().is_some());
    // Read back through the verifier, it is the same token of the same session.
    let info = fapi.verifier().verify_signature(&jwt).unwrap().info;
    assert_eq!((info.sid, info.template), (sid, Some(TemplateName::parse("supabase").unwrap())));
    // Not the session's `last_active_token`.
    let last = lock(fapi.server()).session(sid).unwrap().last_token;
    assert!(last.is_none_or(|t| t.template.is_none()));
}

#[test]
fn an_unknown_template_is_a_missing_resource() {
    let fapi = Fapi::new(settings());
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    for name in ["hasura", "not%20a%20name"] {
        let path = format!("/v1/client/sessions/{sid}/tokens/{name}");
        let answer = device.send(HttpRequest::post(&path).form(&[]), VTime(1_000));
        assert_clerk_error(&answer, 404, "resource_not_found");
    }
    // The session lives on.
    assert_eq!(lock(fapi.server()).status_of(sid, VTime(2_000)), Some(SessionStatus::Active));
}

#[test]
fn a_service_for_a_template_checks_its_claims_and_not_the_session() {
    let fapi = Fapi::new(settings());
    let backend = Backend::new(&fapi);
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    let supabase = template_token(&mut device, sid, "supabase", VTime(1_000));
    let convex = template_token(&mut device, sid, "convex", VTime(1_000));
    device.tokens(sid, VTime(1_000));
    let session = lock(fapi.server()).session(sid).unwrap().last_token.unwrap();
    let session = fapi.token(session).jwt();
    let at = VTime(2_000);
    let reason = |path: &str, jwt: &str, at| {
        let answer = backend.handle(&bearer(path, jwt), at);
        (answer.status, answer.json()["reason"].as_str().map(str::to_string))
    };
    assert_eq!(reason("/api/template/supabase/rows", &supabase, at), (200, None));
    assert_eq!(reason("/api/template/convex/q", &convex, at), (200, None));
    // Another template's token, a session token, an unknown template: refused.
    let mismatch = (401, Some("template_claim_mismatch".to_string()));
    assert_eq!(reason("/api/template/supabase/rows", &convex, at), mismatch);
    assert_eq!(reason("/api/template/supabase/rows", &session, at), mismatch);
    assert_eq!(
        reason("/api/template/hasura/x", &supabase, at),
        (401, Some("unknown_template".to_string()))
    );
    // The session API wants a session token.
    assert_eq!(reason("/api/orders", &supabase, at), (401, Some("not_a_session_token".into())));
    assert_eq!(reason("/api/orders", &session, at), (200, None));
    // The convex token dies at its own `exp` (30 s), the supabase one lives on (1 h).
    assert_eq!(
        reason("/api/template/convex/q", &convex, VTime(31_000)).1.as_deref(),
        Some("expired")
    );
    // A signed-out session does not reach a template's service: it cannot see the session.
    lock(fapi.server()).end_session_as(sid, SessionStatus::Revoked, VTime(40_000));
    assert_eq!(reason("/api/template/supabase/rows", &supabase, VTime(41_000)), (200, None));
    assert_eq!(reason("/api/orders", &session, VTime(41_000)).0, 401);
}

#[test]
fn in_process_and_text_verification_agree_for_template_tokens() {
    let fapi = Fapi::new(settings());
    let backend = Backend::new(&fapi);
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    let jwt = template_token(&mut device, sid, "convex", VTime(1_000));
    let info = fapi.verifier().verify_signature(&jwt).unwrap().info;
    let token = fapi.token(info);
    assert_eq!(&*token.jwt(), jwt.as_str(), "a lazily signed token is the token the wire carries");
    for (path, at) in [
        ("/api/template/convex/q", VTime(2_000)),
        ("/api/template/convex/q", VTime(40_000)),
        ("/api/template/supabase/rows", VTime(2_000)),
        ("/api/orders", VTime(2_000)),
    ] {
        assert_eq!(backend.call(path, Some(&token), at), backend.handle(&bearer(path, &jwt), at));
    }
}
