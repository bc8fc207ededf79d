//! Turning an adapter's report into the harness's happenings (docs/adapter-protocol.md §6).
//!
//! - tokens: every JWT an adapter reports is verified against the emulator's key and decoded
//!   claim by claim into a [`TokenInfo`]; a JWT the emulator did not sign is garbled output;
//! - requests: FAPI requests get the harness's [`RequestId`]s in the order the adapter sent
//!   them across the whole run, as the model numbers them; endpoint and session come from
//!   the URL (offline requests never reach the emulator), outcome and injected fault from the
//!   emulator's log entry with the same `x-harness-request` tag. Backend requests are not
//!   numbered: they are reported as `backend_hit`;
//! - storage: writes and deletions are applied to the harness's storage in order and
//!   annotated as the reference SDK annotates them (length, digest, whether the value would
//!   restore a signed-in session); reads carry the digest of what the harness holds;
//! - renders: only real changes of the view are kept.

use crate::fapi::decode::{self, Route as FapiRoute, Tail};
use crate::fapi::lock;
use crate::model::device::Payload;
use crate::model::server::mix64;
use crate::model::settings::TokenCacheKind;
use crate::model::time::VTime;
use crate::model::vocab::{
    CallId, CallResult, Happening, RequestId, RequestOutcome, SessionId, StorageKey, TemplateName,
    TokenInfo,
};
use crate::sdk::env;
use crate::sdk::port::PortError;

use super::protocol::{AdapterHappening, AdapterObs, AdapterResult};
use super::{ExternalSdk, Sent};

impl ExternalSdk {
    /// Absorbs one reply's observation: happenings into `out`, then the view, counters, the
    /// next call id and the clock (which must read `target`).
    pub(super) fn absorb(
        &mut self,
        obs: AdapterObs,
        next_call: u32,
        target: VTime,
        what: &str,
        out: &mut Vec<Happening>,
    ) -> Result<(), PortError> {
        if obs.now_ms != target.ms() {
            return Err(self.err_garbled(format!(
                "after `{what}` the adapter's clock reads {} ms, expected {} ms",
                obs.now_ms,
                target.ms()
            )));
        }
        let call_base = self.next_call;
        if next_call < call_base {
            return Err(self.err_garbled(format!(
                "after `{what}` next_call is {next_call}, below call_base {call_base}"
            )));
        }
        for entry in self.fapi.drain_log() {
            if let Some(tag) = entry.tag.clone() {
                self.tagged.insert(tag, entry);
            }
        }
        let run = self.running.as_ref().map(|r| r.run).unwrap_or(0);
        let start = self.now;
        for h in obs.happenings {
            let at = VTime(happening_at(&h));
            if at < start || at > target {
                return Err(self.err_garbled(format!(
                    "a `{}` happening at {} ms, outside `{what}` ({} ..= {} ms)",
                    happening_name(&h),
                    at.ms(),
                    start.ms(),
                    target.ms()
                )));
            }
            self.convert(h, at, run, (call_base, next_call), out)?;
        }
        let view = obs.view.to_view().map_err(|e| self.err_garbled(format!("`view`: {e}")))?;
        self.view = view;
        self.reported_open_calls = obs.open_calls;
        self.in_flight = obs.in_flight;
        self.next_call = next_call;
        self.now = target;
        Ok(())
    }

