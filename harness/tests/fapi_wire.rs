//! The emulator and the backend on the wire, driven by a plain HTTP client (reqwest) the way
//! the Node adapter will drive them: load a client, sign in, fetch tokens, watch the client
//! token rotate, call the protected API, fetch the JWKS, and meet every fault.

use session_harness::backend::Backend;
use session_harness::fapi::{Fapi, LATENCY_HEADER, VIRTUAL_TIME_HEADER, lock, wire};
use session_harness::jwt::Jwks;
use session_harness::model::server::{TEST_USER_IDENTIFIER, TEST_USER_PASSWORD};
use session_harness::model::settings::InstanceSettings;
use session_harness::model::vocab::{Endpoint, FaultKind, FaultSpec, SessionStatus};

/// A bare-bones native client: the raw client token in `authorization`, the rotated one
/// saved from every response, the virtual time on every request.
struct WireClient {
    http: reqwest::Client,
    base: String,
    token: String,
    now_ms: u64,
    seen_tokens: Vec<String>,
}

impl WireClient {
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Result<reqwest::Response> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = format!(
            "{}{path}{separator}__clerk_api_version=2026-08-20&_clerk_js_version=6.40.0&_is_native=1",
            self.base
        );
        let mut request = self
            .http
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
            .header("authorization", &self.token)
            .header(VIRTUAL_TIME_HEADER, self.now_ms.to_string());
        if method != "GET" {
            let body: String =
                form.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
            request =
                request.header("content-type", "application/x-www-form-urlencoded").body(body);
        }
        let response = request.send().await?;
        if let Some(token) = response.headers().get("authorization") {
            self.token = token.to_str().unwrap().to_string();
            self.seen_tokens.push(self.token.clone());
        }
        Ok(response)
    }

    async fn json(
        &mut self,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let response = self.send(method, path, form).await.expect("an HTTP answer");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

#[tokio::test]
async fn a_plain_http_client_loads_signs_in_fetches_tokens_and_meets_every_fault() {
    let fapi = Fapi::new(InstanceSettings::default());
    let backend = Backend::new(&fapi);
    let server = wire::start(fapi.clone(), Some(std::sync::Arc::new(backend))).await;
    let mut client = WireClient {
        http: reqwest::Client::new(),
        base: server.uri(),
        token: String::new(),
        now_ms: 0,
        seen_tokens: Vec::new(),
    };

    // Load, as clerk-js does on native: environment and client, with an empty authorization.
    let (status, env) = client.json("GET", "/v1/environment", &[]).await;
    assert_eq!((status, env["object"].as_str()), (200, Some("environment")));
    let (status, loaded) = client.json("GET", "/v1/client", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(loaded["response"]["sessions"], serde_json::json!([]));
    assert!(!client.token.is_empty(), "the client token arrives in `Authorization`");

    // Sign in.
    client.now_ms = 1_000;
    let (status, signed_in) = client
        .json(
            "POST",
            "/v1/client/sign_ins",
            &[
                ("identifier", &TEST_USER_IDENTIFIER.replace('@', "%40")),
                ("password", TEST_USER_PASSWORD),
                ("strategy", "password"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{signed_in}");
    let sid = signed_in["response"]["created_session_id"].as_str().unwrap().to_string();

    // Tokens, verified against the JWKS fetched over HTTP, and accepted by the backend.
    let jwks_text = client
        .http
        .get(format!("{}/.well-known/jwks.json", client.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let jwks = Jwks::from_json(&jwks_text).unwrap();
    let verifier = session_harness::jwt::Verifier::new(
        jwks,
        &fapi.config().issuer(),
        &[&fapi.config().authorized_party],
    );
    let mut jwts = Vec::new();
    for i in 0..3 {
        client.now_ms = 2_000 + i * 10_000;
        let (status, token) = client
            .json("POST", &format!("/v1/client/sessions/{sid}/tokens"), &[("organization_id", "")])
            .await;
        assert_eq!(status, 200, "{token}");
        assert_eq!(token["object"], "token");
        let jwt = token["jwt"].as_str().unwrap().to_string();
        let verified =
            verifier.verify(&jwt, session_harness::model::time::VTime(client.now_ms)).unwrap();
        assert_eq!(verified.info.sid.to_string(), sid);
        jwts.push(jwt);
    }
    let api = client
        .http
        .get(format!("{}/api/profile", client.base))
        .header("authorization", format!("Bearer {}", jwts[2]))
        .header(VIRTUAL_TIME_HEADER, client.now_ms.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(api.status().as_u16(), 200);
    assert_eq!(api.json::<serde_json::Value>().await.unwrap()["session_id"], sid);

    // The client token rotated on every response.
    let distinct: std::collections::BTreeSet<_> = client.seen_tokens.iter().collect();
    assert_eq!(distinct.len(), client.seen_tokens.len(), "{:?}", client.seen_tokens);
    assert_eq!(client.seen_tokens.len(), 5, "client, sign-in, three tokens");

    // Every fault, on the token endpoint.
    let tokens_path = format!("/v1/client/sessions/{sid}/tokens");
    let push = |kind| {
        lock(fapi.server()).push_fault(FaultSpec { kind, count: 1, on: Some(Endpoint::Tokens) })
    };
    client.now_ms = 40_000;
    for (kind, status, code) in [
        (FaultKind::ServerError { status: 502 }, 502, "internal_clerk_error"),
        (FaultKind::RateLimited { retry_after_ms: 1_001 }, 429, "too_many_requests"),
        (FaultKind::Unauthorized, 401, "authentication_invalid"),
        (FaultKind::MissingExpiredToken, 422, "missing_expired_token"),
    ] {
        push(kind);
        let response = client.send("POST", &tokens_path, &[]).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{kind:?}");
        let retry_after =
            response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], code, "{kind:?}");
        if status == 429 {
            assert_eq!(retry_after.as_deref(), Some("2"), "1001 ms rounds up to 2 s");
        }
    }
    push(FaultKind::Latency { ms: 7_000 });
    let response = client.send("POST", &tokens_path, &[]).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers().get(LATENCY_HEADER).unwrap(), "7000");

    // Drops: the client sees a network failure; the server did or did not apply the request.
    let before = lock(fapi.server())
        .session(session_harness::model::vocab::SessionId::parse(&sid).unwrap())
        .unwrap()
        .last_token;
    push(FaultKind::DropBeforeCommit);
    client.now_ms = 45_000;
    assert!(client.send("POST", &tokens_path, &[]).await.is_err(), "drop before commit");
    let sid_typed = session_harness::model::vocab::SessionId::parse(&sid).unwrap();
    assert_eq!(
        lock(fapi.server()).session(sid_typed).unwrap().last_token,
        before,
        "nothing minted"
    );
    push(FaultKind::DropAfterCommit);
    client.now_ms = 46_000;
    assert!(client.send("POST", &tokens_path, &[]).await.is_err(), "drop after commit");
    assert_ne!(
        lock(fapi.server()).session(sid_typed).unwrap().last_token,
        before,
        "minted, reply lost"
    );

    // The next request still works on a fresh connection.
    let (status, _) = client.json("GET", "/v1/client", &[]).await;
    assert_eq!(status, 200);

    // A revoked session: tokens 401 and the backend refuses the old JWT.
    client.now_ms = 50_000;
    lock(fapi.server()).end_session_as(
        sid_typed,
        SessionStatus::Revoked,
        session_harness::model::time::VTime(50_000),
    );
    let (status, _) = client.json("POST", &tokens_path, &[]).await;
    assert_eq!(status, 401);
    let api = client
        .http
        .get(format!("{}/api/profile", client.base))
        .header("authorization", format!("Bearer {}", jwts[2]))
        .header(VIRTUAL_TIME_HEADER, "50000")
        .send()
        .await
        .unwrap();
    assert_eq!(api.status().as_u16(), 401);
    assert_eq!(api.json::<serde_json::Value>().await.unwrap()["reason"], "session_not_active");

    // A bad virtual-time header is a Clerk-shaped 400; a missing one uses the latest instant.
    let bad = client
        .http
        .get(format!("{}/v1/environment", client.base))
        .header(VIRTUAL_TIME_HEADER, "soon")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(
        bad.json::<serde_json::Value>().await.unwrap()["errors"][0]["code"],
        "invalid_virtual_time"
    );
    let unstamped =
        client.http.get(format!("{}/v1/environment", client.base)).send().await.unwrap();
    assert_eq!(unstamped.status().as_u16(), 200);
    assert_eq!(fapi.log().last().unwrap().at.ms(), 50_000);
}
