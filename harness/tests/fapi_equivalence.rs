//! One handler, two ways in: the same requests sent in-process and over HTTP (wiremock on
//! 127.0.0.1) to two emulators in the same state give identical responses, over every
//! endpoint and every fault kind, and leave the two servers identical.
//!
//! Normalised: only the `date` header (set by hyper from the wall clock) and
//! `content-length` (set by hyper; checked against the body instead). Header order is
//! compared sorted, as the handler keeps it.

#[path = "fapi_support/mod.rs"]
mod fapi_support;

use session_harness::fapi::{
    Fapi, HttpRequest, HttpResponse, InProcess, VIRTUAL_TIME_HEADER, lock, wire,
};
use session_harness::model::server::{TEST_USER_IDENTIFIER, TEST_USER_PASSWORD};
use session_harness::model::settings::InstanceSettings;
use session_harness::model::time::VTime;
use session_harness::model::vocab::{Endpoint, FaultKind, FaultSpec, TaskKey};

/// What one side saw: an answer, or a dropped connection.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Answer { status: u16, headers: Vec<(String, String)>, body: String },
    Dropped,
}

fn seen_in_process(result: Result<HttpResponse, session_harness::fapi::TransportError>) -> Seen {
    match result {
        Ok(r) => Seen::Answer {
            status: r.status,
            headers: r.headers().to_vec(),
            body: String::from_utf8(r.body().to_vec()).unwrap(),
        },
        Err(_) => Seen::Dropped,
    }
}

async fn seen_over_http(
    client: &reqwest::Client,
    base: &str,
    request: &HttpRequest,
    now: VTime,
) -> Seen {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
    let mut builder = client
        .request(method, format!("{base}{}", request.path_and_query()))
        .header(VIRTUAL_TIME_HEADER, now.ms().to_string());
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let response = match builder.body(request.body.clone()).send().await {
        Ok(response) => response,
        Err(_) => return Seen::Dropped,
    };
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let Ok(body) = response.bytes().await else { return Seen::Dropped };
    let length = headers.iter().find(|(n, _)| n == "content-length").map(|(_, v)| v.clone());
    assert_eq!(length, Some(body.len().to_string()), "content-length matches the body");
    headers.retain(|(n, _)| n != "date" && n != "content-length");
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    Seen::Answer { status, headers, body: String::from_utf8(body.to_vec()).unwrap() }
}

/// One scripted step: optional server-side setup, then a request built from the current
/// client token.
struct Step {
    name: &'static str,
    at: VTime,
    fault: Option<FaultSpec>,
    task: Option<TaskKey>,
    request: fn(Option<&str>) -> HttpRequest,
}

fn on(kind: FaultKind, endpoint: Endpoint) -> Option<FaultSpec> {
    Some(FaultSpec { kind, count: 1, on: Some(endpoint) })
}

fn native(request: HttpRequest, token: Option<&str>) -> HttpRequest {
    request.native_params().client_token(token).header("x-mobile", "1")
}

fn sign_in(token: Option<&str>) -> HttpRequest {
    native(
        HttpRequest::post("/v1/client/sign_ins").form(&[
            ("identifier", TEST_USER_IDENTIFIER),
            ("password", TEST_USER_PASSWORD),
            ("strategy", "password"),
        ]),
        token,
    )
}

