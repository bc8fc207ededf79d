//! The admin API under `/__harness`: move the clock, change a session's status on the server
//! side, queue faults, read the request log, reset. docs/emulator-dev-server.md is its
//! reference; [`ROUTES`] is the list it is checked against.
//!
//! Bodies are JSON objects. Every admin request must come from this machine as a script
//! would send it ([`guard`]): a loopback `Host` (no DNS rebinding), no `Origin` other than
//! the server's own (no web page), and, for anything but `GET`, `content-type:
//! application/json` (a browser cannot send that cross-origin without a preflight, which
//! this server never grants). Durations are strings with a unit (`"30s"`, `"7d"`), as everywhere in the harness. Every
//! mistake is a 4xx with `{"error": code, "message", "accepted": [...]}` naming what was wrong
//! and what would have been accepted; nothing here panics on input.

use serde_json::{Map, Value, json};

use crate::fapi::http::HttpResponse;
use crate::fapi::{FaultDraw, lock};
use crate::model::server::{Server, Session};
use crate::model::settings::LATENCY_MS_MAX;
use crate::model::time::{VTime, format_clock, parse_duration};
use crate::model::vocab::{Endpoint, FaultKind, FaultSpec, SessionId, SessionStatus, TaskKey};

use super::ServeState;
use super::clock::ClockError;

/// Most requests one queued fault may cover.
pub const FAULT_COUNT_MAX: u32 = 1_000;
/// Most faults one `{"random": N}` call may draw.
pub const RANDOM_FAULTS_MAX: u32 = 100;
/// Most faults queued at once.
pub const FAULTS_QUEUED_MAX: usize = 1_000;
/// Most log entries one `GET /log` returns (`?limit=` may ask for fewer).
pub const LOG_PAGE_MAX: usize = 1_000;

/// Every admin route: method, path under the prefix, what it does.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "", "this list"),
    ("GET", "/state", "clock, settings, sessions and queued faults"),
    ("GET", "/clock", "the clock"),
    ("POST", "/clock/advance", "move the clock forward: {\"by\": \"7d\"}"),
    ("POST", "/clock/set", "set the clock: {\"virtual_ms\": N} or {\"unix_ms\": N}"),
    ("GET", "/sessions", "every session"),
    ("GET", "/sessions/{sid}", "one session"),
    ("POST", "/sessions/{sid}/status", "{\"status\": S[, \"task\": T]}, any of the eight"),
    ("POST", "/sessions/{sid}/revoke", "status `revoked` (a backend revoke)"),
    ("POST", "/sessions/{sid}/expire", "status `expired` (maximum lifetime reached)"),
    ("POST", "/sessions/{sid}/abandon", "status `abandoned` (inactivity timeout)"),
    ("POST", "/sessions/{sid}/tasks", "add a pending task: {\"task\": T}"),
    ("POST", "/sign-in-task", "the next sign-in starts pending: {\"task\": T or null}"),
    ("GET", "/faults", "queued faults"),
    ("POST", "/faults", "queue a fault for the next N requests, or {\"random\": N} from the seed"),
    ("DELETE", "/faults", "drop every queued fault"),
    ("GET", "/log", "the request log, paged: ?since=SEQ&limit=N (N up to 1000), `more` if cut"),
    (
        "POST",
        "/reset",
        "a fresh server (users, clients, sessions, faults, log); the clock stays, and no id or \
         token from before is valid again",
    ),
];

/// An admin answer.
#[derive(Clone, Debug, PartialEq)]
pub struct AdminAnswer {
    pub status: u16,
    /// The error code, for the request log.
    pub code: Option<&'static str>,
    pub body: Value,
}

impl AdminAnswer {
    pub fn into_response(self) -> HttpResponse {
        let body = serde_json::to_vec_pretty(&self.body).expect("JSON values always serialise");
        HttpResponse::with_bytes(
            self.status,
            vec![("content-type".to_string(), "application/json".to_string())],
            body,
        )
    }
}

/// A refused admin call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub accepted: Vec<String>,
}

impl AdminError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError { status, code, message: message.into(), accepted: Vec::new() }
    }

    fn accepting<I: IntoIterator<Item = S>, S: ToString>(mut self, accepted: I) -> AdminError {
        self.accepted = accepted.into_iter().map(|s| s.to_string()).collect();
        self
    }

    fn bad(code: &'static str, message: impl Into<String>) -> AdminError {
        AdminError::new(400, code, message)
    }
}

