//! Request decoding: method override, routing, form bodies and the client token, turned into
//! the model's [`FapiRequest`]. Anything malformed becomes a Clerk-shaped [`WireError`], never
//! a panic.
//!
//! Conventions (reference §4.2): the wire method is GET or POST and `_method=DELETE|PATCH|PUT`
//! on a POST names the real one; bodies are `application/x-www-form-urlencoded`; the client
//! token arrives raw in `authorization` (no `Bearer`, possibly empty). The query parameters
//! clerk-js adds (`_is_native`, `__clerk_api_version`, `_clerk_js_version`,
//! `_clerk_retry_attempt`, `debug`, …) are tolerated and ignored.

use std::borrow::Cow;

use crate::model::server::{ClientToken, FapiRequest};
use crate::model::vocab::{Endpoint, SessionId, TaskKey, TemplateName};

/// A Clerk-shaped error produced before the server is consulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    pub status: u16,
    pub code: &'static str,
    pub message: &'static str,
    pub long_message: String,
    /// `meta.param_name`, for form errors.
    pub param: Option<&'static str>,
}

impl WireError {
    fn new(status: u16, code: &'static str, message: &'static str, long: String) -> WireError {
        WireError { status, code, message, long_message: long, param: None }
    }

    fn param(
        code: &'static str,
        message: &'static str,
        param: &'static str,
        long: String,
    ) -> WireError {
        WireError { status: 422, code, message, long_message: long, param: Some(param) }
    }

    pub fn not_found(path: &str) -> WireError {
        WireError::new(
            404,
            "resource_not_found",
            "Resource not found",
            format!("no FAPI endpoint at `{path}`"),
        )
    }
}

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A FAPI endpoint; the request is decoded further by [`decode_request`].
    Fapi { endpoint: Endpoint, method: &'static str, tail: Tail },
    /// `GET /.well-known/jwks.json` or `GET /v1/jwks`.
    Jwks,
}

/// The parts of the path an endpoint needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tail {
    None,
    Session(String),
    Task(String, String),
    /// `tokens/{template}`: the session and the JWT template's name as sent.
    Template(String, String),
}

impl Tail {
    /// The session id text the path names, if any.
    pub fn session(&self) -> Option<&str> {
        match self {
            Tail::Session(s) | Tail::Task(s, _) | Tail::Template(s, _) => Some(s),
            Tail::None => None,
        }
    }
}

/// The effective method: the wire method, or `_method` on a POST.
pub fn effective_method(method: &str, query: &[QueryPair<'_>]) -> Result<&'static str, WireError> {
    let wire = canonical_method(method).ok_or_else(|| {
        WireError::new(
            405,
            "request_method_invalid",
            "Method not allowed",
            format!("method `{method}` is not one of GET, POST, PUT, PATCH, DELETE"),
        )
    })?;
    let Some((_, over)) = query.iter().find(|(k, _)| k == "_method") else {
        return Ok(wire);
    };
    if wire != "POST" {
        return Err(WireError::new(
            400,
            "request_method_invalid",
            "Invalid method override",
            format!("`_method` is only honoured on POST, not on {wire}"),
        ));
    }
    match canonical_method(over) {
        Some(m @ ("DELETE" | "PATCH" | "PUT")) => Ok(m),
        _ => Err(WireError::new(
            400,
            "request_method_invalid",
            "Invalid method override",
            format!("`_method={over}` is not one of DELETE, PATCH, PUT"),
        )),
    }
}

fn canonical_method(method: &str) -> Option<&'static str> {
    ["GET", "POST", "PUT", "PATCH", "DELETE"].into_iter().find(|m| m.eq_ignore_ascii_case(method))
}

/// One decoded query or form pair; borrowed from the request unless it had escapes.
pub type QueryPair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Parses a query string into pairs, in order.
pub fn parse_query(query: &str) -> Vec<QueryPair<'_>> {
    form_urlencoded::parse(query.as_bytes()).collect()
}

