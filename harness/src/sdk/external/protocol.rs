//! The adapter protocol's messages (docs/adapter-protocol.md, version 2) as serde types: the
//! hello line, the requests the harness writes, the replies and happenings an adapter
//! writes back.
//!
//! Parsing is tolerant of extra fields (an adapter may report more than version 1 asks) and
//! strict about the fields version 1 names: a missing or mistyped one is a `garbled` reply.
//!
//! The JSON Schema of every message (`schema/adapter-protocol.schema.json`, [`json_schema`])
//! is generated from these types with schemars, the requests the harness writes included
//! ([`Request`]: the harness serialises exactly these), and a test keeps it current.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::settings::{Setup, TokenCacheKind};
use crate::model::vocab::{
    AppState, AuthView, CallKind, Network, Route, SessionId, SessionStatus, SessionView,
    SignOutCause, StorageFaultSpec, TaskKey,
};

/// The newest protocol version this harness speaks.
pub const PROTOCOL: u64 = 2;

/// The versions this harness speaks: an adapter's hello names one, and every request the
/// harness writes it carries as `v`. Version 2 adds `end` (one process, launch after
/// launch); a version 1 adapter is one process per launch. Either version may add the
/// native module (§11): an adapter that says `"native_module": true` in its hello makes
/// native calls (`native` lines, answered by `native_answer` lines) and takes the module's
/// events (`native_events` on a `step`), for setups with `native: true`.
pub const PROTOCOLS: [u64; 2] = [1, 2];

/// [`PROTOCOLS`] as an error message says them: `1 and 2`.
pub fn protocols_text() -> String {
    let words: Vec<String> = PROTOCOLS.iter().map(u64::to_string).collect();
    words.join(" and ")
}

/// What the hello line must say in its `hello` field.
pub const HELLO: &str = "session-harness-adapter";

/// What a missing hello usually means, said wherever one is missed.
pub const FLUSH_HINT: &str = "an adapter that wrote its hello but never flushed stdout looks \
     like this: flush after every line (Python: print(..., flush=True) or sys.stdout.flush(); \
     C: fflush(stdout); Node: process.stdout.write is unbuffered)";

/// Longest line an adapter may write: 32 MiB, newline excluded. A step's reply carries every
/// happening of the step with what each storage write stored: an hour of refreshes of two
/// sessions with the resource cache (a 6 KB client snapshot written per refresh) is about
/// 2 MB on the real @clerk/expo 3.2.8 (fresh-seed gate campaign 0xbde0e915, case seed
/// 0x0d2d8417d5387e1b), over the 1 MiB this once was; 32 MiB keeps a runaway adapter's line
/// bounded.
pub const LINE_BYTES_MAX: usize = 1 << 25;

/// The adapter's first line: `{"hello": "session-harness-adapter", "protocol": 1, "sdk":
/// "py-session-sdk", "version": "0.1.0"}`. `sdk@version` labels a `cmd:` SDK in the gate's
/// snapshot folders, JUnit class names and findings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub struct Hello {
    /// Always `session-harness-adapter`.
    pub hello: String,
    /// The protocol version the adapter speaks: 1 (one process per launch) or 2 (also `end`:
    /// launch after launch in one process).
    pub protocol: u64,
    /// The SDK's name (`py-session-sdk`, `@clerk/clerk-js`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<String>,
    /// The SDK's version (`0.1.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The SDK's entry point, for people (`dist/clerk.native.js`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The lockstep fidelity the SDK declares it is held to (one of [`FIDELITIES`]);
    /// absent: `observable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<String>,
    /// The adapter's `ClerkExpo` module forwards to the harness's native layer (§11);
    /// absent: false, and setups with `native: true` are refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub native_module: bool,
    /// The storage fault kinds (`throw`, `hang`, `garbage`) the adapter's storage simulates
    /// (§3, "Device events"); absent: none, and a fault armed while no process runs is refused
    /// at the next `cold_start`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage_faults: Vec<String>,
    /// The adapter takes a `clear_faults` step, which disarms the storage faults it holds
    /// (§3, "Device events"); absent: false, and `clear_faults` while it holds one is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clear_storage_faults: bool,
}

