//! The dev server's wiremock mount: one dispatcher in front of the admin API, the app's
//! backend and the FAPI handler, with the dev server's clock and real latency.
//!
//! It differs from [`crate::fapi::wire`] in three ways, which is why it is its own mount and
//! not an option there: a request without `x-harness-virtual-time` is applied at the
//! [`Clock`](super::clock::Clock)'s reading (not the latest instant seen); an injected latency
//! is slept on the wall clock (a person or a real app is waiting; scaled by the realtime
//! speed); and every request, admin and backend calls included, goes into the emulator's
//! request log. Dropped connections use the same two-mock trick as `wire` (see its module
//! doc): the first mock's matcher runs the dispatcher and matches only for a drop; otherwise
//! it stashes the answer for the second mock, under wiremock's one-request-at-a-time lock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use crate::fapi::http::HttpResponse;
use crate::fapi::wire::{to_http_request, virtual_time};
use crate::fapi::{Exchange, encode};

use super::{ADMIN_PREFIX, ServeState, admin};

/// Mounts the dev server's dispatcher on `server`.
pub(super) async fn mount(server: &MockServer, state: Arc<ServeState>) {
    let dispatch = Arc::new(Dispatch { state, slot: Mutex::new(None) });
    Mock::given(DropOrStash(dispatch.clone()))
        .respond_with_err(|_: &Request| {
            std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "session-harness: connection dropped by an injected fault",
            )
        })
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Stashed(dispatch))
        .with_priority(2)
        .mount(server)
        .await;
}

enum Outcome {
    Drop,
    Answer(HttpResponse, Option<Duration>),
}

struct Dispatch {
    state: Arc<ServeState>,
    slot: Mutex<Option<(HttpResponse, Option<Duration>)>>,
}

impl Dispatch {
    fn run(&self, request: &Request) -> Outcome {
        let request = to_http_request(request);
        let state = &self.state;
        let fapi = &state.fapi;
        if request.path == ADMIN_PREFIX || request.path.starts_with(&format!("{ADMIN_PREFIX}/")) {
            let now = state.now();
            let answer = admin::handle(state, &request);
            fapi.record_other(now, &request.method, &request.path, answer.status, answer.code);
            return Outcome::Answer(answer.into_response(), None);
        }
        let now = match virtual_time(&request) {
            Ok(Some(at)) => at,
            Ok(None) => state.clock.now(),
            Err(e) => {
                let response = HttpResponse::with_bytes(
                    e.status,
                    vec![("content-type".to_string(), "application/json".to_string())],
                    encode::wire_error_body(&e),
                );
                let now = state.now();
                fapi.record_other(now, &request.method, &request.path, e.status, Some(e.code));
                return Outcome::Answer(response, None);
            }
        };
        if request.path.starts_with("/api/") {
            let response = state.backend.handle(&request, now);
            // The backend's rejection reason (`expired`, `session_not_active`, …) is the code.
            let json =
                if response.status >= 400 { response.json() } else { serde_json::Value::Null };
            let code = json["reason"].as_str();
            fapi.record_other(now, &request.method, &request.path, response.status, code);
            return Outcome::Answer(response, None);
        }
        let handled = fapi.handle(&request, now);
        match handled.exchange {
            Exchange::Dropped { .. } => Outcome::Drop,
            Exchange::Answered(response) => {
                let delay = handled.latency_ms.map(|ms| state.clock.wall_duration(ms));
                Outcome::Answer(response, delay)
            }
        }
    }
}

struct DropOrStash(Arc<Dispatch>);

impl Match for DropOrStash {
    fn matches(&self, request: &Request) -> bool {
        match self.0.run(request) {
            Outcome::Drop => true,
            Outcome::Answer(response, delay) => {
                *self.0.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some((response, delay));
                false
            }
        }
    }
}

struct Stashed(Arc<Dispatch>);

impl wiremock::Respond for Stashed {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let stashed = self.0.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some((response, delay)) = stashed else {
            // Cannot happen while wiremock serialises matching and responding; answer rather
            // than panic inside the server if it ever does.
            return ResponseTemplate::new(500)
                .set_body_string("session-harness: the dispatcher lost a response");
        };
        let mut template = ResponseTemplate::new(response.status);
        for (name, value) in response.headers() {
            template = template.append_header(name.as_str(), value.as_str());
        }
        if let Some(delay) = delay {
            // Slept by wiremock after it releases its lock: other requests go on meanwhile.
            template = template.set_delay(delay);
        }
        template.set_body_bytes(response.body().to_vec())
    }
}
