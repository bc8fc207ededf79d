//! The wiremock mount: the same handler behind a real HTTP server on 127.0.0.1, for real
//! HTTP clients (the Node adapter driving `@clerk/clerk-js`, reqwest in wire tests).
//!
//! The virtual time of a request comes from the `x-harness-virtual-time` header (virtual ms);
//! without it the emulator's latest instant is used. Paths under `/api/` go to the app's
//! backend when one is mounted.
//!
//! Dropped connections: a wiremock mock answers with a response or with an error, fixed when
//! it is mounted, and an error makes hyper close the connection without a response, which a
//! client sees as a network failure. So two mocks are mounted. The first, at a higher
//! priority, has a matcher that runs the handler: if the exchange is a drop it matches and its
//! `respond_with_err` closes the connection; otherwise it stores the response in a slot and
//! declines, and the second mock returns the stored response. This is sound because wiremock
//! matches and responds to one request at a time under its state lock, so the slot is filled
//! and emptied by the same request.
//!
//! Requests from an external adapter carry `x-harness-request: <run>/<req>`
//! ([`REQUEST_TAG_HEADER`]); the handler copies it into the request log's `tag`, which is how
//! the harness joins its log to the adapter's report (docs/adapter-protocol.md §5).
//!
//! Injected latency is not slept in real time: it is reported in `x-harness-latency-ms` for a
//! client under fake timers to wait out on its own virtual clock.

use std::sync::{Arc, Mutex};

use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use crate::backend::Backend;
use crate::model::time::VTime;

use super::decode::WireError;
use super::encode;
use super::handler::{Exchange, Fapi};
use super::http::{HttpRequest, HttpResponse, VIRTUAL_TIME_HEADER};

/// The request header an external adapter tags every request with: `<run>/<req>`, its
/// process counter and its request number. Recorded in [`super::LogEntry::tag`].
pub const REQUEST_TAG_HEADER: &str = "x-harness-request";

/// Starts a mock server on 127.0.0.1 (a random port) serving `fapi`, and `backend` under
/// `/api/` if given.
pub async fn start(fapi: Fapi, backend: Option<Backend>) -> MockServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binding an ephemeral port on the loopback interface");
    // Request recording would keep every request in memory for the server's lifetime.
    let server = MockServer::builder().listener(listener).disable_request_recording().start().await;
    mount(&server, fapi, backend).await;
    server
}

/// Mounts the emulator (and optionally the backend) on an existing mock server.
pub async fn mount(server: &MockServer, fapi: Fapi, backend: Option<Backend>) {
    let dispatch = Arc::new(Dispatch { fapi, backend, slot: Mutex::new(None) });
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

struct Dispatch {
    fapi: Fapi,
    backend: Option<Backend>,
    slot: Mutex<Option<HttpResponse>>,
}

impl Dispatch {
    fn run(&self, request: &Request) -> Exchange {
        let request = to_http_request(request);
        let now = match virtual_time(&request) {
            Ok(now) => now.unwrap_or_else(|| self.fapi.clock()),
            Err(e) => {
                return Exchange::Answered(HttpResponse::with_bytes(
                    e.status,
                    vec![("content-type".to_string(), "application/json".to_string())],
                    encode::wire_error_body(&e),
                ));
            }
        };
        if let Some(backend) = &self.backend
            && request.path.starts_with("/api/")
        {
            return Exchange::Answered(backend.handle(&request, now));
        }
        self.fapi.handle(&request, now).exchange
    }
}

struct DropOrStash(Arc<Dispatch>);

impl Match for DropOrStash {
    fn matches(&self, request: &Request) -> bool {
        match self.0.run(request) {
            Exchange::Dropped { .. } => true,
            Exchange::Answered(response) => {
                *self.0.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(response);
                false
            }
        }
    }
}

struct Stashed(Arc<Dispatch>);

impl wiremock::Respond for Stashed {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let stashed = self.0.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(response) = stashed else {
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
        template.set_body_bytes(response.body().to_vec())
    }
}