/// Answers one admin request.
pub fn handle(state: &ServeState, request: &crate::fapi::HttpRequest) -> AdminAnswer {
    match guard(state, request).and_then(|()| route(state, request)) {
        Ok(body) => AdminAnswer { status: 200, code: None, body },
        Err(e) => AdminAnswer {
            status: e.status,
            code: Some(e.code),
            body: json!({"error": e.code, "message": e.message, "accepted": e.accepted}),
        },
    }
}

/// Refuses an admin request a web page could have sent: a `Host` that is not loopback (DNS
/// rebinding), an `Origin` that is not this server, or a body-carrying method without a JSON
/// content type (a cross-origin "simple request" needs no preflight).
pub fn guard(state: &ServeState, request: &crate::fapi::HttpRequest) -> Result<(), AdminError> {
    let host = request.header_value("host").unwrap_or("").trim();
    let host_name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    if !matches!(host_name.to_ascii_lowercase().as_str(), "127.0.0.1" | "localhost" | "[::1]") {
        return Err(AdminError::new(
            403,
            "foreign_host",
            format!("the admin API answers only a loopback `Host`, not `{host}`"),
        )
        .accepting(["127.0.0.1:PORT", "localhost:PORT"]));
    }
    if let Some(origin) = request.header_value("origin") {
        let own = [
            format!("http://127.0.0.1:{}", state.port),
            format!("http://localhost:{}", state.port),
        ];
        if !own.iter().any(|o| o.eq_ignore_ascii_case(origin.trim())) {
            return Err(AdminError::new(
                403,
                "foreign_origin",
                format!(
                    "the admin API refuses requests from web pages (`Origin: {origin}`);                      call it from a script or curl"
                ),
            )
            .accepting(own));
        }
    }
    if request.method != "GET" {
        let media_type = request
            .header_value("content-type")
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        if media_type.as_deref() != Some("application/json") {
            return Err(AdminError::new(
                415,
                "json_required",
                format!(
                    "{} admin calls must say `content-type: application/json` (even without \
                     a body), e.g. curl -H 'content-type: application/json'",
                    request.method
                ),
            )
            .accepting(["application/json"]));
        }
    }
    Ok(())
}