fn script() -> Vec<Step> {
    let s = |name, at, fault, task, request| Step { name, at: VTime(at), fault, task, request };
    vec![
        s("environment", 0, None, None, |t| native(HttpRequest::get("/v1/environment"), t)),
        s("get client, no token", 10, None, None, |t| native(HttpRequest::get("/v1/client"), t)),
        s("create client", 20, None, None, |t| {
            native(HttpRequest::post("/v1/client").query("_method", "PUT"), t)
        }),
        s("sign in", 30, None, None, sign_in),
        s("tokens", 1_000, None, None, |t| {
            native(
                HttpRequest::post("/v1/client/sessions/sess_1/tokens")
                    .form(&[("organization_id", "")]),
                t,
            )
        }),
        s("template tokens", 2_000, None, None, |t| {
            native(HttpRequest::post("/v1/client/sessions/sess_1/tokens/supabase").form(&[]), t)
        }),
        s("touch", 3_000, None, None, |t| {
            native(
                HttpRequest::post("/v1/client/sessions/sess_1/touch")
                    .form(&[("active_organization_id", ""), ("intent", "select_session")]),
                t,
            )
        }),
        s("get client", 4_000, None, None, |t| native(HttpRequest::get("/v1/client"), t)),
        s("second sign-in into a task", 5_000, None, Some(TaskKey::SetupMfa), sign_in),
        s("resolve task", 6_000, None, None, |t| {
            native(HttpRequest::post("/v1/client/sessions/sess_2/tasks/setup-mfa/resolve"), t)
        }),
        s(
            "fault 503 on tokens",
            7_000,
            on(FaultKind::ServerError { status: 503 }, Endpoint::Tokens),
            None,
            |t| native(HttpRequest::post("/v1/client/sessions/sess_1/tokens").form(&[]), t),
        ),
        s(
            "fault 429 on touch",
            8_000,
            on(FaultKind::RateLimited { retry_after_ms: 2_500 }, Endpoint::Touch),
            None,
            |t| native(HttpRequest::post("/v1/client/sessions/sess_1/touch").form(&[]), t),
        ),
        s("fault 401 on tokens", 9_000, on(FaultKind::Unauthorized, Endpoint::Tokens), None, |t| {
            native(HttpRequest::post("/v1/client/sessions/sess_1/tokens").form(&[]), t)
        }),
        s(
            "fault 422 on tokens",
            10_000,
            on(FaultKind::MissingExpiredToken, Endpoint::Tokens),
            None,
            |t| native(HttpRequest::post("/v1/client/sessions/sess_1/tokens").form(&[]), t),
        ),
        s(
            "fault drop before commit on end",
            11_000,
            on(FaultKind::DropBeforeCommit, Endpoint::End),
            None,
            |t| native(HttpRequest::post("/v1/client/sessions/sess_2/end").form(&[]), t),
        ),
        s(
            "fault latency on environment",
            12_000,
            on(FaultKind::Latency { ms: 20 }, Endpoint::Environment),
            None,
            |t| native(HttpRequest::get("/v1/environment"), t),
        ),
        s(
            "fault drop after commit on end",
            13_000,
            on(FaultKind::DropAfterCommit, Endpoint::End),
            None,
            |t| native(HttpRequest::post("/v1/client/sessions/sess_2/end").form(&[]), t),
        ),
        s("end, already ended", 14_000, None, None, |t| {
            native(HttpRequest::post("/v1/client/sessions/sess_2/end").form(&[]), t)
        }),
        s("remove", 15_000, None, None, |t| {
            native(HttpRequest::post("/v1/client/sessions/sess_1/remove").form(&[]), t)
        }),
        s("sign in again", 16_000, None, None, sign_in),
        s("sign out", 17_000, None, None, |t| {
            native(HttpRequest::post("/v1/client/sessions").query("_method", "DELETE"), t)
        }),
        s("unknown path", 18_000, None, None, |t| native(HttpRequest::get("/v1/nope"), t)),
        s("bad _method", 18_000, None, None, |t| {
            native(HttpRequest::post("/v1/client").query("_method", "NOPE"), t)
        }),
        s("bad body", 18_000, None, None, |t| {
            native(
                HttpRequest::post("/v1/client/sessions/sess_3/tokens")
                    .raw_body("application/json", b"{}"),
                t,
            )
        }),
        s("unknown session", 18_000, None, None, |t| {
            native(HttpRequest::post("/v1/client/sessions/sess_77/tokens").form(&[]), t)
        }),
        s("jwks", 19_000, None, None, |_| HttpRequest::get("/.well-known/jwks.json")),
    ]
}

#[tokio::test]
async fn in_process_and_http_give_identical_responses() {
    let settings = InstanceSettings { multi_session: true, ..InstanceSettings::default() };
    let local = Fapi::new(settings);
    let remote = Fapi::new(settings);
    // No default latency: this runtime's clock is real.
    let transport = InProcess::new(local.clone(), 0);
    let server = wire::start(remote.clone(), None).await;
    let base = server.uri();
    let client = reqwest::Client::new();

    let mut local_token: Option<String> = None;
    let mut remote_token: Option<String> = None;
    let mut endpoints = std::collections::BTreeSet::new();
    let mut faults = std::collections::BTreeSet::new();
    for step in script() {
        for fapi in [&local, &remote] {
            let mut server = lock(fapi.server());
            if let Some(spec) = step.fault {
                server.push_fault(spec);
            }
            if step.task.is_some() {
                server.set_pending_task(step.task);
            }
        }
        let local_request = (step.request)(local_token.as_deref());
        let remote_request = (step.request)(remote_token.as_deref());
        assert_eq!(local_request, remote_request, "{}: same request", step.name);
        let here = seen_in_process(transport.send(&local_request, step.at).await);
        let there = seen_over_http(&client, &base, &remote_request, step.at).await;
        assert_eq!(here, there, "{}: in-process vs HTTP", step.name);
        assert_eq!(*lock(local.server()), *lock(remote.server()), "{}: server state", step.name);
        if let Seen::Answer { headers, .. } = &here
            && let Some((_, token)) = headers.iter().find(|(n, _)| n == "authorization")
        {
            local_token = Some(token.clone());
            remote_token = Some(token.clone());
        }
        let entry = local.log().pop().unwrap();
        endpoints.extend(entry.endpoint);
        faults.extend(entry.fault.map(|f| f.name()));
    }
    assert_eq!(local.log(), remote.log(), "identical request logs");
    assert_eq!(endpoints.len(), Endpoint::ALL.len(), "every endpoint: {endpoints:?}");
    assert_eq!(faults.len(), 7, "every fault kind: {faults:?}");
}
