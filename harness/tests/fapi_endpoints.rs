//! The emulator's surface as clerk-js 6.40 sees it: envelopes, bare tokens, payload fields the
//! real SDK needs (reference §4.4), client-token rotation, `_method`, and Clerk-shaped errors
//! for every kind of malformed request.

#[path = "fapi_support/mod.rs"]
mod fapi_support;

use fapi_support::{Device, assert_clerk_error, session_in};
use serde_json::Value;
use session_harness::fapi::{Exchange, Fapi, HttpRequest};
use session_harness::jwt::claims::peek;
use session_harness::model::server::{ClientToken, TEST_USER_IDENTIFIER};
use session_harness::model::settings::InstanceSettings;
use session_harness::model::time::{EPOCH_UNIX_MS, VTime};
use session_harness::model::vocab::{Endpoint, SessionId};

fn fapi() -> Fapi {
    Fapi::new(InstanceSettings::default())
}

/// A three-part JWT whose header and payload are base64url JSON (clerk-js `decode()`).
fn assert_decodable_jwt(jwt: &Value) -> (Value, Value) {
    let text = jwt.as_str().expect("jwt is a string");
    assert_eq!(text.split('.').filter(|p| !p.is_empty()).count(), 3, "{text}");
    peek(text).expect("header and payload decode")
}

fn assert_ms_timestamp(value: &Value, what: &str) {
    let ms = value.as_u64().unwrap_or_else(|| panic!("{what} is not a number: {value}"));
    assert!(ms >= EPOCH_UNIX_MS, "{what} = {ms} is not in Unix milliseconds");
}

#[test]
fn environment_is_bare_and_has_no_partial_commerce_settings() {
    let mut device = Device::new(&fapi());
    let response = device.send(HttpRequest::get("/v1/environment"), VTime(0));
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let env = response.json();
    assert_eq!(env["object"], "environment");
    assert!(env.get("response").is_none(), "environment is served bare");
    assert!(env.get("commerce_settings").is_none(), "a partial commerce_settings breaks load()");
    assert_eq!(env["auth_config"]["single_session_mode"], true);
    assert_eq!(env["display_config"]["instance_environment_type"], "development");
}

#[test]
fn a_signed_in_client_has_everything_clerk_js_needs() {
    let fapi = fapi();
    let mut device = Device::new(&fapi);
    let first = device.send(HttpRequest::get("/v1/client"), VTime(0));
    let empty = first.json();
    assert_eq!(empty["response"]["object"], "client");
    assert_eq!(empty["response"]["sessions"], serde_json::json!([]));
    assert_eq!(empty["response"]["last_active_session_id"], Value::Null);
    assert_eq!(empty["response"], empty["client"], "GET /client answers {{response, client}}");

    let sid = device.sign_in(VTime(1_000));
    let client = device.send(HttpRequest::get("/v1/client"), VTime(2_000)).json();
    let client = &client["response"];
    assert_eq!(client["last_active_session_id"], sid.to_string());
    assert_ms_timestamp(&client["updated_at"], "client.updated_at");
    let session = session_in(client, sid).expect("the new session is on the client");
    assert_eq!(session["object"], "session");
    assert_eq!(session["status"], "active");
    assert_eq!(session["user"]["id"], "user_1");
    assert_eq!(session["public_user_data"]["identifier"], TEST_USER_IDENTIFIER);
    assert_eq!(session["public_user_data"]["user_id"], "user_1");
    assert_eq!(session["last_active_organization_id"], Value::Null);
    assert_eq!(session["tasks"], Value::Null);
    for field in ["expire_at", "last_active_at", "created_at", "updated_at"] {
        assert_ms_timestamp(&session[field], field);
    }
    assert_eq!(session["abandon_at"], Value::Null, "inactivity timeout is off by default");
    let token = &session["last_active_token"];
    assert_eq!(token["object"], "token");
    let (header, claims) = assert_decodable_jwt(&token["jwt"]);
    assert_eq!(header["kid"], session_harness::jwt::TEST_KID);
    assert_eq!(claims["sid"], sid.to_string());
    assert_eq!(claims["iss"], "https://clerk.emulator.test");
    assert!(fapi.verifier().verify(token["jwt"].as_str().unwrap(), VTime(2_000)).is_ok());
}