fn route(state: &ServeState, request: &crate::fapi::HttpRequest) -> Result<Value, AdminError> {
    let rest = request.path.strip_prefix(super::ADMIN_PREFIX).unwrap_or(&request.path);
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let mut sid_text = None;
    let mut allowed = Vec::new();
    let mut found = None;
    for (method, pattern, _) in ROUTES {
        let Some(captured) = match_pattern(pattern, &segments) else { continue };
        if request.method == *method {
            found = Some(*pattern);
            sid_text = captured;
        } else {
            allowed.push(*method);
        }
    }
    let Some(pattern) = found else {
        if !allowed.is_empty() {
            return Err(AdminError::new(
                405,
                "method_not_allowed",
                format!("{} {} is not an admin route", request.method, request.path),
            )
            .accepting(allowed));
        }
        return Err(AdminError::new(
            404,
            "unknown_route",
            format!("{} {} is not an admin route", request.method, request.path),
        )
        .accepting(route_list()));
    };
    let session = |state: &ServeState| find_session(state, sid_text.unwrap_or_default());
    match pattern {
        "" => {
            no_body(request)?;
            Ok(json!({"routes": route_list()}))
        }
        "/state" => Ok(state_json(state)),
        "/clock" => Ok(clock_json(state)),
        "/clock/advance" => {
            let body = body(request, &["by"])?;
            let by = duration_field(&body, "by")?
                .ok_or_else(|| missing("by", "a duration such as \"90s\" or \"7d\""))?;
            state.clock.advance(by).map_err(clock_error)?;
            Ok(clock_json(state))
        }
        "/clock/set" => {
            let body = body(request, &["virtual_ms", "unix_ms"])?;
            let target = match (u64_field(&body, "virtual_ms")?, u64_field(&body, "unix_ms")?) {
                (Some(ms), None) => VTime(ms),
                (None, Some(ms)) => VTime::from_unix_ms(ms),
                _ => {
                    return Err(AdminError::bad(
                        "malformed_body",
                        "give exactly one of `virtual_ms` (ms since the harness epoch, \
                         2026-01-01T00:00:00Z) and `unix_ms`",
                    )
                    .accepting(["virtual_ms", "unix_ms"]));
                }
            };
            state.clock.set(target).map_err(clock_error)?;
            Ok(clock_json(state))
        }
        "/sessions" => {
            let now = state.now();
            let mut server = lock(state.fapi.server());
            server.tick(now);
            let sessions: Vec<Value> =
                server.sessions.iter().map(|s| session_json(&server, s)).collect();
            Ok(json!({"sessions": sessions}))
        }
        "/sessions/{sid}" => {
            let sid = session(state)?;
            let now = state.now();
            let mut server = lock(state.fapi.server());
            server.tick(now);
            Ok(one_session(&server, sid))
        }
        "/sessions/{sid}/status" => {
            let sid = session(state)?;
            let body = body(request, &["status", "task"])?;
            let text = str_field(&body, "status")?
                .ok_or_else(|| missing("status", "one of the eight statuses"))?;
            let status = SessionStatus::parse(text).ok_or_else(|| {
                AdminError::bad("unknown_status", format!("`{text}` is not a session status"))
                    .accepting(SessionStatus::ALL.iter().map(|s| s.as_str()))
            })?;
            let task = task_field(&body)?;
            if task.is_some() && status != SessionStatus::Pending {
                return Err(AdminError::bad(
                    "malformed_body",
                    "`task` goes with `\"status\": \"pending\"` only",
                ));
            }
            set_status(state, sid, status, task.flatten())
        }
        "/sessions/{sid}/revoke" | "/sessions/{sid}/expire" | "/sessions/{sid}/abandon" => {
            let sid = session(state)?;
            no_body(request)?;
            let status = match segments.last().copied() {
                Some("revoke") => SessionStatus::Revoked,
                Some("expire") => SessionStatus::Expired,
                _ => SessionStatus::Abandoned,
            };
            set_status(state, sid, status, None)
        }
        "/sessions/{sid}/tasks" => {
            let sid = session(state)?;
            let body = body(request, &["task"])?;
            let task = task_field(&body)?
                .flatten()
                .ok_or_else(|| missing("task", "a task key"))
                .map_err(|e| e.accepting(TaskKey::ALL.iter().map(|t| t.as_str())))?;
            set_status(state, sid, SessionStatus::Pending, Some(task))
        }
        "/sign-in-task" => {
            let body = body(request, &["task"])?;
            let task = task_field(&body)?
                .ok_or_else(|| missing("task", "a task key, or null for none"))?;
            lock(state.fapi.server()).set_pending_task(task);
            Ok(json!({"next_sign_in_task": task.map(TaskKey::as_str)}))
        }
        "/faults" => match request.method.as_str() {
            "GET" => Ok(faults_json(&lock(state.fapi.server()))),
            "DELETE" => {
                no_body(request)?;
                let mut server = lock(state.fapi.server());
                server.faults.clear();
                Ok(faults_json(&server))
            }
            _ => {
                let specs = fault_specs(state, request)?;
                let mut server = lock(state.fapi.server());
                if server.faults.len() + specs.len() > FAULTS_QUEUED_MAX {
                    return Err(AdminError::new(
                        409,
                        "too_many_faults",
                        format!(
                            "{} faults are queued and {} more would pass the limit of \
                             {FAULTS_QUEUED_MAX}; `DELETE /__harness/faults` clears them",
                            server.faults.len(),
                            specs.len()
                        ),
                    ));
                }
                for spec in &specs {
                    server.push_fault(*spec);
                }
                let mut answer = faults_json(&server);
                answer["added"] = serde_json::to_value(&specs).expect("specs serialise");
                Ok(answer)
            }
        },
        "/log" => {
            let mut since = 0;
            let mut limit = LOG_PAGE_MAX;
            for (name, value) in form_urlencoded::parse(request.query.as_bytes()) {
                let whole = || {
                    AdminError::bad(
                        "malformed_query",
                        format!("`{name}={value}` is not a whole number"),
                    )
                };
                match name.as_ref() {
                    "since" => since = value.parse().map_err(|_| whole())?,
                    "limit" => {
                        limit = value.parse().map_err(|_| whole())?;
                        if !(1..=LOG_PAGE_MAX).contains(&limit) {
                            return Err(AdminError::bad(
                                "out_of_range",
                                format!("`limit` = {limit}; accepted: 1..={LOG_PAGE_MAX}"),
                            ));
                        }
                    }
                    other => {
                        return Err(AdminError::bad(
                            "malformed_query",
                            format!("unknown query parameter `{other}`"),
                        )
                        .accepting(["since", "limit"]));
                    }
                }
            }
            let page = state.fapi.log_page(since, limit);
            Ok(serde_json::to_value(page).expect("log entries serialise"))
        }
        "/reset" => {
            no_body(request)?;
            // The next generation, not `Server::new`: ids continue after the old ones, so a
            // device from before the reset cannot adopt another device's session.
            {
                let mut server = lock(state.fapi.server());
                *server = server.next_generation();
            }
            *state.draw.lock().unwrap_or_else(|e| e.into_inner()) = FaultDraw::new(state.seed);
            let dropped = state.fapi.drain_log().len();
            Ok(json!({"reset": true, "log_entries_dropped": dropped}))
        }
        other => unreachable!("route `{other}` is listed in ROUTES but has no handler"),
    }
}

