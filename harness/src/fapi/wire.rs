//! The wiremock mount: the same handler behind a real HTTP server on 127.0.0.1, for real
//! HTTP clients (the Node adapter driving `@clerk/clerk-js`, reqwest in wire tests).
//!
//! The virtual time of a request comes from the `x-harness-virtual-time` header (virtual ms);
//! without it the emulator's latest instant is used. Paths under `/api/` go to the app's
//! backend when one is mounted.
//!
//! [`mount`] is the one wiremock mount of the harness: any [`Dispatch`] (this module's
//! [`Emulator`], the dev server's dispatcher in `serve/`) decides per request whether to
//! answer (optionally after a wall-clock delay) or to drop the connection. Dropped
//! connections: a wiremock mock answers with a response or with an error, fixed when it is
//! mounted, and an error makes hyper close the connection without a response, which a client
//! sees as a network failure. So two mocks are mounted. The first, at a higher priority, has a
//! matcher that runs the dispatcher: if the outcome is a drop it matches and its
//! `respond_with_err` closes the connection; otherwise it stores the response in a slot and
//! declines, and the second mock returns the stored response. This is sound because wiremock
//! matches and responds to one request at a time under its state lock, so the slot is filled
//! and emptied by the same request.
//!
//! The app's backend is reached through [`AppRoutes`] (implemented in `backend/`), so the
//! emulator's floor does not import the backend that sits beside it.
//!
//! Requests from an external adapter carry `x-harness-request: <run>/<req>`
//! ([`REQUEST_TAG_HEADER`]); the handler copies it into the request log's `tag`, which is how
//! the harness joins its log to the adapter's report (docs/adapter-protocol.md §5).
//!
//! Injected latency is not slept in real time: it is reported in `x-harness-latency-ms` for a
//! client under fake timers to wait out on its own virtual clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use crate::model::time::VTime;

use super::decode::WireError;
use super::encode;
use super::handler::{Exchange, Fapi};
use super::http::{HttpRequest, HttpResponse, VIRTUAL_TIME_HEADER};

pub use super::http::REQUEST_TAG_HEADER;

/// What a mounted dispatcher does with one request.
pub enum Outcome {
    /// Close the connection without a response (an injected drop).
    Drop,
    /// Answer, after the given wall-clock delay if any (slept by wiremock outside its lock).
    Answer(HttpResponse, Option<Duration>),
}

/// Decides the outcome of each request reaching a [`mount`]ed server.
pub trait Dispatch: Send + Sync + 'static {
    fn dispatch(&self, request: &Request) -> Outcome;
}

/// The app's own API (`/api/…`), mounted beside the emulator: the backend implements it.
pub trait AppRoutes: Send + Sync + 'static {
    fn handle(&self, request: &HttpRequest, now: VTime) -> HttpResponse;
}

/// Starts a mock server on 127.0.0.1 (a random port) serving `fapi`, and `app` under
/// `/api/` if given.
pub async fn start(fapi: Fapi, app: Option<Arc<dyn AppRoutes>>) -> MockServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binding an ephemeral port on the loopback interface");
    // Request recording would keep every request in memory for the server's lifetime.
    let server = MockServer::builder().listener(listener).disable_request_recording().start().await;
    mount(&server, Emulator { fapi, app }).await;
    server
}

/// Mounts `dispatch` on an existing mock server: every request goes through it.
pub async fn mount(server: &MockServer, dispatch: impl Dispatch) {
    let slot = Arc::new(Slotted { dispatch, slot: Mutex::new(None) });
    Mock::given(DropOrStash(slot.clone()))
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
        .respond_with(Stashed(slot))
        .with_priority(2)
        .mount(server)
        .await;
}

/// Converts a wiremock request to the handler's form.
pub fn to_http_request(request: &Request) -> HttpRequest {
    HttpRequest {
        method: request.method.as_str().to_ascii_uppercase(),
        path: request.url.path().to_string(),
        query: request.url.query().unwrap_or("").to_string(),
        headers: request
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: request.body.clone(),
    }
}

/// Reads the virtual time header: `Ok(None)` when absent.
pub fn virtual_time(request: &HttpRequest) -> Result<Option<VTime>, WireError> {
    let Some(text) = request.header_value(VIRTUAL_TIME_HEADER) else {
        return Ok(None);
    };
    text.trim().parse::<u64>().map(|ms| Some(VTime(ms))).map_err(|_| WireError {
        status: 400,
        code: "invalid_virtual_time",
        message: "Invalid virtual time",
        long_message: format!(
            "`{VIRTUAL_TIME_HEADER}: {text}` is not a whole number of virtual milliseconds"
        ),
        param: None,
    })
}

/// A wire error as an HTTP response in Clerk's error shape.
pub fn error_response(e: &WireError) -> HttpResponse {
    HttpResponse::with_bytes(
        e.status,
        vec![("content-type".to_string(), "application/json".to_string())],
        encode::wire_error_body(e),
    )
}

/// The emulator as tests and external SDKs reach it: the FAPI handler at the request's
/// virtual time (or the latest instant seen), the app's routes under `/api/`, and injected
/// latency reported to the client rather than slept (a client under fake timers waits it out
/// on its own clock).
pub struct Emulator {
    pub fapi: Fapi,
    pub app: Option<Arc<dyn AppRoutes>>,
}

impl Dispatch for Emulator {
    fn dispatch(&self, request: &Request) -> Outcome {
        let request = to_http_request(request);
        let now = match virtual_time(&request) {
            Ok(now) => now.unwrap_or_else(|| self.fapi.clock()),
            Err(e) => return Outcome::Answer(error_response(&e), None),
        };
        if let Some(app) = &self.app
            && request.path.starts_with("/api/")
        {
            return Outcome::Answer(app.handle(&request, now), None);
        }
        match self.fapi.handle(&request, now).exchange {
            Exchange::Dropped { .. } => Outcome::Drop,
            Exchange::Answered(response) => Outcome::Answer(response, None),
        }
    }
}

/// A dispatcher and the slot its first mock hands the answer to the second through.
struct Slotted<D> {
    dispatch: D,
    slot: Mutex<Option<(HttpResponse, Option<Duration>)>>,
}

struct DropOrStash<D>(Arc<Slotted<D>>);

impl<D: Dispatch> Match for DropOrStash<D> {
    fn matches(&self, request: &Request) -> bool {
        match self.0.dispatch.dispatch(request) {
            Outcome::Drop => true,
            Outcome::Answer(response, delay) => {
                *self.0.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some((response, delay));
                false
            }
        }
    }
}

struct Stashed<D>(Arc<Slotted<D>>);

impl<D: Dispatch> wiremock::Respond for Stashed<D> {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let stashed = self.0.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some((response, delay)) = stashed else {
            // Cannot happen while wiremock serialises matching and responding; answer in
            // Clerk's shape rather than panic inside the server if it ever does.
            return ResponseTemplate::new(500).set_body_bytes(encode::wire_error_body(
                &WireError {
                    status: 500,
                    code: "internal_clerk_error",
                    message: "Emulator dispatch lost a response",
                    long_message: "the wiremock slot was empty".to_string(),
                    param: None,
                },
            ));
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
