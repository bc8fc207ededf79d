//! HTTP-like request and response values: what the one handler takes and gives, whichever way
//! the request came in (in-process call or wiremock).
//!
//! Header names are lowercase and response headers are kept sorted by name, so two responses
//! compare equal exactly when they carry the same information. A response body produced from
//! a server reply is rendered on first use ([`HttpResponse::body`]): the in-process path can
//! read the typed reply ([`HttpResponse::reply`]) and never pay for JSON or RSA.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::model::server::FapiReply;

use super::encode::RenderCtx;

/// The request header an external adapter tags every request with: `<run>/<req>`, its
/// process counter and its request number. Recorded in the request log's `tag`.
pub const REQUEST_TAG_HEADER: &str = "x-harness-request";

/// Request header carrying the virtual time of an HTTP request, in virtual milliseconds since
/// the harness epoch (`VTime`). The Node adapter sets it on every request.
pub const VIRTUAL_TIME_HEADER: &str = "x-harness-virtual-time";

/// Response header naming the injected latency, in virtual milliseconds. The in-process
/// transport waits that long on the paused tokio clock; an HTTP client under fake timers
/// should do the same.
pub const LATENCY_HEADER: &str = "x-harness-latency-ms";

/// Response header naming the injected fault, for request logs on the client side.
pub const FAULT_HEADER: &str = "x-harness-fault";

/// A request as the handler sees it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HttpRequest {
    /// The wire method, upper case (`GET`, `POST`, …). `_method` is applied by the decoder.
    pub method: String,
    /// The path without the query, e.g. `/v1/client/sessions/sess_1/tokens`.
    pub path: String,
    /// The raw query string without `?`, still percent-encoded.
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn new(method: &str, path: &str) -> HttpRequest {
        HttpRequest {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            ..HttpRequest::default()
        }
    }

    pub fn get(path: &str) -> HttpRequest {
        HttpRequest::new("GET", path)
    }

    pub fn post(path: &str) -> HttpRequest {
        HttpRequest::new("POST", path)
    }

    /// Appends a query parameter, percent-encoded.
    pub fn query(self, name: &str, value: &str) -> HttpRequest {
        self.queries(&[(name, value)])
    }

    /// Appends query parameters, percent-encoded, in place (no string per pair: the
    /// reference SDK builds one request per FAPI call of every step).
    pub fn queries(mut self, pairs: &[(&str, &str)]) -> HttpRequest {
        let query = std::mem::take(&mut self.query);
        // `for_suffix(…, 0)` puts a `&` before a pair whenever the string is not empty.
        let mut ser = form_urlencoded::Serializer::for_suffix(query, 0);
        ser.extend_pairs(pairs);
        self.query = ser.finish();
        self
    }

    /// Adds the query parameters every clerk-js request on native carries (reference §4.2).
    pub fn native_params(self) -> HttpRequest {
        self.queries(&[
            ("__clerk_api_version", "2026-08-20"),
            ("_clerk_js_version", "6.40.0"),
            ("_is_native", "1"),
        ])
    }

    pub fn header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Sets `authorization` to the raw client token, as `@clerk/expo` does (no `Bearer`,
    /// empty when there is none).
    pub fn client_token(self, token: Option<&str>) -> HttpRequest {
        self.header("authorization", token.unwrap_or(""))
    }

    /// A form-encoded body, as clerk-js sends every non-GET body.
    pub fn form(mut self, fields: &[(&str, &str)]) -> HttpRequest {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            ser.append_pair(k, v);
        }
        self.body = ser.finish().into_bytes();
        self.headers.retain(|(n, _)| n != "content-type");
        self.headers
            .push(("content-type".to_string(), "application/x-www-form-urlencoded".to_string()));
        self
    }

    pub fn raw_body(mut self, content_type: &str, body: &[u8]) -> HttpRequest {
        self.body = body.to_vec();
        self.headers.retain(|(n, _)| n != "content-type");
        self.headers.push(("content-type".to_string(), content_type.to_string()));
        self
    }

    /// The first header named `name` (lower case).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Path and query, as a URL suffix.
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }
}

/// A response body: bytes, or a server reply rendered to JSON on first use.
#[derive(Clone)]
enum Body {
    Bytes(Arc<[u8]>),
    Reply { reply: Arc<FapiReply>, ctx: Arc<RenderCtx>, rendered: Arc<OnceLock<Arc<[u8]>>> },
}

/// A response as the handler gives it.
#[derive(Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Lower-case names, sorted by name.
    headers: Vec<(String, String)>,
    body: Body,
}

impl HttpResponse {
    pub fn with_bytes(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        let mut response = HttpResponse { status, headers, body: Body::Bytes(Arc::from(body)) };
        response.normalise_headers();
        response
    }

    pub(crate) fn with_reply(
        status: u16,
        headers: Vec<(String, String)>,
        reply: FapiReply,
        ctx: Arc<RenderCtx>,
    ) -> Self {
        let mut response = HttpResponse {
            status,
            headers,
            body: Body::Reply { reply: Arc::new(reply), ctx, rendered: Arc::new(OnceLock::new()) },
        };
        response.normalise_headers();
        response
    }

    fn normalise_headers(&mut self) {
        for (name, _) in &mut self.headers {
            name.make_ascii_lowercase();
        }
        // Stable sort: headers of one name keep their order.
        self.headers.sort_by(|a, b| a.0.cmp(&b.0));
    }

    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body bytes. A server reply is rendered to JSON here, once; tokens in it are signed
    /// (through the signer's cache) only now.
    pub fn body(&self) -> &[u8] {
        match &self.body {
            Body::Bytes(bytes) => bytes,
            Body::Reply { reply, ctx, rendered } => {
                rendered.get_or_init(|| Arc::from(ctx.render(reply)))
            }
        }
    }

    /// The body as JSON (`Value::Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(self.body()).unwrap_or(serde_json::Value::Null)
    }

    /// The server's typed reply, when this response carries one (every FAPI endpoint except
    /// decode errors). The fast in-process path reads this instead of the body.
    pub fn reply(&self) -> Option<&FapiReply> {
        match &self.body {
            Body::Reply { reply, .. } => Some(reply),
            Body::Bytes(_) => None,
        }
    }

    /// The rotated client token from the `authorization` response header.
    pub fn client_token(&self) -> Option<&str> {
        self.header("authorization")
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(self.body()))
            .finish()
    }
}

impl PartialEq for HttpResponse {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status && self.headers == other.headers && self.body() == other.body()
    }
}

impl Eq for HttpResponse {}