#[test]
fn sign_in_answers_complete_with_the_created_session() {
    let mut device = Device::new(&fapi());
    device.send(HttpRequest::get("/v1/client"), VTime(0));
    let response = device.send(
        HttpRequest::post("/v1/client/sign_ins").form(&[
            ("identifier", TEST_USER_IDENTIFIER),
            ("password", session_harness::model::server::TEST_USER_PASSWORD),
            ("strategy", "password"),
        ]),
        VTime(10),
    );
    let body = response.json();
    assert_eq!(body["response"]["object"], "sign_in");
    assert_eq!(body["response"]["status"], "complete");
    assert_eq!(body["response"]["created_session_id"], "sess_1");
    assert!(session_in(&body["client"], SessionId(1)).is_some(), "the client is piggybacked");

    let wrong = device.send(
        HttpRequest::post("/v1/client/sign_ins")
            .form(&[("identifier", TEST_USER_IDENTIFIER), ("password", "nope")]),
        VTime(20),
    );
    assert_clerk_error(&wrong, 422, "form_password_incorrect");
}

#[test]
fn tokens_are_bare_and_templates_route_to_the_same_endpoint() {
    // A template of the instance's, with a lifetime of its own equal to the session token's.
    let spec = session_harness::model::templates::TemplateSpec {
        lifetime_ms: 60_000,
        claims: [("aud".to_string(), "supabase".to_string())].into(),
    };
    let templates = session_harness::model::templates::Templates::from_specs(
        &[("supabase".to_string(), spec)].into(),
    )
    .expect("a valid template");
    let fapi = Fapi::new(InstanceSettings { templates, ..InstanceSettings::default() });
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    for path in [
        format!("/v1/client/sessions/{sid}/tokens"),
        format!("/v1/client/sessions/{sid}/tokens/supabase"),
    ] {
        let response = device.send(
            HttpRequest::post(&path).query("debug", "skip_cache").form(&[("organization_id", "")]),
            VTime(5_000),
        );
        assert_eq!(response.status, 200, "{response:?}");
        let body = response.json();
        assert_eq!(body["object"], "token");
        assert!(body.get("response").is_none(), "tokens are bare");
        let (_, claims) = assert_decodable_jwt(&body["jwt"]);
        assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 60);
    }
    let log = fapi.log();
    assert_eq!(log.iter().filter(|e| e.endpoint == Some(Endpoint::Tokens)).count(), 2);
}

#[test]
fn freshness_serial_never_decreases_across_tokens() {
    let mut device = Device::new(&fapi());
    let sid = device.sign_in(VTime(0));
    let mut last = 0;
    for i in 1..=5 {
        let jwt = device.tokens(sid, VTime(i * 1_000)).json()["jwt"].clone();
        let (header, _) = assert_decodable_jwt(&jwt);
        let oiat = header["oiat"].as_u64().unwrap();
        assert!(oiat > last, "oiat {oiat} after {last}");
        last = oiat;
    }
}

#[test]
fn the_client_token_rotates_on_every_response() {
    let mut device = Device::new(&fapi());
    let mut seen = Vec::new();
    device.send(HttpRequest::get("/v1/client"), VTime(0));
    seen.push(device.token.clone().unwrap());
    let sid = device.sign_in(VTime(1));
    seen.push(device.token.clone().unwrap());
    for i in 0..3 {
        device.tokens(sid, VTime(2 + i));
        seen.push(device.token.clone().unwrap());
    }
    device.send(HttpRequest::get("/v1/environment"), VTime(9));
    seen.push(device.token.clone().unwrap());
    let distinct: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "every response carries a new token: {seen:?}");
    let versions: Vec<u32> =
        seen.iter().map(|t| ClientToken::decode(t).expect("decodes").version).collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1] || w[1] == 1), "{versions:?}");
    // A `Bearer` prefix is tolerated too.
    let bearer = HttpRequest::get("/v1/client")
        .header("authorization", &format!("Bearer {}", device.token.as_deref().unwrap()));
    let Exchange::Answered(response) = device.fapi.handle(&bearer, VTime(10)).exchange else {
        panic!("dropped")
    };
    assert!(session_in(&response.json()["response"], sid).is_some());
}

