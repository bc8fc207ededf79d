//! The dev server's HTTP front: our own small hyper (HTTP/1.1) server on its own thread, in
//! front of the admin API, the app's backend and the FAPI handler.
//!
//! Why not wiremock, as the in-harness wire tests use: a dev server runs for hours against a
//! real app, and wiremock keeps every request and body it answers (request recording cannot
//! be turned off completely), has no body limit, no header-read timeout, stops accepting on
//! the first `accept` error (file descriptors run out) and prints a backtrace per malformed
//! request. Each of those is one line here:
//! - bodies over [`BODY_BYTES_MAX`] are refused with 413 before they are read;
//! - a connection that does not finish its headers within [`HEADER_READ_TIMEOUT`] is closed;
//! - at most [`CONNECTIONS_MAX`] connections are served at once (accept waits for a slot);
//! - an `accept` error is said once on stderr and retried with back-off, never fatal;
//! - nothing is recorded but the emulator's own request log, which is bounded
//!   ([`LOG_ENTRIES_MAX`]);
//! - a panic while answering becomes a 500 answer and one line on stderr;
//! - a path that is not normalised (`.`/`..` segments, `//`, encoded `.`, `/` or `\`) is
//!   refused with 400, so `/v1/client/../../__harness/reset` reaches nothing.
//!
//! The virtual-time header is bounded here too ([`request_time`]): never before the clock
//! (the backend would accept expired tokens), never more than the admin API's longest move
//! ahead of it.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, oneshot};

use crate::fapi::decode::WireError;
use crate::fapi::http::{HttpRequest, HttpResponse, VIRTUAL_TIME_HEADER};
use crate::fapi::{Exchange, encode};
use crate::model::time::{DURATION_MS_MAX, VTime};

use super::{ADMIN_PREFIX, ServeState, admin};

/// Largest request body: FAPI form bodies and admin JSON are a few hundred bytes.
pub const BODY_BYTES_MAX: usize = 64 * 1024;
/// Largest request head (request line and headers) hyper buffers.
pub const HEAD_BYTES_MAX: usize = 64 * 1024;
/// Longest a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections served at once; more wait in the kernel's backlog.
pub const CONNECTIONS_MAX: usize = 256;
/// Most request-log entries a dev server keeps; older ones are dropped.
pub const LOG_ENTRIES_MAX: usize = 10_000;
/// Longest pause between retries of a failing `accept`.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The running front; dropping it stops the server.
pub(super) struct Front {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Front {
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server thread may be gone already; nothing to stop then.
            let _ = stop.send(());
        }
    }
}

/// Serves `listener` on a thread of its own (like wiremock, so a caller's runtime need not
/// be driven for the server to answer).
pub(super) fn spawn(
    listener: std::net::TcpListener,
    state: Arc<ServeState>,
    header_read_timeout: Duration,
) -> std::io::Result<Front> {
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (stop, stopped) = oneshot::channel();
    std::thread::Builder::new().name("session-harness-serve".to_string()).spawn(move || {
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => listener,
                Err(e) => {
                    eprintln!("session-harness serve: cannot serve {addr}: {e}");
                    return;
                }
            };
            tokio::select! {
                () = accept_loop(listener, state, header_read_timeout) => {}
                _ = stopped => {}
            }
        });
    })?;
    Ok(Front { addr, stop: Some(stop) })
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    state: Arc<ServeState>,
    header_read_timeout: Duration,
) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    let mut failures: u64 = 0;
    let mut backoff = Duration::from_millis(10);
    loop {
        let slot = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        match listener.accept().await {
            Ok((stream, _)) => {
                if failures > 0 {
                    eprintln!(
                        "session-harness serve: accepting connections again after {failures} \
                         failed accept(s)"
                    );
                    failures = 0;
                    backoff = Duration::from_millis(10);
                }
                let state = state.clone();
                tokio::spawn(async move {
                    serve_connection(stream, state, header_read_timeout).await;
                    drop(slot);
                });
            }
            Err(e) => {
                // Typically EMFILE (file descriptors exhausted): wiremock's loop ended here and
                // the port went silent. Say it once per streak, back off, keep listening.
                if failures == 0 {
                    eprintln!(
                        "session-harness serve: accept failed ({e}); retrying with back-off up \
                         to {} ms",
                        ACCEPT_BACKOFF_MAX.as_millis()
                    );
                }
                failures += 1;
                drop(slot);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    state: Arc<ServeState>,
    header_read_timeout: Duration,
) {
    let service = service_fn(move |request| answer(state.clone(), request));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(HEAD_BYTES_MAX)
        .serve_connection(TokioIo::new(stream), service);
    // Errors here are the client's (gone, too slow, malformed) or a deliberate drop; hyper
    // has already answered what it could. Nothing to print.
    let _ = connection.await;
}

/// The error a service returns to make hyper close the connection without an answer.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("session-harness: connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

type Answer = hyper::Response<Full<Bytes>>;

async fn answer(
    state: Arc<ServeState>,
    request: hyper::Request<Incoming>,
) -> Result<Answer, Dropped> {
    let (head, body) = request.into_parts();
    let path = head.uri.path().to_string();
    if let Err(why) = check_path(&path) {
        return Ok(plain_error(400, "path_not_normalised", &format!("`{path}` {why}")));
    }
    let declared = head
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_BYTES_MAX as u64) {
        return Ok(too_large());
    }
    let body = match Limited::new(body, BODY_BYTES_MAX).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Ok(too_large()),
        // The client went away mid-body; there is no one to answer.
        Err(_) => return Err(Dropped),
    };
    let request = HttpRequest {
        method: head.method.as_str().to_ascii_uppercase(),
        path,
        query: head.uri.query().unwrap_or("").to_string(),
        headers: head
            .headers
            .iter()
            .map(|(name, value)| {
                (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned())
            })
            .collect(),
        body: body.to_vec(),
    };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| dispatch(&state, &request)));
    match outcome {
        Ok(Outcome::Drop) => Err(Dropped),
        Ok(Outcome::Answer(response, delay)) => {
            if let Some(delay) = delay {
                // Slept here, on this connection only: other requests go on meanwhile.
                tokio::time::sleep(delay).await;
            }
            Ok(to_hyper(response))
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text panic".to_string());
            eprintln!(
                "session-harness serve: internal error answering {} {}: {}; answered 500",
                request.method,
                request.path,
                message.lines().next().unwrap_or("")
            );
            Ok(plain_error(500, "internal_error", "the dev server failed on this request"))
        }
    }
}