    fn convert(
        &mut self,
        h: AdapterHappening,
        at: VTime,
        run: u32,
        (call_base, next_call): (u32, u32),
        out: &mut Vec<Happening>,
    ) -> Result<(), PortError> {
        match h {
            AdapterHappening::Rendered { view, .. } => {
                let view =
                    view.to_view().map_err(|e| self.err_garbled(format!("`rendered`: {e}")))?;
                if view != self.view {
                    out.push(Happening::Rendered { at, view: view.clone() });
                    self.view = view;
                }
            }
            AdapterHappening::CallStarted { call, kind, .. } => {
                if call < call_base || call >= next_call {
                    return Err(self.err_garbled(format!(
                        "call {call} ({kind:?}) started outside the ids this request could \
                         give ({call_base} ..< {next_call})"
                    )));
                }
                self.open_calls.insert(CallId(call), kind);
                out.push(Happening::CallStarted { at, call: CallId(call), kind, instance: 0 });
            }
            AdapterHappening::CallSettled { call, kind, result, .. } => {
                let result = match result {
                    AdapterResult::Token { jwt } => {
                        CallResult::Token { token: self.decode_jwt(&jwt, "call_settled")? }
                    }
                    AdapterResult::Null => CallResult::Null,
                    AdapterResult::Ok => CallResult::Ok,
                    AdapterResult::Error { status, code } => CallResult::Error { status, code },
                };
                self.open_calls.remove(&CallId(call));
                out.push(Happening::CallSettled { at, call: CallId(call), kind, result });
            }
            AdapterHappening::RequestSent { req, method, url, call, .. } => {
                if self.sent.contains_key(&(run, req)) {
                    return Err(self.err_garbled(format!("request {req} was sent twice")));
                }
                let (path, query) = split_url(&url);
                let query = decode::parse_query(query);
                let routed = if path.starts_with(crate::backend::API_PREFIX) {
                    None
                } else {
                    match decode::route(&method, path, &query) {
                        Ok(FapiRoute::Fapi { endpoint, tail, .. }) => Some((endpoint, tail)),
                        _ => None,
                    }
                };
                match routed {
                    None => {
                        self.sent.insert((run, req), Sent::Other);
                    }
                    Some((endpoint, tail)) => {
                        let id = RequestId(self.next_request);
                        self.next_request += 1;
                        self.sent.insert((run, req), Sent::Fapi(id, endpoint));
                        let sid = tail.session().and_then(SessionId::parse);
                        // A name no template could have reaches the emulator as sent and is
                        // answered 404 there; the request is then the session's, no template's.
                        let template = match &tail {
                            Tail::Template(_, name) => TemplateName::parse(name).ok(),
                            _ => None,
                        };
                        out.push(Happening::RequestSent {
                            at,
                            req: id,
                            endpoint,
                            call: call.map(CallId),
                            sid,
                            template,
                            instance: 0,
                        });
                    }
                }
            }
            AdapterHappening::RequestDone { req, status, network_error, .. } => {
                let Some(sent) = self.sent.remove(&(run, req)) else {
                    return Err(self.err_garbled(format!(
                        "request_done for request {req}, which was never sent (or done twice)"
                    )));
                };
                let Sent::Fapi(id, endpoint) = sent else {
                    return Ok(());
                };
                let tag = format!("{run}/{req}");
                let logged = self.tagged.remove(&tag);
                let (outcome, fault) = match (&logged, status, network_error) {
                    (_, Some(_), true) | (_, None, false) => {
                        return Err(self.err_garbled(format!(
                            "request_done for request {req} needs exactly one of `status` and \
                             `network_error: true`"
                        )));
                    }
                    (None, None, true) => {
                        // Never reached the emulator: offline, or refused before sending.
                        (RequestOutcome::NetworkError { committed: false }, None)
                    }
                    (None, Some(status), false) => {
                        return Err(self.err_garbled(format!(
                            "request {req} answered HTTP {status}, but the emulator never saw \
                             a request tagged `{tag}` (is `x-harness-request` sent, and the \
                             `fapi_url` used?)"
                        )));
                    }
                    (Some(entry), Some(status), false) => {
                        if entry.outcome.status() != Some(status) {
                            return Err(self.err_garbled(format!(
                                "request {req} answered HTTP {status}, but the emulator's log \
                                 says {:?}",
                                entry.outcome
                            )));
                        }
                        (entry.outcome, entry.fault)
                    }
                    (Some(entry), None, true) => match entry.outcome {
                        RequestOutcome::NetworkError { .. } => (entry.outcome, entry.fault),
                        // The server answered but the SDK saw a failure: it committed.
                        RequestOutcome::Answered { .. } => {
                            (RequestOutcome::NetworkError { committed: true }, entry.fault)
                        }
                    },
                };
                // A memory token cache holds what the latest answer carried (the adapter does
                // not report it: nothing is stored).
                if self.setup.sdk.token_cache == TokenCacheKind::Memory
                    && let Some(issued) = logged.as_ref().and_then(|e| e.issued.clone())
                {
                    self.memory_token = Some(issued);
                }
                // Latency is not an outcome: the model leaves it out of `request_done` too.
                let fault =
                    fault.filter(|f| !matches!(f, crate::model::vocab::FaultKind::Latency { .. }));
                out.push(Happening::RequestDone { at, req: id, endpoint, outcome, fault });
            }
            AdapterHappening::BackendHit { call, attempt, sent_at, jwt, status, .. } => {
                let token = match jwt.as_deref() {
                    None | Some("") => None,
                    Some(jwt) => Some(self.decode_jwt(jwt, "backend_hit")?),
                };
                out.push(Happening::BackendHit {
                    at,
                    sent_at: VTime(sent_at),
                    call: CallId(call),
                    attempt,
                    token,
                    status,
                });
            }
            AdapterHappening::RetryScheduled { call, delay_ms, retry_after_ms, .. } => {
                out.push(Happening::RetryScheduled {
                    at,
                    call: CallId(call),
                    delay_ms,
                    retry_after_ms,
                });
            }
            AdapterHappening::StorageWritten { key, value, .. } => {
                self.storage_written(at, key, value, out);
            }
            AdapterHappening::StorageRead { key, .. } => {
                if let Some(key) = storage_key(&key) {
                    let digest = self.storage.get(key.as_str()).map(|v| digest(key, v));
                    out.push(Happening::StorageRead { at, key, digest });
                }
            }
            AdapterHappening::StorageDeleted { key, .. } => {
                let existed = self.storage.remove(&key).is_some();
                if let Some(key) = storage_key(&key)
                    && existed
                {
                    out.push(Happening::StorageDeleted { at, key });
                }
            }
            AdapterHappening::SignedOut { cause, server_revoke, .. } => {
                out.push(Happening::SignedOut { at, cause, server_revoke });
            }
        }
        Ok(())
    }