/// The fidelities a hello may declare, loosest first (`runner::lockstep::Fidelity`).
pub const FIDELITIES: [&str; 3] = ["observable", "requests", "exact"];

/// Longest SDK label a hello may announce (`sdk@version`).
pub const LABEL_CHARS_MAX: usize = 100;

impl Hello {
    /// `sdk@version`, the label the gate files this SDK under. `Err` names what is missing
    /// or not accepted: both fields are needed, letters, digits and `@ . _ + - /` only.
    pub fn label(&self) -> Result<String, String> {
        let field = |name: &str, value: &Option<String>| -> Result<String, String> {
            let value = value.as_deref().map(str::trim).unwrap_or_default();
            if value.is_empty() {
                return Err(format!(
                    "the hello line names no `{name}`; the gate labels a `cmd:` SDK \
                     `sdk@version` from its hello, e.g. {{\"hello\": \"{HELLO}\", \"protocol\": \
                     {PROTOCOL}, \"sdk\": \"my-sdk\", \"version\": \"1.2.0\"}}"
                ));
            }
            let bad = value.chars().find(|c| !(c.is_ascii_alphanumeric() || "@._+-/".contains(*c)));
            if let Some(c) = bad {
                return Err(format!(
                    "the hello's `{name}` {value:?} has {c:?}; accepted: letters, digits and \
                     `@ . _ + - /`"
                ));
            }
            Ok(value.to_string())
        };
        let label = format!("{}@{}", field("sdk", &self.sdk)?, field("version", &self.version)?);
        if label.len() > LABEL_CHARS_MAX || label.contains("..") {
            return Err(format!(
                "the label `{label}` from the hello is over {LABEL_CHARS_MAX} characters or \
                 contains `..`"
            ));
        }
        Ok(label)
    }
}

/// A request the harness writes (§3), tagged by `cmd`. Every request carries `v`, the
/// version the adapter's hello named, and its `id` (1, 2, 3, … within a process).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// The first request of every launch: create the SDK, start loading, answer once idle.
    Start {
        v: u64,
        id: u64,
        /// The virtual instant, ms since the harness epoch (2026-01-01).
        now_ms: u64,
        /// The harness's process counter, the `<run>` of request tags (§5).
        run: u32,
        /// The first free call id; the `load` call takes it.
        call_base: u32,
        fapi_url: String,
        backend_url: String,
        publishable_key: String,
        /// `ios` or `android`.
        platform: String,
        settings: StartSettings,
        /// Everything persisted: key → the whole string.
        storage: std::collections::BTreeMap<String, String>,
        /// Storage faults armed while no process ran (`storage_fault` events between a `kill`
        /// and this launch), in the event's JSON form; sent only when there are some, and only
        /// to an adapter whose hello lists their kinds.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        storage_faults: Vec<StorageFaultSpec>,
        /// `active`, `inactive` or `background`.
        app_state: String,
        /// `online` or `offline`.
        network: String,
    },
    /// One event, in the JSON form of the harness's traces (`{"event": "get_token",
    /// "skip_cache": true}`).
    Step {
        v: u64,
        id: u64,
        event: crate::model::vocab::Event,
        call_base: u32,
        /// The native module's events (§11) sends JS during this step (§11).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        native_events: Vec<NativeEvent>,
    },
    /// Answer `{"id": …, "ok": true}` and exit with status 0 within 2 s.
    Shutdown { v: u64, id: u64 },
    /// Version 2: end the running launch (the app process) and answer `{"id": …, "ok":
    /// true}`; the adapter process stays, ready for the next `start`, which must find nothing
    /// of this launch.
    End { v: u64, id: u64 },
}