/// Routes a request. Paths may carry a proxy prefix before `/v1/` (a `proxyUrl`).
pub fn route(method: &str, path: &str, query: &[QueryPair<'_>]) -> Result<Route, WireError> {
    let method = effective_method(method, query)?;
    if path == "/.well-known/jwks.json" || path.ends_with("/v1/jwks") {
        return match method {
            "GET" => Ok(Route::Jwks),
            _ => Err(method_not_allowed(method, path)),
        };
    }
    let Some(index) = path.find("/v1/") else {
        return Err(WireError::not_found(path));
    };
    let rest = &path[index + 4..];
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let fapi = |endpoint, tail| Ok(Route::Fapi { endpoint, method, tail });
    match (method, segments.as_slice()) {
        // PATCH is what browser dev instances send; tolerate it.
        ("GET" | "PATCH", ["environment"]) => fapi(Endpoint::Environment, Tail::None),
        ("GET", ["client"]) => fapi(Endpoint::GetClient, Tail::None),
        ("PUT", ["client"]) => fapi(Endpoint::CreateClient, Tail::None),
        // `Client.destroy()` (persistClient: false): signs every session out, like removeSessions.
        ("DELETE", ["client"]) => fapi(Endpoint::RemoveSessions, Tail::None),
        ("POST", ["client", "sign_ins"]) => fapi(Endpoint::SignIn, Tail::None),
        ("DELETE", ["client", "sessions"]) => fapi(Endpoint::RemoveSessions, Tail::None),
        ("POST", ["client", "sessions", sid, "tokens"]) => {
            fapi(Endpoint::Tokens, Tail::Session(sid.to_string()))
        }
        ("POST", ["client", "sessions", sid, "tokens", template]) => {
            fapi(Endpoint::Tokens, Tail::Template(sid.to_string(), template.to_string()))
        }
        ("POST", ["client", "sessions", sid, "touch"]) => {
            fapi(Endpoint::Touch, Tail::Session(sid.to_string()))
        }
        ("POST", ["client", "sessions", sid, "end"]) => {
            fapi(Endpoint::End, Tail::Session(sid.to_string()))
        }
        ("POST", ["client", "sessions", sid, "remove"]) => {
            fapi(Endpoint::Remove, Tail::Session(sid.to_string()))
        }
        ("POST", ["client", "sessions", sid, "tasks", task, "resolve"]) => {
            fapi(Endpoint::ResolveTask, Tail::Task(sid.to_string(), task.to_string()))
        }
        (_, segments) if known_path(segments) => Err(method_not_allowed(method, path)),
        _ => Err(WireError::not_found(path)),
    }
}

fn known_path(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["environment"]
            | ["client"]
            | ["client", "sign_ins"]
            | ["client", "sessions"]
            | ["client", "sessions", _, "tokens" | "touch" | "end" | "remove"]
            | ["client", "sessions", _, "tokens", _]
            | ["client", "sessions", _, "tasks", _, "resolve"]
    )
}

fn method_not_allowed(method: &str, path: &str) -> WireError {
    WireError::new(
        405,
        "request_method_invalid",
        "Method not allowed",
        format!("`{method} {path}` is not an endpoint; see docs/fapi-emulator.md for the surface"),
    )
}

/// The client token from the `authorization` header: raw as `@clerk/expo` sends it, a
/// `Bearer` prefix tolerated, empty or unknown text meaning "no token".
pub fn client_token(authorization: Option<&str>) -> Option<ClientToken> {
    let text = authorization?.trim();
    let text = text.strip_prefix("Bearer ").unwrap_or(text).trim();
    if text.is_empty() { None } else { ClientToken::decode(text) }
}

/// A decoded form body.
pub struct Form<'a>(Vec<QueryPair<'a>>);

impl Form<'_> {
    pub fn get(&self, name: &str) -> Option<&str> {
        // The last occurrence wins, as in most form parsers.
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_ref())
    }
}

/// Decodes a form body. An empty body is an empty form whatever the content type.
pub fn parse_form<'a>(content_type: Option<&str>, body: &'a [u8]) -> Result<Form<'a>, WireError> {
    if body.is_empty() {
        return Ok(Form(Vec::new()));
    }
    let media = content_type.unwrap_or("").split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(WireError::new(
            415,
            "unsupported_content_type",
            "Unsupported content type",
            format!(
                "request bodies must be `application/x-www-form-urlencoded`, not `{}`",
                if media.is_empty() { "(none)" } else { media }
            ),
        ));
    }
    if std::str::from_utf8(body).is_err() {
        return Err(WireError::new(
            400,
            "malformed_request_body",
            "Malformed request body",
            "the form body is not valid UTF-8".to_string(),
        ));
    }
    Ok(Form(form_urlencoded::parse(body).collect()))
}