#[test]
fn method_override_deletes_sessions_and_native_params_are_tolerated() {
    let fapi = fapi();
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    let response = device.send(
        HttpRequest::post("/v1/client/sessions")
            .query("_method", "DELETE")
            .query("_clerk_retry_attempt", "1"),
        VTime(1_000),
    );
    assert_eq!(response.status, 200, "{response:?}");
    let body = response.json();
    assert_eq!(body["response"]["object"], "client");
    assert_eq!(body["response"]["sessions"], serde_json::json!([]));
    let last = fapi.log().pop().unwrap();
    assert_eq!(last.method, "DELETE");
    assert_eq!(last.endpoint, Some(Endpoint::RemoveSessions));
    let server = session_harness::fapi::lock(fapi.server());
    assert_eq!(server.session(sid).unwrap().status.as_str(), "removed");
}

#[test]
fn put_client_creates_a_fresh_client() {
    let mut device = Device::new(&fapi());
    device.sign_in(VTime(0));
    let response = device.send(HttpRequest::post("/v1/client").query("_method", "PUT"), VTime(1));
    let body = response.json();
    assert_eq!(body["response"]["id"], "client_2");
    assert_eq!(body["response"]["sessions"], serde_json::json!([]));
}

#[test]
fn malformed_requests_get_clerk_shaped_errors() {
    let fapi = fapi();
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    let tokens = format!("/v1/client/sessions/{sid}/tokens");
    let cases: Vec<(&str, HttpRequest, u16, &str)> = vec![
        ("unknown path", HttpRequest::get("/v1/nope"), 404, "resource_not_found"),
        ("no /v1/ at all", HttpRequest::get("/favicon.ico"), 404, "resource_not_found"),
        ("wrong method", HttpRequest::get(&tokens), 405, "request_method_invalid"),
        ("unknown method", HttpRequest::new("BREW", "/v1/client"), 405, "request_method_invalid"),
        (
            "bad _method",
            HttpRequest::post("/v1/client/sessions").query("_method", "EXPLODE"),
            400,
            "request_method_invalid",
        ),
        (
            "_method on a GET",
            HttpRequest::get("/v1/client").query("_method", "DELETE"),
            400,
            "request_method_invalid",
        ),
        (
            "JSON body",
            HttpRequest::post(&tokens).raw_body("application/json", br#"{"organization_id":""}"#),
            415,
            "unsupported_content_type",
        ),
        (
            "body without content type",
            HttpRequest { body: b"a=b".to_vec(), ..HttpRequest::post(&tokens) },
            415,
            "unsupported_content_type",
        ),
        (
            "form body that is not UTF-8",
            HttpRequest::post(&tokens)
                .raw_body("application/x-www-form-urlencoded", &[0x61, 0x3d, 0xff, 0xfe]),
            400,
            "malformed_request_body",
        ),
        (
            "unparsable session id",
            HttpRequest::post("/v1/client/sessions/abc/tokens").form(&[]),
            404,
            "resource_not_found",
        ),
        (
            "unknown session id",
            HttpRequest::post("/v1/client/sessions/sess_999/touch").form(&[]),
            404,
            "resource_not_found",
        ),
        (
            "bad force_origin",
            HttpRequest::post(&tokens).form(&[("force_origin", "maybe")]),
            422,
            "form_param_format_invalid",
        ),
        (
            "token that is not a session JWT",
            HttpRequest::post(&tokens).form(&[("token", "not.a.jwt")]),
            422,
            "form_param_format_invalid",
        ),
        (
            "sign-in without identifier",
            HttpRequest::post("/v1/client/sign_ins").form(&[("password", "x")]),
            422,
            "form_param_missing",
        ),
        (
            "sign-in with another strategy",
            HttpRequest::post("/v1/client/sign_ins").form(&[
                ("identifier", "a"),
                ("password", "b"),
                ("strategy", "oauth_google"),
            ]),
            422,
            "form_param_value_invalid",
        ),
        (
            "unknown task",
            HttpRequest::post(&format!("/v1/client/sessions/{sid}/tasks/fly/resolve")).form(&[]),
            404,
            "resource_not_found",
        ),
        (
            "task that is not pending",
            HttpRequest::post(&format!("/v1/client/sessions/{sid}/tasks/setup-mfa/resolve"))
                .form(&[]),
            422,
            "task_not_found",
        ),
    ];
    for (case, request, status, code) in cases {
        let response = device.send(request, VTime(1_000));
        let body = assert_clerk_error(&response, status, code);
        if code.starts_with("form_param") {
            assert!(body["errors"][0]["meta"]["param_name"].is_string(), "{case}: {body}");
        }
    }
    // The session survived every bad request.
    assert_eq!(device.status_in_client(sid, VTime(2_000)).as_deref(), Some("active"));
}

#[test]
fn missing_or_foreign_client_tokens_are_unauthenticated_not_crashes() {
    let fapi = fapi();
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    let tokens = HttpRequest::post(&format!("/v1/client/sessions/{sid}/tokens")).form(&[]);
    for authorization in [None, Some(""), Some("garbage"), Some("ct.1.1.1.0000000000000000")] {
        let request = tokens.clone().client_token(authorization);
        let Exchange::Answered(response) = fapi.handle(&request, VTime(10)).exchange else {
            panic!("dropped")
        };
        assert_clerk_error(&response, 401, "authentication_invalid");
    }
    // Without a client token, GET /client hands out a new, empty client (never a 401).
    let Exchange::Answered(response) =
        fapi.handle(&HttpRequest::get("/v1/client"), VTime(20)).exchange
    else {
        panic!("dropped")
    };
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["response"]["sessions"], serde_json::json!([]));
}