fn match_pattern<'a>(pattern: &str, segments: &[&'a str]) -> Option<Option<&'a str>> {
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut captured = None;
    for (part, segment) in parts.iter().zip(segments) {
        if *part == "{sid}" {
            captured = Some(*segment);
        } else if part != segment {
            return None;
        }
    }
    Some(captured)
}

fn route_list() -> Vec<String> {
    ROUTES
        .iter()
        .map(|(method, path, what)| format!("{method} {}{path}: {what}", super::ADMIN_PREFIX))
        .collect()
}

fn set_status(
    state: &ServeState,
    sid: SessionId,
    status: SessionStatus,
    task: Option<TaskKey>,
) -> Result<Value, AdminError> {
    let now = state.now();
    let mut server = lock(state.fapi.server());
    server.tick(now);
    let current = server.session(sid).map(|s| s.status).expect("find_session checked it exists");
    if !current.is_signed_in() {
        return Err(AdminError::new(
            409,
            "session_not_signed_in",
            format!(
                "{sid} is already `{current}`: only `active` and `pending` sessions change \
                 status (the other six are final); sign in again for a new session"
            ),
        )
        .accepting(["active", "pending"]));
    }
    let mut replaced_by = None;
    // The server's own transitions, so every side effect (times, tasks, client lists) is the
    // one a real request or a backend action would have.
    let changed = match status {
        SessionStatus::Active => server.clear_tasks(sid, now),
        SessionStatus::Pending => server.add_task(sid, task.unwrap_or(TaskKey::SetupMfa), now),
        SessionStatus::Removed => server.remove_session(sid, now),
        SessionStatus::Replaced => {
            replaced_by = server.replace_session(sid, now);
            replaced_by.is_some()
        }
        SessionStatus::Ended
        | SessionStatus::Expired
        | SessionStatus::Abandoned
        | SessionStatus::Revoked => server.end_session_as(sid, status, now),
    };
    debug_assert!(changed, "a signed-in session always takes a new status");
    let mut answer = one_session(&server, sid);
    if let Some(new) = replaced_by {
        answer["replaced_by"] = json!(new.to_string());
    }
    Ok(answer)
}

fn find_session(state: &ServeState, text: &str) -> Result<SessionId, AdminError> {
    let server = lock(state.fapi.server());
    let known = || server.sessions.iter().map(|s| s.id.to_string()).collect::<Vec<_>>();
    match SessionId::parse(text) {
        Some(sid) if server.session(sid).is_some() => Ok(sid),
        _ => Err(AdminError::new(404, "unknown_session", format!("no session `{text}`"))
            .accepting(known())),
    }
}

fn one_session(server: &Server, sid: SessionId) -> Value {
    let s = server.session(sid).expect("callers checked the session exists");
    json!({"session": session_json(server, s)})
}

fn session_json(server: &Server, s: &Session) -> Value {
    json!({
        "id": s.id.to_string(),
        "status": s.status,
        "user": s.user.to_string(),
        "client": s.client.to_string(),
        "tasks": s.tasks.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
        "created_at_unix_ms": s.created_at.unix_ms(),
        "expire_at_unix_ms": s.expire_at.map(VTime::unix_ms),
        "abandon_at_unix_ms": s.abandon_at(&server.settings).map(VTime::unix_ms),
        "last_active_at_unix_ms": s.last_active_at.unix_ms(),
        "status_at_unix_ms": s.status_at.unix_ms(),
    })
}