impl Request {
    /// The same request as version `v` of the protocol (the one the adapter's hello named),
    /// with the `id` the process's counter gives it.
    pub fn stamped(mut self, v: u64, id: u64) -> Request {
        match &mut self {
            Request::Start { v: version, id: slot, .. }
            | Request::Step { v: version, id: slot, .. }
            | Request::Shutdown { v: version, id: slot }
            | Request::End { v: version, id: slot } => {
                *version = v;
                *slot = id;
            }
        }
        self
    }

    /// The request as one line of JSON (no newline).
    pub fn line(&self) -> String {
        serde_json::to_string(self).expect("requests always serialise")
    }
}

/// The SDK configuration `start` carries (§3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct StartSettings {
    /// `secure_store` (persist the client token) or `memory` (keep it in the process).
    pub token_cache: &'static str,
    pub resource_cache: bool,
    pub treat_pending_as_signed_out: bool,
    pub fapi_latency_ms: u64,
    pub backend_latency_ms: u64,
    /// The `ClerkExpo` native module is present (`native: true`); its calls go to the harness
    /// (§11). Sent only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub native: bool,
}

impl StartSettings {
    pub fn of(setup: &Setup) -> StartSettings {
        StartSettings {
            token_cache: match setup.sdk.token_cache {
                TokenCacheKind::SecureStore => "secure_store",
                TokenCacheKind::Memory => "memory",
            },
            resource_cache: setup.sdk.resource_cache,
            treat_pending_as_signed_out: setup.sdk.treat_pending_as_signed_out,
            fapi_latency_ms: setup.net.fapi_latency_ms,
            backend_latency_ms: setup.net.backend_latency_ms,
            native: setup.sdk.native,
        }
    }
}

/// A reply, before its shape is checked against the request: `{"id": 2, "ok": true, "obs":
/// {…}, "next_call": 5}` (`start` and `step`: `obs` and `next_call` are required), `{"id": 9,
/// "ok": true}` (`shutdown`), or `{"id": 2, "ok": false, "error": {…}}`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct Reply {
    /// The request's `id`.
    pub id: u64,
    pub ok: bool,
    #[serde(default)]
    pub obs: Option<AdapterObs>,
    /// The next free call id after this request.
    #[serde(default)]
    pub next_call: Option<u32>,
    #[serde(default)]
    pub error: Option<AdapterError>,
}

/// `{"kind": "unsupported" | "bad_request" | "internal", "message": "…"}`
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct AdapterError {
    /// `unsupported`, `bad_request` or `internal`.
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

/// The observation of a reply (§6).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct AdapterObs {
    pub now_ms: u64,
    pub view: AdapterView,
    pub open_calls: u32,
    pub in_flight: u32,
    #[serde(default)]
    pub happenings: Vec<AdapterHappening>,
}

/// A session id as an adapter writes it: the FAPI's `"sess_1"`, or a bare number.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum IdText {
    Number(u32),
    Text(String),
}

impl IdText {
    pub fn session(&self) -> Option<SessionId> {
        match self {
            IdText::Number(n) => Some(SessionId(*n)),
            IdText::Text(t) => SessionId::parse(t),
        }
    }
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct AdapterSession {
    pub id: IdText,
    pub status: SessionStatus,
    #[serde(default)]
    pub task: Option<TaskKey>,
}

/// `AuthView` as an adapter writes it (§7): the route in the harness's form, the session id
/// as the FAPI names it.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct AdapterView {
    pub route: Route,
    pub is_loaded: bool,
    #[serde(default)]
    pub is_signed_in: Option<bool>,
    #[serde(default)]
    pub session: Option<AdapterSession>,
}

impl AdapterView {
    /// The harness's view; `Err` names a session id that is not `sess_<n>`.
    pub fn to_view(&self) -> Result<AuthView, String> {
        let session = match &self.session {
            None => None,
            Some(s) => Some(SessionView {
                id: s.id.session().ok_or_else(|| {
                    format!("session id {:?} is not `sess_<n>` (the FAPI's ids)", s.id)
                })?,
                status: s.status,
                task: s.task,
            }),
        };
        Ok(AuthView {
            route: self.route.clone(),
            is_loaded: self.is_loaded,
            is_signed_in: self.is_signed_in,
            session,
        })
    }
}

