//! Helpers shared by the emulator's tests: a device that talks to the one handler the way
//! `@clerk/expo` does (native query parameters, the raw client token in `authorization`, the
//! rotated token saved from every response), and the checks every error body must pass.

#![allow(dead_code)]

use serde_json::Value;
use session_harness::fapi::{Exchange, Fapi, HttpRequest, HttpResponse};
use session_harness::model::server::{TEST_USER_IDENTIFIER, TEST_USER_PASSWORD};
use session_harness::model::time::VTime;
use session_harness::model::vocab::SessionId;

/// A device talking to the handler directly (no transport, no latency).
pub struct Device {
    pub fapi: Fapi,
    pub token: Option<String>,
}

impl Device {
    pub fn new(fapi: &Fapi) -> Device {
        Device { fapi: fapi.clone(), token: None }
    }

    /// Adds what Expo adds to every request.
    pub fn prepare(&self, request: HttpRequest) -> HttpRequest {
        request.native_params().client_token(self.token.as_deref()).header("x-mobile", "1")
    }

    /// Sends and expects an HTTP answer; saves a rotated client token.
    pub fn send(&mut self, request: HttpRequest, now: VTime) -> HttpResponse {
        let request = self.prepare(request);
        match self.fapi.handle(&request, now).exchange {
            Exchange::Answered(response) => {
                if let Some(token) = response.client_token() {
                    self.token = Some(token.to_string());
                }
                response
            }
            Exchange::Dropped { committed } => {
                panic!("{} dropped (committed: {committed})", request.path)
            }
        }
    }

    /// GET /v1/client, then a password sign-in; returns the new session.
    pub fn sign_in(&mut self, now: VTime) -> SessionId {
        self.send(HttpRequest::get("/v1/client"), now);
        let response = self.send(
            HttpRequest::post("/v1/client/sign_ins").form(&[
                ("identifier", TEST_USER_IDENTIFIER),
                ("password", TEST_USER_PASSWORD),
                ("strategy", "password"),
                ("timezone", "UTC"),
            ]),
            now,
        );
        assert_eq!(response.status, 200, "{response:?}");
        let sid = response.json()["response"]["created_session_id"].as_str().unwrap().to_string();
        SessionId::parse(&sid).unwrap()
    }

    pub fn tokens(&mut self, sid: SessionId, now: VTime) -> HttpResponse {
        self.send(
            HttpRequest::post(&format!("/v1/client/sessions/{sid}/tokens"))
                .form(&[("organization_id", "")]),
            now,
        )
    }

    pub fn session_action(&mut self, sid: SessionId, action: &str, now: VTime) -> HttpResponse {
        self.send(HttpRequest::post(&format!("/v1/client/sessions/{sid}/{action}")).form(&[]), now)
    }

    /// The status the client payload of `GET /v1/client` shows for `sid` (`None` when the
    /// session is not on the client).
    pub fn status_in_client(&mut self, sid: SessionId, now: VTime) -> Option<String> {
        let client = self.send(HttpRequest::get("/v1/client"), now).json();
        session_in(&client["response"], sid).map(|s| s["status"].as_str().unwrap().to_string())
    }
}

/// The session `sid` in a client JSON.
pub fn session_in(client: &Value, sid: SessionId) -> Option<Value> {
    client["sessions"].as_array()?.iter().find(|s| s["id"] == sid.to_string()).cloned()
}

/// Asserts a Clerk-shaped error body with `code`, and returns it.
pub fn assert_clerk_error(response: &HttpResponse, status: u16, code: &str) -> Value {
    assert_eq!(response.status, status, "{response:?}");
    let body = response.json();
    let error = &body["errors"][0];
    assert_eq!(error["code"], code, "{response:?}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(error["long_message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(error["meta"].is_object(), "{body}");
    body
}