#[test]
fn garbage_requests_never_panic() {
    // A small deterministic fuzz over methods, paths, queries, headers and bodies.
    let fapi = fapi();
    let mut device = Device::new(&fapi);
    device.sign_in(VTime(0));
    let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", ""];
    let paths = [
        "/v1/client",
        "/v1/client/sessions/sess_1/tokens/",
        "/v1//client",
        "/v1/client/sessions/",
        "/v1/client/sessions/sess_/end",
        "/v1/client/sessions/sess_1/tasks//resolve",
        "/.well-known/jwks.json",
        "/",
        "",
        "/v1/environment/extra",
        "/proxy/v1/client",
        "/v1/client/sessions/sess_4294967296/touch",
    ];
    let queries = ["", "_method=", "_method=PUT", "%zz=%", "_method=DELETE&_method=PUT", "a"];
    let bodies: [&[u8]; 4] = [b"", b"token=&force_origin=true", b"%%%=&&==", &[0xc3, 0x28]];
    let mut answered = 0;
    for (i, method) in methods.iter().enumerate() {
        for (j, path) in paths.iter().enumerate() {
            for (k, query) in queries.iter().enumerate() {
                let body = bodies[(i + j + k) % bodies.len()];
                let request = HttpRequest {
                    method: method.to_string(),
                    path: path.to_string(),
                    query: query.to_string(),
                    headers: vec![
                        ("content-type".into(), "application/x-www-form-urlencoded".into()),
                        ("authorization".into(), device.token.clone().unwrap_or_default()),
                    ],
                    body: body.to_vec(),
                };
                if let Exchange::Answered(response) = fapi.handle(&request, VTime(1_000)).exchange {
                    answered += 1;
                    if response.status >= 400 {
                        assert!(response.json()["errors"][0]["code"].is_string(), "{response:?}");
                    }
                }
            }
        }
    }
    assert_eq!(answered, methods.len() * paths.len() * queries.len());
}

#[test]
fn jwks_is_served_and_verifies_minted_tokens() {
    let fapi = fapi();
    let mut device = Device::new(&fapi);
    let jwks = device.send(HttpRequest::get("/.well-known/jwks.json"), VTime(0));
    assert_eq!(jwks.status, 200);
    let served: Value = jwks.json();
    let committed: Value =
        serde_json::from_str(session_harness::jwt::keys::TEST_JWKS_JSON).unwrap();
    assert_eq!(served, committed, "the emulator serves the committed JWKS");
    let set =
        session_harness::jwt::Jwks::from_json(std::str::from_utf8(jwks.body()).unwrap()).unwrap();
    assert_eq!(set.kids().collect::<Vec<_>>(), vec![session_harness::jwt::TEST_KID]);
    let also = device.send(HttpRequest::get("/v1/jwks"), VTime(0));
    assert_eq!(also.body(), jwks.body());
}

#[test]
fn a_log_kept_at_zero_entries_records_nothing_and_a_raised_bound_records_again() {
    let fapi = fapi();
    fapi.set_log_max(0);
    let mut device = Device::new(&fapi);
    let sid = device.sign_in(VTime(0));
    assert_eq!(device.tokens(sid, VTime(1_000)).status, 200, "requests are still answered");
    assert_eq!(fapi.log_len(), 0);
    fapi.set_log_max(10);
    device.tokens(sid, VTime(2_000));
    let log = fapi.log();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].endpoint, log[0].at), (Some(Endpoint::Tokens), VTime(2_000)));
}