fn clock_json(state: &ServeState) -> Value {
    let now = state.now();
    json!({
        "mode": state.clock.mode().to_string(),
        "virtual_ms": now.ms(),
        "unix_ms": now.unix_ms(),
        "since_epoch": format_clock(now.ms()),
    })
}

fn state_json(state: &ServeState) -> Value {
    let now = state.now();
    let mut server = lock(state.fapi.server());
    server.tick(now);
    let sessions: Vec<Value> = server.sessions.iter().map(|s| session_json(&server, s)).collect();
    let settings = serde_json::to_value(server.settings).expect("settings serialise");
    let next = server.users.first().and_then(|u| u.pending_task).map(TaskKey::as_str);
    let faults = faults_json(&server);
    drop(server);
    json!({
        "clock": clock_json(state),
        "seed": crate::sim::format_seed(state.seed),
        "settings": settings,
        "sessions": sessions,
        "next_sign_in_task": next,
        "faults": faults["faults"],
        "log_entries": state.fapi.log_len(),
    })
}

fn faults_json(server: &Server) -> Value {
    json!({"faults": server.faults})
}

fn clock_error(e: ClockError) -> AdminError {
    match e {
        ClockError::Backwards { .. } => AdminError::new(409, "clock_backwards", e.to_string()),
        ClockError::TooFar { .. } => AdminError::bad("duration_too_long", e.to_string()),
    }
}

const FAULT_KINDS: [&str; 7] = [
    "server_error",
    "rate_limited",
    "unauthorized",
    "missing_expired_token",
    "drop_before_commit",
    "drop_after_commit",
    "latency",
];

fn fault_specs(
    state: &ServeState,
    request: &crate::fapi::HttpRequest,
) -> Result<Vec<FaultSpec>, AdminError> {
    let body =
        body(request, &["kind", "count", "on", "status", "retry_after", "latency", "random"])?;
    if let Some(n) = u64_field(&body, "random")? {
        if body.len() > 1 {
            return Err(
                AdminError::bad("malformed_body", "`random` goes alone").accepting(["random"])
            );
        }
        if !(1..=RANDOM_FAULTS_MAX as u64).contains(&n) {
            return Err(AdminError::bad(
                "out_of_range",
                format!("`random` = {n}; accepted: 1..={RANDOM_FAULTS_MAX}"),
            ));
        }
        let mut draw = state.draw.lock().unwrap_or_else(|e| e.into_inner());
        return Ok((0..n).map(|_| draw.spec()).collect());
    }
    let kind_text = str_field(&body, "kind")?
        .ok_or_else(|| missing("kind", "a fault kind").accepting(FAULT_KINDS))?;
    let allow_only = |fields: &[&str]| -> Result<(), AdminError> {
        let common = ["kind", "count", "on"];
        for key in body.keys() {
            if !common.contains(&key.as_str()) && !fields.contains(&key.as_str()) {
                return Err(AdminError::bad(
                    "unknown_field",
                    format!("`{key}` does not go with kind `{kind_text}`"),
                )
                .accepting(common.iter().chain(fields)));
            }
        }
        Ok(())
    };
    let kind = match kind_text {
        "server_error" => {
            allow_only(&["status"])?;
            let status = u64_field(&body, "status")?.unwrap_or(500);
            if !(500..=599).contains(&status) {
                return Err(AdminError::bad(
                    "out_of_range",
                    format!("`status` = {status}; accepted: 500..=599"),
                ));
            }
            FaultKind::ServerError { status: status as u16 }
        }
        "rate_limited" => {
            allow_only(&["retry_after"])?;
            let retry_after_ms = duration_field(&body, "retry_after")?.unwrap_or(1_000);
            if retry_after_ms > LATENCY_MS_MAX {
                return Err(AdminError::bad(
                    "out_of_range",
                    format!("`retry_after` = {retry_after_ms} ms; accepted: up to 10m"),
                ));
            }
            FaultKind::RateLimited { retry_after_ms }
        }
        "latency" => {
            allow_only(&["latency"])?;
            let ms = duration_field(&body, "latency")?
                .ok_or_else(|| missing("latency", "a duration such as \"2s\""))?;
            if ms > LATENCY_MS_MAX {
                return Err(AdminError::bad(
                    "out_of_range",
                    format!("`latency` = {ms} ms; accepted: up to 10m"),
                ));
            }
            FaultKind::Latency { ms }
        }
        "unauthorized" | "missing_expired_token" | "drop_before_commit" | "drop_after_commit" => {
            allow_only(&[])?;
            match kind_text {
                "unauthorized" => FaultKind::Unauthorized,
                "missing_expired_token" => FaultKind::MissingExpiredToken,
                "drop_before_commit" => FaultKind::DropBeforeCommit,
                _ => FaultKind::DropAfterCommit,
            }
        }
        other => {
            return Err(AdminError::bad(
                "unknown_fault_kind",
                format!("`{other}` is not a fault kind"),
            )
            .accepting(FAULT_KINDS));
        }
    };
    let count = u64_field(&body, "count")?.unwrap_or(1);
    if !(1..=FAULT_COUNT_MAX as u64).contains(&count) {
        return Err(AdminError::bad(
            "out_of_range",
            format!("`count` = {count}; accepted: 1..={FAULT_COUNT_MAX}"),
        ));
    }
    let on = match str_field(&body, "on")? {
        None => None,
        Some(text) => {
            Some(Endpoint::ALL.into_iter().find(|e| e.as_str() == text).ok_or_else(|| {
                AdminError::bad("unknown_endpoint", format!("`{text}` is not an endpoint"))
                    .accepting(Endpoint::ALL.iter().map(|e| e.as_str()))
            })?)
        }
    };
    Ok(vec![FaultSpec { kind, count: count as u32, on }])
}

