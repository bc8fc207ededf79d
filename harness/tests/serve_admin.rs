//! The dev server's admin API and its boundaries (issue 8): every status with its server-side
//! effects, the clock, faults, the log, reset; bad admin calls answer clear 4xx errors; the
//! server listens on 127.0.0.1 and nowhere else.

mod serve_support;

use std::net::{IpAddr, TcpStream, UdpSocket};
use std::time::Duration;

use serde_json::Value;
use serve_support::{admin, log, runtime, serve, sign_in};
use session_harness::serve::admin::ROUTES;
use session_harness::serve::{ClockMode, ServeConfig, ServeError, Served, loopback_addr, start};

fn manual() -> ServeConfig {
    ServeConfig { clock: ClockMode::Manual, ..ServeConfig::default() }
}

/// The device's view: `GET /v1/client` with its token.
fn client_sessions(rt: &tokio::runtime::Runtime, served: &Served, token: &str) -> Vec<Value> {
    rt.block_on(async {
        let json: Value = reqwest::Client::new()
            .get(format!("{}/v1/client?_is_native=1", served.banner().proxy_url))
            .header("authorization", token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        json["response"]["sessions"].as_array().unwrap().clone()
    })
}

#[test]
fn every_status_can_be_set_with_its_server_side_effects() {
    let rt = runtime();
    let served = serve(&rt, manual());
    let terminal = ["ended", "expired", "abandoned", "revoked", "removed", "replaced"];
    for status in terminal {
        let (sid, token) = sign_in(&rt, &served);
        let body = format!(r#"{{"status": "{status}"}}"#);
        let (code, answer) =
            admin(&rt, &served, "POST", &format!("/sessions/{sid}/status"), Some(&body));
        assert_eq!(code, 200, "{status}: {answer}");
        assert_eq!(answer["session"]["status"], status, "{answer}");
        let on_device = client_sessions(&rt, &served, &token);
        let seen = on_device.iter().find(|s| s["id"] == sid.as_str());
        match status {
            // A removed session leaves the client, as a `remove` request would make it.
            "removed" => assert!(seen.is_none(), "{on_device:#?}"),
            _ => assert_eq!(seen.unwrap()["status"], status, "{on_device:#?}"),
        }
        if status == "replaced" {
            // Another session of the same user takes over on the same client.
            let new = answer["replaced_by"].as_str().unwrap();
            let taken = on_device.iter().find(|s| s["id"] == new).unwrap();
            assert_eq!(taken["status"], "active");
            // Sign the replacement out so the next sign-in is allowed (single-session mode).
            let (code, _) = admin(&rt, &served, "POST", &format!("/sessions/{new}/revoke"), None);
            assert_eq!(code, 200);
        }
    }

    // pending with a task, then active again; and the shortcuts.
    let (sid, _) = sign_in(&rt, &served);
    let path = format!("/sessions/{sid}/status");
    let (code, answer) =
        admin(&rt, &served, "POST", &path, Some(r#"{"status":"pending","task":"reset-password"}"#));
    assert_eq!((code, &answer["session"]["status"]), (200, &Value::from("pending")));
    assert_eq!(answer["session"]["tasks"], serde_json::json!(["reset-password"]));
    let (code, answer) = admin(&rt, &served, "POST", &path, Some(r#"{"status":"active"}"#));
    assert_eq!((code, &answer["session"]["status"]), (200, &Value::from("active")));
    assert_eq!(answer["session"]["tasks"], serde_json::json!([]));
    let tasks = format!("/sessions/{sid}/tasks");
    let (code, answer) = admin(&rt, &served, "POST", &tasks, Some(r#"{"task":"setup-mfa"}"#));
    assert_eq!((code, &answer["session"]["status"]), (200, &Value::from("pending")));
    let (code, answer) = admin(&rt, &served, "POST", &format!("/sessions/{sid}/abandon"), None);
    assert_eq!((code, &answer["session"]["status"]), (200, &Value::from("abandoned")));

    // The next sign-in starts pending.
    let (code, _) =
        admin(&rt, &served, "POST", "/sign-in-task", Some(r#"{"task":"choose-organization"}"#));
    assert_eq!(code, 200);
    let (sid, _) = sign_in(&rt, &served);
    let (_, answer) = admin(&rt, &served, "GET", &format!("/sessions/{sid}"), None);
    assert_eq!(answer["session"]["status"], "pending", "{answer}");
    assert_eq!(answer["session"]["tasks"], serde_json::json!(["choose-organization"]));
}

#[test]
fn the_clock_expires_sessions_faults_are_queued_and_every_call_is_logged() {
    let rt = runtime();
    let served = serve(&rt, manual());
    let (sid, _) = sign_in(&rt, &served);
    let (_, before) = admin(&rt, &served, "GET", "/clock", None);
    let (code, after) = admin(&rt, &served, "POST", "/clock/advance", Some(r#"{"by":"7d"}"#));
    assert_eq!(code, 200, "{after}");
    let moved = after["virtual_ms"].as_u64().unwrap() - before["virtual_ms"].as_u64().unwrap();
    assert_eq!(moved, 7 * 24 * 3_600_000, "a manual clock moves only when told");
    // The default instance's 7-day lifetime has run out: the server's own tick says expired.
    let (_, answer) = admin(&rt, &served, "GET", &format!("/sessions/{sid}"), None);
    assert_eq!(answer["session"]["status"], "expired", "{answer}");
    let target = after["virtual_ms"].as_u64().unwrap() + 1_000;
    let (code, set) =
        admin(&rt, &served, "POST", "/clock/set", Some(&format!(r#"{{"virtual_ms":{target}}}"#)));
    assert_eq!((code, set["virtual_ms"].as_u64()), (200, Some(target)));

    let (code, answer) = admin(
        &rt,
        &served,
        "POST",
        "/faults",
        Some(r#"{"kind":"server_error","status":503,"count":2,"on":"get_client"}"#),
    );
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["faults"][0]["remaining"], 2);
    let (code, answer) = admin(&rt, &served, "POST", "/faults", Some(r#"{"random":3}"#));
    assert_eq!((code, answer["added"].as_array().map(Vec::len)), (200, Some(3)), "{answer}");
    let (code, answer) = admin(&rt, &served, "DELETE", "/faults", None);
    assert_eq!((code, answer["faults"].as_array().map(Vec::len)), (200, Some(0)));

    let entries = log(&rt, &served);
    let admin_calls: Vec<_> = entries
        .iter()
        .filter(|e| e["path"].as_str().unwrap().starts_with("/__harness"))
        .map(|e| format!("{} {}", e["method"].as_str().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        admin_calls,
        [
            "GET /__harness/clock",
            "POST /__harness/clock/advance",
            format!("GET /__harness/sessions/{sid}").as_str(),
            "POST /__harness/clock/set",
            "POST /__harness/faults",
            "POST /__harness/faults",
            "DELETE /__harness/faults",
        ]
    );

    let (code, answer) = admin(&rt, &served, "POST", "/reset", None);
    assert_eq!(code, 200, "{answer}");
    let (_, state) = admin(&rt, &served, "GET", "/state", None);
    assert_eq!(state["sessions"], serde_json::json!([]), "{state}");
    // The log starts again with the reset call itself and the state read (a log read is
    // recorded after it answers).
    let paths: Vec<_> = log(&rt, &served).iter().map(|e| e["path"].clone()).collect();
    assert_eq!(paths, ["/__harness/reset", "/__harness/state"]);
}

/// A refused admin call: method, path, body, status, error code, and a word the message or
/// the `accepted` list must contain.
type Case<'a> = (&'a str, &'a str, Option<&'a str>, u16, &'a str, &'a str);

#[test]
fn bad_admin_calls_answer_clear_4xx_errors() {
    let rt = runtime();
    let served = serve(&rt, manual());
    let (sid, _) = sign_in(&rt, &served);
    let (_, _) = admin(&rt, &served, "POST", &format!("/sessions/{sid}/revoke"), None);
    let status = format!("/sessions/{sid}/status");
    let cases: &[Case] = &[
        ("POST", "/sessions/sess_99/expire", None, 404, "unknown_session", "sess_1"),
        (
            "POST",
            "/sessions/nonsense/status",
            Some(r#"{"status":"ended"}"#),
            404,
            "unknown_session",
            "sess_1",
        ),
        (
            "POST",
            "/sessions/sess_1/status",
            Some(r#"{"status":"deleted"}"#),
            400,
            "unknown_status",
            "abandoned",
        ),
        ("POST", "/sessions/sess_1/status", Some(r#"{"status":"#), 400, "malformed_body", "EOF"),
        ("POST", "/sessions/sess_1/status", Some("[1]"), 400, "malformed_body", "not an object"),
        (
            "POST",
            "/sessions/sess_1/status",
            Some(r#"{"status":7}"#),
            400,
            "malformed_body",
            "a string",
        ),
        (
            "POST",
            "/sessions/sess_1/status",
            Some(r#"{"stauts":"ended"}"#),
            400,
            "unknown_field",
            "status",
        ),
        ("POST", "/sessions/sess_1/status", Some("{}"), 400, "missing_field", "status"),
        ("POST", &status, Some(r#"{"status":"expired"}"#), 409, "session_not_signed_in", "revoked"),
        (
            "POST",
            "/sessions/sess_1/tasks",
            Some(r#"{"task":"pay-up"}"#),
            400,
            "unknown_task",
            "setup-mfa",
        ),
        ("POST", "/clock/advance", Some(r#"{"by":30}"#), 400, "malformed_body", "unit"),
        (
            "POST",
            "/clock/advance",
            Some(r#"{"by":"30"}"#),
            400,
            "malformed_duration",
            "missing unit",
        ),
        (
            "POST",
            "/clock/advance",
            Some(r#"{"by":"20y"}"#),
            400,
            "malformed_duration",
            "unknown unit",
        ),
        (
            "POST",
            "/clock/set",
            Some(r#"{"virtual_ms":0}"#),
            409,
            "clock_backwards",
            "only moves forward",
        ),
        ("POST", "/clock/set", Some("{}"), 400, "malformed_body", "unix_ms"),
        (
            "POST",
            "/faults",
            Some(r#"{"kind":"meteor"}"#),
            400,
            "unknown_fault_kind",
            "rate_limited",
        ),
        (
            "POST",
            "/faults",
            Some(r#"{"kind":"server_error","status":404}"#),
            400,
            "out_of_range",
            "500..=599",
        ),
        (
            "POST",
            "/faults",
            Some(r#"{"kind":"unauthorized","retry_after":"1s"}"#),
            400,
            "unknown_field",
            "count",
        ),
        ("POST", "/faults", Some(r#"{"kind":"latency"}"#), 400, "missing_field", "latency"),
        (
            "POST",
            "/faults",
            Some(r#"{"kind":"rate_limited","count":0}"#),
            400,
            "out_of_range",
            "1..=1000",
        ),
        (
            "POST",
            "/faults",
            Some(r#"{"kind":"unauthorized","on":"tokenz"}"#),
            400,
            "unknown_endpoint",
            "tokens",
        ),
        ("POST", "/faults", Some(r#"{"random":0}"#), 400, "out_of_range", "1..=100"),
        ("GET", "/log?since=yesterday", None, 400, "malformed_query", "whole number"),
        ("POST", "/reset", Some(r#"{"hard":true}"#), 400, "unknown_field", "hard"),
        ("GET", "/teleport", None, 404, "unknown_route", "/__harness/clock/advance"),
        ("GET", "/clock/advance", None, 405, "method_not_allowed", "POST"),
    ];
    for (method, path, body, want_status, want_code, word) in cases {
        let (got, answer) = admin(&rt, &served, method, path, *body);
        let label = format!("{method} {path} {body:?}");
        assert_eq!(got, *want_status, "{label}: {answer}");
        assert_eq!(answer["error"], *want_code, "{label}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(!message.is_empty() && !message.ends_with('.'), "{label}: {message}");
        let text = format!("{message} {}", answer["accepted"]);
        assert!(text.contains(word), "{label}: `{word}` not in {text}");
    }
    // Nothing was changed by the refused calls, and each was logged with its code.
    let (_, state) = admin(&rt, &served, "GET", "/state", None);
    assert_eq!(state["faults"], serde_json::json!([]));
    assert_eq!(state["sessions"][0]["status"], "revoked");
    let logged: Vec<_> = log(&rt, &served)
        .into_iter()
        .filter(|e| e["outcome"]["status"].as_u64().is_some_and(|s| s >= 400))
        .collect();
    assert_eq!(logged.len(), cases.len());
    assert!(logged.iter().all(|e| e["code"].is_string()), "{logged:#?}");
}

#[test]
fn every_admin_route_is_documented() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/emulator-dev-server.md"),
    )
    .expect("docs/emulator-dev-server.md exists");
    for (method, path, _) in ROUTES {
        let route = format!("`{method} /__harness{path}`");
        assert!(doc.contains(&route), "{route} is missing from docs/emulator-dev-server.md");
    }
}

#[test]
fn the_server_binds_loopback_only() {
    for host in
        ["0.0.0.0", "::", "::1", "192.168.1.20", "10.0.2.2", "127.0.0.2", "example.test", ""]
    {
        let err = loopback_addr(host, 4010).expect_err(host);
        assert!(matches!(err, ServeError::NotLoopback { .. }), "{host}: {err}");
        let message = err.to_string();
        assert!(message.contains("127.0.0.1 only") && message.contains(&format!("`{host}`")));
    }
    let rt = runtime();
    // Refused before any socket is opened: the same error from `start`.
    let refused = rt.block_on(start(ServeConfig { host: "0.0.0.0".into(), ..manual() }));
    assert!(matches!(refused, Err(ServeError::NotLoopback { .. })));

    for host in ["127.0.0.1", "localhost"] {
        let served = serve(&rt, ServeConfig { host: host.into(), ..manual() });
        assert!(served.addr().ip().is_loopback(), "{}", served.addr());
        assert_eq!(served.addr().ip(), IpAddr::from([127, 0, 0, 1]));
        assert!(served.banner().proxy_url.starts_with("http://127.0.0.1:"));
        // Another interface of this machine does not answer on the port. A UDP `connect`
        // sends nothing; it only asks the kernel which local address would route outward.
        let outward = UdpSocket::bind("0.0.0.0:0")
            .and_then(|s| s.connect("10.255.255.255:9").map(|()| s))
            .and_then(|s| s.local_addr())
            .map(|a| a.ip());
        match outward {
            Ok(ip) if !ip.is_loopback() && !ip.is_unspecified() => {
                let reached = TcpStream::connect_timeout(
                    &(ip, served.addr().port()).into(),
                    Duration::from_secs(2),
                );
                assert!(reached.is_err(), "reachable on {ip}:{}", served.addr().port());
            }
            // No outward interface on this machine: loopback is all there is.
            _ => assert!(served.addr().ip().is_loopback()),
        }
    }
}