    fn storage_written(&mut self, at: VTime, key: String, value: String, out: &mut Vec<Happening>) {
        // A write is a write, whatever token cache the SDK's client uses: with
        // `token_cache: memory` an adapter reports none of its memory cache (§6), so a
        // reported client JWT is one the package put into SecureStore itself (@clerk/expo 3.x
        // saves the native client token into `tokenCache ?? defaultTokenCache`, the secure
        // store, which its memory-cached client never reads).
        let known = storage_key(&key);
        let Some(storage_key) = known else {
            // A key the harness has no name for: persisted, not reported.
            self.storage.insert(key, value);
            return;
        };
        let digest = digest(storage_key, &value);
        let credential = self.credential(storage_key, &value);
        let len = value.len() as u32;
        self.storage.insert(key, value);
        out.push(Happening::StorageWritten {
            at,
            key: storage_key,
            len,
            digest,
            // The harness's store keeps whole strings: what it holds is what was written.
            stored_digest: digest,
            credential,
        });
    }

    /// Whether a stored value would restore a signed-in session, as the reference SDK
    /// annotates its writes.
    fn credential(&self, key: StorageKey, value: &str) -> bool {
        match key {
            StorageKey::ClientJwt | StorageKey::NativeDeviceToken => {
                let token = decode::client_token(Some(value));
                env::token_restores(&lock(self.fapi.server()), token)
            }
            StorageKey::CachedSessionJwt => !value.is_empty(),
            StorageKey::CachedClient | StorageKey::NativeCachedClient => {
                serde_json::from_str::<serde_json::Value>(value)
                    .is_ok_and(|v| holds_signed_in_session(&v))
            }
            StorageKey::CachedEnvironment => false,
        }
    }

    /// A JWT the emulator signed, decoded claim by claim.
    fn decode_jwt(&self, jwt: &str, what: &str) -> Result<TokenInfo, PortError> {
        self.fapi.verifier().verify_signature(jwt).map(|v| v.info).map_err(|e| {
            self.err_garbled(format!(
                "`{what}` carries a token the emulator did not sign ({e}): {}",
                super::protocol::quote(jwt)
            ))
        })
    }
}