/// How a call ended, as an adapter reports it: tokens as the JWT the SDK returned.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum AdapterResult {
    Token { jwt: String },
    Null,
    Ok,
    Error { status: u16, code: String },
}

/// One happening as an adapter reports it (§6's table).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "what")]
pub enum AdapterHappening {
    Rendered {
        at: u64,
        view: AdapterView,
    },
    CallStarted {
        at: u64,
        call: u32,
        kind: CallKind,
    },
    CallSettled {
        at: u64,
        call: u32,
        kind: CallKind,
        result: AdapterResult,
    },
    RequestSent {
        at: u64,
        req: u32,
        method: String,
        url: String,
        #[serde(default)]
        call: Option<u32>,
    },
    RequestDone {
        at: u64,
        req: u32,
        #[serde(default)]
        status: Option<u16>,
        #[serde(default)]
        network_error: bool,
    },
    BackendHit {
        at: u64,
        call: u32,
        attempt: u8,
        sent_at: u64,
        #[serde(default)]
        jwt: Option<String>,
        status: u16,
    },
    RetryScheduled {
        at: u64,
        call: u32,
        delay_ms: u64,
        #[serde(default)]
        retry_after_ms: Option<u64>,
    },
    StorageWritten {
        at: u64,
        key: String,
        value: String,
    },
    StorageRead {
        at: u64,
        key: String,
    },
    StorageDeleted {
        at: u64,
        key: String,
    },
    SignedOut {
        at: u64,
        cause: SignOutCause,
        #[serde(default)]
        server_revoke: bool,
    },
}

/// Which message a schema definition describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// The adapter's first line.
    Hello,
    /// A line the harness writes.
    Request,
    /// A line the adapter writes after its hello.
    Reply,
}

impl Message {
    pub fn name(self) -> &'static str {
        match self {
            Message::Hello => "Hello",
            Message::Request => "Request",
            Message::Reply => "Reply",
        }
    }
}

/// The JSON Schema of every protocol message (`schema/adapter-protocol.schema.json`): the
/// three messages under `$defs` (`Hello`, `Request`, `Reply`), and the document itself
/// accepts any one of them. Generated from the types above; `cargo xtask schema` writes it.
pub fn json_schema() -> String {
    let mut generator = schemars::SchemaGenerator::default();
    let refs = [
        generator.subschema_for::<Hello>(),
        generator.subschema_for::<Request>(),
        generator.subschema_for::<Reply>(),
    ];
    let mut defs = generator.take_definitions(true);
    // `obs` and `error` are left out when they do not apply, never sent as null: written
    // as plain references, a malformed observation is reported field by field
    // (`/obs/view/route`), not as one "matches none of anyOf" at `/obs`.
    for (field, def) in [("obs", "AdapterObs"), ("error", "AdapterError")] {
        if let Some(property) =
            defs.get_mut("Reply").and_then(|r| r.pointer_mut(&format!("/properties/{field}")))
        {
            *property = serde_json::json!({ "$ref": format!("#/$defs/{def}") });
        }
    }
    let value = serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "adapter-protocol.schema.json",
        "title": format!("session-harness adapter protocol, version {PROTOCOL}"),
        "description": "One JSON object per line (docs/adapter-protocol.md). The adapter writes                         a Hello line, then one Reply per Request the harness writes.",
        "anyOf": refs,
        "$defs": defs,
    });
    let mut text = serde_json::to_string_pretty(&value).expect("a JSON Schema always serialises");
    text.push('\n');
    text
}

