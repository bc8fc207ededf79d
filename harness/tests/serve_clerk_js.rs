//! The dev server against the real `@clerk/clerk-js` 6.40.0 React Native build in Node
//! (issue 8): configured only with the printed publishable key and proxy URL, it loads, signs
//! in, gets tokens, is signed out after an admin call expires its session, and meets a 429.
//!
//! The 429 tests measure on the emulator's request log under a `realtime` clock (virtual ms
//! = wall ms), so the gap between the 429 and the retry is what the SDK really waited.

mod serve_support;

use serde_json::json;
use serve_support::{NodeClient, admin, log, runtime, serve};
use session_harness::model::server::{TEST_USER_IDENTIFIER, TEST_USER_PASSWORD};
use session_harness::serve::{ClockMode, ServeConfig};

fn sign_in(client: &mut NodeClient) -> String {
    let reply = client.call(json!({
        "cmd": "sign_in",
        "identifier": TEST_USER_IDENTIFIER,
        "password": TEST_USER_PASSWORD,
    }));
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["signed_in"], true, "{reply}");
    reply["session_id"].as_str().expect("a session id").to_string()
}

#[test]
fn real_clerk_js_signs_in_gets_tokens_and_is_signed_out_when_an_admin_expires_its_session() {
    let rt = runtime();
    let served = serve(&rt, ServeConfig { clock: ClockMode::Manual, ..ServeConfig::default() });
    let mut client = NodeClient::start(served.banner());

    let sid = sign_in(&mut client);
    let cached = client.call(json!({"cmd": "get_token"}));
    assert_eq!(cached["token"]["sid"], sid.as_str(), "{cached}");
    let fresh = client.call(json!({"cmd": "get_token", "skip_cache": true}));
    assert_eq!(fresh["token"]["sid"], sid.as_str(), "{fresh}");
    assert_eq!(fresh["token"]["sts"], "active", "{fresh}");
    let ttl = fresh["token"]["exp"].as_u64().unwrap() - fresh["token"]["iat"].as_u64().unwrap();
    assert_eq!(ttl, 60, "the instance's default token lifetime: {fresh}");

    let (status, body) = admin(&rt, &served, "POST", &format!("/sessions/{sid}/expire"), None);
    assert_eq!((status, body["session"]["status"].as_str()), (200, Some("expired")), "{body}");

    // The next token request is refused; clerk-js reloads the client, finds no signed-in
    // session and signs out.
    let before = client.seen.len();
    let refused = client.call(json!({"cmd": "get_token", "skip_cache": true}));
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["error"]["status"], 401, "{refused}");
    assert_eq!(refused["signed_in"], false, "{refused}");
    // clerk-js's own listener reported the sign-out (before `getToken` rejected).
    let signed_out = client.seen[before..]
        .iter()
        .find(|e| e["event"] == "auth")
        .unwrap_or_else(|| panic!("no auth event after the expiry: {:#?}", client.seen));
    assert_eq!(signed_out["signed_in"], false, "{signed_out}");
    assert_eq!(signed_out["session_id"], serde_json::Value::Null, "{signed_out}");

    // What went over the wire, in order, admin call included, and nothing after the sign-out.
    let entries = log(&rt, &served);
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            let path = e["path"].as_str().unwrap().replace(&sid, "{sid}");
            format!("{} {} {}", e["method"].as_str().unwrap(), path, e["outcome"]["status"])
        })
        .collect();
    assert_eq!(
        lines,
        [
            "GET /__clerk/v1/environment 200",
            "GET /__clerk/v1/client 200",
            "POST /__clerk/v1/client/sign_ins 200",
            "POST /__clerk/v1/client/sessions/{sid}/touch 200",
            "POST /__clerk/v1/client/sessions/{sid}/tokens 200",
            "POST /__harness/sessions/{sid}/expire 200",
            "POST /__clerk/v1/client/sessions/{sid}/tokens 401",
            "GET /__clerk/v1/client 200",
        ],
        "{entries:#?}"
    );
}

/// Retries of `getToken` after a 429 on the token endpoint: the wall-clock gap between the
/// 429 and the next token request, in ms.
fn retry_gap_after_429(retry_after: &str) -> (u64, serde_json::Value) {
    let rt = runtime();
    let served = serve(&rt, ServeConfig::default());
    assert_eq!(served.state().clock.mode(), ClockMode::Realtime { speed: 1 });
    let mut client = NodeClient::start(served.banner());
    sign_in(&mut client);
    let fault = json!({"kind": "rate_limited", "retry_after": retry_after, "on": "tokens"});
    let (status, body) = admin(&rt, &served, "POST", "/faults", Some(&fault.to_string()));
    assert_eq!(status, 200, "{body}");

    let reply = client.call(json!({"cmd": "get_token", "skip_cache": true}));
    assert_eq!(reply["ok"], true, "the retry succeeds: {reply}");

    let tokens: Vec<_> =
        log(&rt, &served).into_iter().filter(|e| e["endpoint"] == "tokens").collect();
    assert_eq!(tokens.len(), 2, "one 429, one retry: {tokens:#?}");
    assert_eq!(tokens[0]["outcome"]["status"], 429);
    assert_eq!(tokens[0]["code"], "too_many_requests");
    assert_eq!(tokens[1]["outcome"]["status"], 200);
    let gap = tokens[1]["at"].as_u64().unwrap() - tokens[0]["at"].as_u64().unwrap();
    (gap, reply)
}

#[test]
fn real_clerk_js_waits_at_least_retry_after_before_retrying_a_429() {
    let (gap_ms, reply) = retry_gap_after_429("2s");
    assert!(gap_ms >= 2_000, "retried {gap_ms} ms after a 429 with Retry-After: 2: {reply}");
    // Bounded too: the SDK's own first backoff is 3 s (reference §1.1).
    assert!(gap_ms < 6_000, "retried only after {gap_ms} ms: {reply}");
}

/// Finding: clerk-js 6.40.0's `getToken` retries a 429 on its own schedule (3 s, then ×1.55)
/// and never reads `Retry-After` (`ClerkAPIResponseError.retryAfter` is parsed but unused on
/// this path), so a `Retry-After` above 3 s is not honoured. Recorded as the real behaviour;
/// docs/emulator-dev-server.md lists it.
#[test]
fn finding_real_clerk_js_retries_a_429_after_3s_even_when_retry_after_is_longer() {
    let (gap_ms, reply) = retry_gap_after_429("5s");
    assert!((2_900..5_000).contains(&gap_ms), "expected a retry at ~3 s, got {gap_ms} ms: {reply}");
}