/// Path and query of a URL (`http://127.0.0.1:4000/v1/client?_is_native=1`).
fn split_url(url: &str) -> (&str, &str) {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            after.find('/').map(|j| &after[j..]).unwrap_or("/")
        }
        None => url,
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    match rest.split_once('?') {
        Some((path, query)) => (path, query),
        None => (rest, ""),
    }
}

fn storage_key(key: &str) -> Option<StorageKey> {
    [
        StorageKey::ClientJwt,
        StorageKey::CachedClient,
        StorageKey::CachedEnvironment,
        StorageKey::CachedSessionJwt,
        StorageKey::NativeDeviceToken,
        StorageKey::NativeCachedClient,
    ]
    .into_iter()
    .find(|k| k.as_str() == key)
}

/// A stable digest of a stored string: a client token's as the model computes it, so the
/// two agree; any other value's bytes.
fn digest(key: StorageKey, value: &str) -> u64 {
    if key == StorageKey::ClientJwt
        && let Some(token) = decode::client_token(Some(value))
    {
        return Payload::ClientToken(token).digest();
    }
    value.bytes().fold(mix64(0x5eed ^ value.len() as u64), |h, b| mix64(h ^ b as u64))
}

/// Whether a cached client snapshot (JSON) holds a session that is `active` or `pending`.
fn holds_signed_in_session(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            let here = map.get("sessions").and_then(|s| s.as_array()).is_some_and(|sessions| {
                sessions.iter().any(|s| {
                    matches!(s.get("status").and_then(|t| t.as_str()), Some("active" | "pending"))
                })
            });
            here || map.values().any(holds_signed_in_session)
        }
        serde_json::Value::Array(items) => items.iter().any(holds_signed_in_session),
        _ => false,
    }
}

fn happening_at(h: &AdapterHappening) -> u64 {
    match h {
        AdapterHappening::Rendered { at, .. }
        | AdapterHappening::CallStarted { at, .. }
        | AdapterHappening::CallSettled { at, .. }
        | AdapterHappening::RequestSent { at, .. }
        | AdapterHappening::RequestDone { at, .. }
        | AdapterHappening::BackendHit { at, .. }
        | AdapterHappening::RetryScheduled { at, .. }
        | AdapterHappening::StorageWritten { at, .. }
        | AdapterHappening::StorageRead { at, .. }
        | AdapterHappening::StorageDeleted { at, .. }
        | AdapterHappening::SignedOut { at, .. } => *at,
    }
}

fn happening_name(h: &AdapterHappening) -> &'static str {
    match h {
        AdapterHappening::Rendered { .. } => "rendered",
        AdapterHappening::CallStarted { .. } => "call_started",
        AdapterHappening::CallSettled { .. } => "call_settled",
        AdapterHappening::RequestSent { .. } => "request_sent",
        AdapterHappening::RequestDone { .. } => "request_done",
        AdapterHappening::BackendHit { .. } => "backend_hit",
        AdapterHappening::RetryScheduled { .. } => "retry_scheduled",
        AdapterHappening::StorageWritten { .. } => "storage_written",
        AdapterHappening::StorageRead { .. } => "storage_read",
        AdapterHappening::StorageDeleted { .. } => "storage_deleted",
        AdapterHappening::SignedOut { .. } => "signed_out",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_path_and_query() {
        assert_eq!(
            split_url("http://127.0.0.1:4000/v1/client?_is_native=1"),
            ("/v1/client", "_is_native=1")
        );
        assert_eq!(split_url("http://127.0.0.1:4000"), ("/", ""));
        assert_eq!(split_url("/api/orders#x"), ("/api/orders", ""));
    }

    #[test]
    fn cached_clients_count_as_credentials_only_with_a_live_session() {
        let live = serde_json::json!({"client": {"sessions": [{"status": "ended"}, {"status": "active"}]}});
        let dead = serde_json::json!({"sessions": [{"status": "revoked"}]});
        assert!(holds_signed_in_session(&live));
        assert!(!holds_signed_in_session(&dead));
        assert_ne!(
            digest(StorageKey::CachedEnvironment, "a"),
            digest(StorageKey::CachedEnvironment, "b")
        );
    }
}