/// The schema of one message, as a document a validator compiles (`$ref` into the full
/// document's `$defs`).
pub fn message_schema(message: Message) -> serde_json::Value {
    let mut doc: serde_json::Value =
        serde_json::from_str(&json_schema()).expect("the generated schema is JSON");
    doc["anyOf"] = serde_json::Value::Null;
    let map = doc.as_object_mut().expect("the schema is an object");
    map.remove("anyOf");
    map.insert("$ref".into(), serde_json::json!(format!("#/$defs/{}", message.name())));
    doc
}

/// The `app_state` and `network` words of `start`.
pub fn app_state_word(state: AppState) -> &'static str {
    match state {
        AppState::Active => "active",
        AppState::Inactive => "inactive",
        AppState::Background => "background",
    }
}

pub fn network_word(network: Network) -> &'static str {
    match network {
        Network::Online => "online",
        Network::Offline => "offline",
        Network::Hanging => "hanging",
    }
}

/// A line cut to 200 characters for an error message (on a character boundary).
pub fn quote(line: &str) -> String {
    const SHOWN: usize = 200;
    let mut cut: String = line.chars().take(SHOWN).collect();
    if line.chars().count() > SHOWN {
        cut.push('…');
    }
    format!("`{cut}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_parses_with_fapi_session_ids_and_numbers() {
        let text = r#"{"route":{"screen":"protected","path":"/home"},"is_loaded":true,
            "is_signed_in":true,"session":{"id":"sess_3","status":"active"}}"#;
        let view: AdapterView = serde_json::from_str(text).expect("the §6 example parses");
        let view = view.to_view().expect("sess_3 is a session id");
        assert_eq!(view.session.map(|s| s.id), Some(SessionId(3)));
        let bare: AdapterView = serde_json::from_str(
            r#"{"route":{"screen":"task","key":"setup-mfa"},"is_loaded":true,
                "session":{"id":4,"status":"pending","task":"setup-mfa"}}"#,
        )
        .expect("a bare number parses");
        assert_eq!(bare.to_view().expect("valid").route, Route::Task { key: TaskKey::SetupMfa });
        let bad: AdapterView = serde_json::from_str(
            r#"{"route":{"screen":"loading"},"is_loaded":false,"session":{"id":"s1","status":"active"}}"#,
        )
        .expect("the shape parses");
        assert!(bad.to_view().unwrap_err().contains("s1"));
    }

    #[test]
    fn quotes_are_cut_at_200_characters() {
        let long = "é".repeat(500);
        let quoted = quote(&long);
        assert_eq!(quoted.chars().count(), 200 + 3);
        assert_eq!(quote("short"), "`short`");
    }
}

/// §11: an event of the native module, delivered to JS's listeners during a `step`:
/// `{"name": "onAuthStateChange", "body": {"type": "signedIn", "sessionId": "sess_1"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct NativeEvent {
    pub name: String,
    pub body: serde_json::Value,
}

/// §11: a call of the native module, from the adapter while it answers a `start` or a
/// `step`: `{"native": {"seq": 1, "call": "configure", "token": "eyJ…", "at_ms": 7000}}`.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
pub struct NativeLine {
    pub native: NativeRequest,
}

#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NativeRequest {
    /// The adapter's number for the call; the answer carries it back.
    pub seq: u64,
    /// `configure`, `get_session`, `get_client_token` or `sign_out`.
    pub call: String,
    /// `configure`'s bearer token: the client JWT, or null.
    #[serde(default)]
    pub token: Option<String>,
    /// The virtual instant of the call, ms since the harness epoch.
    pub at_ms: u64,
}

/// §11: the harness's answer to a [`NativeLine`]: `{"native_answer": {"seq": 1, "ok":
/// true, "value": …}}` or `{"native_answer": {"seq": 1, "ok": false, "code": "E_TIMEOUT"}}`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct NativeAnswerLine {
    pub native_answer: NativeAnswerBody,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct NativeAnswerBody {
    pub seq: u64,
    pub ok: bool,
    /// What the promise resolves with: null, `{"sessionId": …}` (`get_session`), or the
    /// device token string (`get_client_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// The rejection code, when `ok` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Why the harness could not take the call (a bad `native` line), when `ok` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