enum Outcome {
    Drop,
    Answer(HttpResponse, Option<Duration>),
}

/// Routes one request: admin API, app backend, or the FAPI handler.
fn dispatch(state: &ServeState, request: &HttpRequest) -> Outcome {
    let fapi = &state.fapi;
    if request.path == ADMIN_PREFIX || request.path.starts_with(&format!("{ADMIN_PREFIX}/")) {
        let now = state.now();
        let answer = admin::handle(state, request);
        fapi.record_other(now, &request.method, &request.path, answer.status, answer.code);
        return Outcome::Answer(answer.into_response(), None);
    }
    let now = match request_time(state, request) {
        Ok(now) => now,
        Err(e) => {
            let response = HttpResponse::with_bytes(
                e.status,
                vec![("content-type".to_string(), "application/json".to_string())],
                encode::wire_error_body(&e),
            );
            fapi.record_other(state.now(), &request.method, &request.path, e.status, Some(e.code));
            return Outcome::Answer(response, None);
        }
    };
    if request.path.starts_with("/api/") {
        let response = state.backend.handle(request, now);
        // The backend's rejection reason (`expired`, `session_not_active`, …) is the code.
        let json = if response.status >= 400 { response.json() } else { serde_json::Value::Null };
        let code = json["reason"].as_str();
        fapi.record_other(now, &request.method, &request.path, response.status, code);
        return Outcome::Answer(response, None);
    }
    let handled = fapi.handle(request, now);
    match handled.exchange {
        Exchange::Dropped { .. } => Outcome::Drop,
        Exchange::Answered(response) => {
            let delay = handled.latency_ms.map(|ms| state.clock.wall_duration(ms));
            Outcome::Answer(response, delay)
        }
    }
}

/// The virtual instant a request applies at: its `x-harness-virtual-time` if it has one, but
/// never before the clock (tokens already issued, and expired ones, stay where they are) and
/// never further ahead of it than one admin move (10 years). Without the header, the clock.
pub fn request_time(state: &ServeState, request: &HttpRequest) -> Result<VTime, WireError> {
    let now = state.now();
    let Some(text) = request.header_value(VIRTUAL_TIME_HEADER) else {
        return Ok(now);
    };
    let bad = |long_message: String| WireError {
        status: 400,
        code: "invalid_virtual_time",
        message: "Invalid virtual time",
        long_message,
        param: None,
    };
    let ms: u64 = text.trim().parse().map_err(|_| {
        bad(format!(
            "`{VIRTUAL_TIME_HEADER}: {text}` is not a whole number of virtual milliseconds"
        ))
    })?;
    if ms.saturating_sub(now.ms()) > DURATION_MS_MAX {
        return Err(bad(format!(
            "`{VIRTUAL_TIME_HEADER}: {ms}` is more than 10 years ({DURATION_MS_MAX} ms) ahead of \
             the clock ({} ms); accepted: {}..={}",
            now.ms(),
            now.ms(),
            now.ms().saturating_add(DURATION_MS_MAX)
        )));
    }
    Ok(VTime(ms).max(now))
}

/// Whether a path is already normalised; the reason if not.
fn check_path(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("does not start with `/`");
    }
    if path.contains("//") || path.contains('\\') {
        return Err("has an empty segment or a backslash");
    }
    if path.split('/').any(|segment| segment == "." || segment == "..") {
        return Err("has a `.` or `..` segment");
    }
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c"].iter().any(|encoded| lower.contains(encoded)) {
        return Err("has an encoded `.`, `/` or `\\`");
    }
    Ok(())
}

fn to_hyper(response: HttpResponse) -> Answer {
    let mut builder = hyper::Response::builder().status(response.status);
    for (name, value) in response.headers() {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder.body(Full::new(Bytes::from(response.body().to_vec()))).unwrap_or_else(|_| {
        // A header the emulator made that HTTP cannot carry: a harness bug, answered not
        // panicked.
        plain_error(500, "internal_error", "the dev server built an invalid answer")
    })
}

fn too_large() -> Answer {
    plain_error(
        413,
        "body_too_large",
        &format!("request bodies are limited to {BODY_BYTES_MAX} bytes"),
    )
}

fn plain_error(status: u16, code: &str, message: &str) -> Answer {
    let body = serde_json::json!({"error": code, "message": message});
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a fixed status and header always build")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_climb_are_refused() {
        for good in ["/v1/client", "/__harness/log", "/api/orders/1", "/", "/a.b/c..d"] {
            assert_eq!(check_path(good), Ok(()), "{good}");
        }
        for bad in [
            "/v1/client/../../__harness/reset",
            "/v1/./client",
            "/v1//client",
            "/v1/%2e%2e/__harness",
            "/v1/%2F__harness",
            "/v1\\..\\__harness",
            "v1/client",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
