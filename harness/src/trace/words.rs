//! One vocabulary for people: what step tables, snapshots, logs and divergence messages
//! print, in the scenario format's own words (`network: offline`, `signed_in=undefined`,
//! `load`, `local_wipe`), never Rust's `Debug` (`Offline`, `Some(false)`, `LocalWipe`). A
//! value printed here can be pasted into a scenario's `expect:` or step list as it stands.

use serde::Serialize;

use crate::model::time::{format_clock, format_duration};
use crate::model::vocab::{
    AuthView, DeviceView, Endpoint, RequestId, RequestOutcome, ServerView, SessionId, SessionView,
    StorageKey, TemplateName,
};

/// The name serde gives a unit-like value (`CallKind::GetToken` → `get_token`): the same
/// snake_case word the scenario format and the JSON traces use.
pub fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_string(),
    }
}

/// `isSignedIn` as a scenario's `signed_in` writes it: `true`, `false` or `undefined`.
pub fn signed_in(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "true",
        Some(false) => "false",
        None => "undefined",
    }
}

/// A session as `id:status`, with its task (`sess_1:pending(setup-mfa)`), or `none`.
pub fn session(s: Option<SessionView>) -> String {
    match s {
        Some(s) => match s.task {
            Some(t) => format!("{}:{}({})", s.id, s.status, t.as_str()),
            None => format!("{}:{}", s.id, s.status),
        },
        None => "none".into(),
    }
}

/// What the app shows, as an inline `expect` would check it:
/// `route=protected path=/home loaded=true signed_in=true session=sess_1:active`.
pub fn view(v: &AuthView) -> String {
    format!(
        "route={} loaded={} signed_in={} session={}",
        v.route,
        v.is_loaded,
        signed_in(v.is_signed_in),
        session(v.session)
    )
}

/// The device's truth: `running=true app_state=background network=offline`.
pub fn device(d: &DeviceView) -> String {
    let mut text = format!(
        "running={} app_state={} network={}",
        d.running,
        word(&d.app_state),
        word(&d.network)
    );
    // The device's wider state, only when it is not the everyday one.
    if !d.protection.is_unlocked() {
        text.push_str(&format!(" protection={}", d.protection.as_str()));
    }
    if !d.storage_readable {
        text.push_str(" storage_readable=false");
    }
    if d.awake {
        text.push_str(" awake=true");
    }
    // The native layer, with the native module: what a `device` divergence is most often
    // about there, so it must be in the words, not only in the data.
    if let Some(n) = d.native {
        let id = |s: Option<SessionId>| s.map(|s| s.to_string()).unwrap_or_else(|| "none".into());
        text.push_str(&format!(
            " native_session={} native_credential={}",
            id(n.session),
            id(n.credential)
        ));
    }
    text
}

/// The server's truth: `server_status=sess_1:active credential_restores=true
/// sessions=[sess_1:active]`.
pub fn server(s: &ServerView) -> String {
    let current = s.session.map(|(id, st)| format!("{id}:{st}")).unwrap_or_else(|| "none".into());
    let all: Vec<String> = s.sessions.iter().map(|(id, st)| format!("{id}:{st}")).collect();
    format!(
        "server_status={current} credential_restores={} sessions=[{}]",
        s.persisted_credential_valid,
        all.join(", ")
    )
}

/// A FAPI request as request-level lockstep compares it, in the words of a scenario's
/// `fault` step and the log: `sent req_3 tokens session=sess_1 purpose=get_token`.
/// `purpose` is the kind of call it serves (`get_token`, `get_token(skip_cache)`,
/// `set_active`, …) or `background` for work no call asked for (a refresh timer).
pub fn request_sent(
    req: RequestId,
    (endpoint, template): (Endpoint, Option<TemplateName>),
    sid: Option<SessionId>,
    purpose: &str,
) -> String {
    let session = sid.map(|s| s.to_string()).unwrap_or_else(|| "none".into());
    // A template's token request names its template: `tokens/supabase`.
    let what = match template {
        Some(t) => format!("{}/{t}", endpoint.as_str()),
        None => endpoint.as_str().to_string(),
    };
    format!("sent {req} {what} session={session} purpose={purpose}")
}

/// A request's outcome: `answered req_3 tokens 200`, `answered req_3 tokens 429
/// retry_after=45s`, `answered req_3 tokens network_error`, `… network_error(committed)`.
pub fn request_done(req: RequestId, endpoint: Endpoint, outcome: &RequestOutcome) -> String {
    let what = match outcome {
        RequestOutcome::Answered { status, retry_after_ms: Some(ms) } => {
            format!("{status} retry_after={}", format_duration(*ms))
        }
        RequestOutcome::Answered { status, retry_after_ms: None } => status.to_string(),
        RequestOutcome::NetworkError { committed: false } => "network_error".into(),
        RequestOutcome::NetworkError { committed: true } => "network_error(committed)".into(),
    };
    format!("answered {req} {} {what}", endpoint.as_str())
}

/// A storage write or deletion as request-level lockstep compares it: `stored client_jwt`,
/// `deleted client_jwt`.
pub fn storage_op(key: StorageKey, written: bool) -> String {
    if written { format!("stored {}", word(&key)) } else { format!("deleted {}", word(&key)) }
}

/// One line of a request-level comparison: `t=00:01:02.345 sent req_3 tokens …`.
pub fn at(ms: u64, line: &str) -> String {
    format!("t={} {line}", format_clock(ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::vocab::{AppState, CallKind, NativeView, Network, Protection, SignOutCause};

    #[test]
    fn words_are_the_scenario_formats_not_debug() {
        assert_eq!(word(&CallKind::GetToken), "get_token");
        assert_eq!(word(&Network::Offline), "offline");
        assert_eq!(word(&AppState::Background), "background");
        assert_eq!(word(&SignOutCause::LocalWipe), "local_wipe");
        assert_eq!(signed_in(None), "undefined");
        assert_eq!(signed_in(Some(false)), "false");
        let mut d = DeviceView {
            running: true,
            app_state: AppState::Active,
            network: Network::Offline,
            protection: Protection::Unlocked,
            storage_readable: true,
            awake: false,
            native: None,
        };
        assert_eq!(device(&d), "running=true app_state=active network=offline");
        d.protection = Protection::BeforeFirstUnlock;
        d.storage_readable = false;
        assert_eq!(
            device(&d),
            "running=true app_state=active network=offline protection=before_first_unlock \
             storage_readable=false"
        );
        d.native = Some(NativeView { session: Some(SessionId(2)), credential: None });
        assert!(
            device(&d).ends_with(" native_session=sess_2 native_credential=none"),
            "{}",
            device(&d)
        );
    }

    #[test]
    fn requests_read_in_the_scenario_words() {
        let sent =
            request_sent(RequestId(3), (Endpoint::Tokens, None), Some(SessionId(1)), "get_token");
        assert_eq!(sent, "sent req_3 tokens session=sess_1 purpose=get_token");
        let limited = RequestOutcome::Answered { status: 429, retry_after_ms: Some(45_000) };
        assert!(
            request_done(RequestId(3), Endpoint::Tokens, &limited).ends_with("429 retry_after=45s")
        );
        let dropped = RequestOutcome::NetworkError { committed: true };
        assert_eq!(
            request_done(RequestId(4), Endpoint::GetClient, &dropped),
            "answered req_4 get_client network_error(committed)"
        );
        assert_eq!(storage_op(StorageKey::ClientJwt, true), "stored client_jwt");
        assert_eq!(storage_op(StorageKey::ClientJwt, false), "deleted client_jwt");
    }
}