/// The JSON object of a body; an empty body is an empty object.
fn body(
    request: &crate::fapi::HttpRequest,
    accepted: &[&str],
) -> Result<Map<String, Value>, AdminError> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let what = || format!("a JSON object with the fields {}", accepted.join(", "));
    let value: Value = serde_json::from_slice(&request.body).map_err(|e| {
        AdminError::bad("malformed_body", format!("the body is not JSON: {e}")).accepting([what()])
    })?;
    let Value::Object(map) = value else {
        return Err(AdminError::bad("malformed_body", "the body is JSON but not an object")
            .accepting([what()]));
    };
    if let Some(key) = map.keys().find(|k| !accepted.contains(&k.as_str())) {
        return Err(
            AdminError::bad("unknown_field", format!("unknown field `{key}`")).accepting(accepted)
        );
    }
    Ok(map)
}

fn no_body(request: &crate::fapi::HttpRequest) -> Result<(), AdminError> {
    let map = body(request, &[])?;
    debug_assert!(map.is_empty(), "body() refuses every field when none is accepted");
    Ok(())
}

fn missing(field: &str, what: &str) -> AdminError {
    AdminError::bad("missing_field", format!("`{field}` is required: {what}"))
}

fn wrong_type(field: &str, expected: &str, found: &Value) -> AdminError {
    AdminError::bad("malformed_body", format!("`{field}` must be {expected}, not `{found}`"))
}

fn str_field<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, AdminError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

fn u64_field(body: &Map<String, Value>, field: &str) -> Result<Option<u64>, AdminError> {
    match body.get(field) {
        None => Ok(None),
        Some(value) => {
            value.as_u64().map(Some).ok_or_else(|| wrong_type(field, "a whole number", value))
        }
    }
}

fn duration_field(body: &Map<String, Value>, field: &str) -> Result<Option<u64>, AdminError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(text)) => parse_duration(text)
            .map(Some)
            .map_err(|e| AdminError::bad("malformed_duration", format!("`{field}`: {e}"))),
        Some(other) => Err(wrong_type(
            field,
            "a duration string with a unit (\"250ms\", \"30s\", \"7d\")",
            other,
        )),
    }
}

/// `task`: absent (`None`), `null` (`Some(None)`) or a task key.
fn task_field(body: &Map<String, Value>) -> Result<Option<Option<TaskKey>>, AdminError> {
    match body.get("task") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(text)) => TaskKey::parse(text).map(|t| Some(Some(t))).ok_or_else(|| {
            AdminError::bad("unknown_task", format!("`{text}` is not a task"))
                .accepting(TaskKey::ALL.iter().map(|t| t.as_str()))
        }),
        Some(other) => Err(wrong_type("task", "a task key or null", other)),
    }
}