/// What the token endpoint's `token=` field decodes to; supplied by the handler, which owns
/// the verifier.
pub type CarriedTokenDecoder<'a> = &'a dyn Fn(&str) -> Option<crate::model::vocab::TokenInfo>;

/// Decodes a routed FAPI request into the model's request.
pub fn decode_request(
    endpoint: Endpoint,
    tail: &Tail,
    form: &Form,
    carried: CarriedTokenDecoder<'_>,
) -> Result<FapiRequest, WireError> {
    let sid = || -> Result<SessionId, WireError> {
        let text = match tail {
            Tail::Session(s) | Tail::Task(s, _) | Tail::Template(s, _) => s.as_str(),
            Tail::None => "",
        };
        SessionId::parse(text).ok_or_else(|| {
            WireError::new(
                404,
                "resource_not_found",
                "Session not found",
                format!("`{text}` is not a session id of this instance; expected `sess_<n>`"),
            )
        })
    };
    Ok(match endpoint {
        Endpoint::Environment => FapiRequest::Environment,
        Endpoint::GetClient => FapiRequest::GetClient,
        Endpoint::CreateClient => FapiRequest::CreateClient,
        Endpoint::RemoveSessions => FapiRequest::RemoveSessions,
        Endpoint::SignIn => {
            let required = |name: &'static str| {
                form.get(name).filter(|v| !v.is_empty()).map(str::to_string).ok_or_else(|| {
                    WireError::param(
                        "form_param_missing",
                        "is missing",
                        name,
                        format!("`{name}` is required to sign in with a password"),
                    )
                })
            };
            if let Some(strategy) = form.get("strategy")
                && strategy != "password"
            {
                return Err(WireError::param(
                    "form_param_value_invalid",
                    "is invalid",
                    "strategy",
                    format!(
                        "strategy `{strategy}` is not supported; the emulator accepts `password`"
                    ),
                ));
            }
            FapiRequest::SignIn {
                identifier: required("identifier")?,
                password: required("password")?,
            }
        }
        Endpoint::Tokens => {
            let force_origin = match form.get("force_origin") {
                None | Some("") | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(WireError::param(
                        "form_param_format_invalid",
                        "is invalid",
                        "force_origin",
                        format!("`force_origin={other}` must be `true` or `false`"),
                    ));
                }
            };
            let carried = match form.get("token").filter(|t| !t.is_empty()) {
                None => None,
                Some(text) => Some(carried(text).ok_or_else(|| {
                    WireError::param(
                        "form_param_format_invalid",
                        "is invalid",
                        "token",
                        "`token` is not a session token this instance signed".to_string(),
                    )
                })?),
            };
            // A name no template could have is a template the instance does not have: the
            // same 404 the server gives an unknown one.
            let template = match tail {
                Tail::Template(_, name) => Some(TemplateName::parse(name).map_err(|_| {
                    WireError::new(
                        404,
                        "resource_not_found",
                        "JWT template not found",
                        format!("no JWT template named `{}` on this instance", name.escape_debug()),
                    )
                })?),
                _ => None,
            };
            FapiRequest::Tokens { sid: sid()?, carried, force_origin, template }
        }
        Endpoint::Touch => FapiRequest::Touch { sid: sid()? },
        Endpoint::End => FapiRequest::End { sid: sid()? },
        Endpoint::Remove => FapiRequest::Remove { sid: sid()? },
        Endpoint::ResolveTask => {
            let Tail::Task(_, key) = tail else {
                return Err(WireError::not_found("tasks/<key>/resolve"));
            };
            let task = TaskKey::parse(key).ok_or_else(|| {
                WireError::new(
                    404,
                    "resource_not_found",
                    "Task not found",
                    format!(
                        "`{key}` is not a session task; expected choose-organization, \
                         reset-password or setup-mfa"
                    ),
                )
            })?;
            FapiRequest::ResolveTask { sid: sid()?, task }
        }
    })
}
