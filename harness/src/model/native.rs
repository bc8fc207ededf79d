//! The native layer of `@clerk/expo` 3.x (clerk-ios / clerk-android behind the `ClerkExpo`
//! TurboModule), written once as part of the device: its keychain items, its own client on
//! the server, and the module's calls (`configure`, `getSession`, `getClientToken`,
//! `signOut`) and native sign-in (`<AuthView>`), on iOS and Android as
//! `shared/reference/clerk-expo-behaviour.md` §6.1–§6.5 records them.
//!
//! Everything that reaches the native layer reaches this file: the model's world, the
//! reference SDK, and an external adapter's `ClerkExpo` stub through the adapter protocol
//! (`sdk/external/`, docs/adapter-protocol.md §11). Each caller passes its own device and
//! server ([`NativeEnv`]); what this file decides — which request the native SDK sends with
//! which token, what it keeps in its keychain, what a call answers — is decided nowhere else
//! (a tidy test checks that neither SDK writes the native keychain keys itself).
//!
//! Timing: a native call settles at the instant it is made. The native SDK's own network
//! requests go straight to the server (no FAPI faults), which applies them at once, and fail
//! while the device is offline or its network hangs. One answer travels for the network's
//! latency: on iOS, the first `Clerk.configure` of a process starts loading the client and
//! does not wait for it, so when `syncTokenState` has wiped the cached client, `configure`
//! resolves before the native session is loaded, and `getSession()` answers none until the
//! `GET /v1/client` answer lands (the seed report's "configure() resolving says nothing about
//! whether the session is loaded"). The real `configure` waits up to 3 s for that session;
//! here it never waits, so the JS layer's own 3 s `getSession()` poll (the 3.x bootstrap,
//! the SDKs' business) decides what the wait would have. On leaving the background the
//! native SDK refreshes its client and the environment by itself ([`NativeLayer::foreground`],
//! called by each caller when the device's app state leaves `background`); its two answers
//! rotate the native copy of the client token apart from JS's, so under a strict reuse policy
//! (`token_reuse` with a short grace, or `revoke_family`) the copy presented later can fall out
//! of the grace. The server's reuse rule decides what that costs; no invariant yet judges a
//! session lost that way apart from a JS-side failure (`server/reuse.rs` counts it as the
//! reuse policy's doing). The 5 s token poll of clerk-ios and clerk-android is not simulated.

use crate::model::device::{Device, Payload};
use crate::model::server::{
    ClientToken, ClientView, FapiReply, FapiRequest, ReplyBody, Server, TEST_USER_IDENTIFIER,
    TEST_USER_PASSWORD,
};
use crate::model::time::VTime;
use crate::model::vocab::{
    DeviceView, Happening, NativeCallName, NativeView, Network, Platform, SessionId, StorageKey,
};

/// The native layer's state in process memory: it survives a JS reload and dies with the
/// process (`clerkConfigured` is a static on iOS; `Clerk.isInitialized` on Android).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct NativeLayer {
    /// iOS `clerkConfigured` / Android `Clerk.isInitialized`.
    pub configured: bool,
    /// Whether the native SDK was ever configured in this process: clerk-ios's
    /// `Clerk.configure` runs once per process (§6.2), so after a native `signOut()` a new
    /// `configure` does not load a client again.
    pub started: bool,
    /// The client token the native SDK last received for its in-memory client (ClerkKit's
    /// `Clerk.shared.client`), which a refresh names.
    pub held: Option<ClientToken>,
    /// The session of the native SDK's in-memory client, if signed in.
    pub session: Option<SessionId>,
    /// `Clerk.configure`'s client load in flight (iOS): the instant its answer lands in
    /// memory and the session it carries. Applied by the first call at or after that instant.
    pub arriving: Option<(VTime, Option<SessionId>)>,
}

/// A call JS makes on the `ClerkExpo` module (3.x TurboModule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NativeCall {
    /// `configure(publishableKey, bearerToken | null)`.
    Configure { token: Option<ClientToken> },
    /// `getSession()`.
    GetSession,
    /// `getClientToken()`.
    GetClientToken,
    /// `signOut()`.
    SignOut,
}

impl NativeCall {
    /// The call as a trace names it.
    pub fn name(&self) -> NativeCallName {
        match self {
            NativeCall::Configure { .. } => NativeCallName::Configure,
            NativeCall::GetSession => NativeCallName::GetSession,
            NativeCall::GetClientToken => NativeCallName::GetClientToken,
            NativeCall::SignOut => NativeCallName::SignOut,
        }
    }
}

/// What a native call resolved with, or the code it rejected with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NativeAnswer {
    /// `configure` and `signOut` resolved.
    Done,
    /// `getSession()`: the native session's id, or none (`nil` / `{}`).
    Session { session: Option<SessionId> },
    /// `getClientToken()`: the native device token, or none.
    ClientToken { token: Option<ClientToken> },
    /// The promise rejected with this code (`E_SIGN_OUT_FAILED`, `E_TIMEOUT`).
    Rejected { code: NativeError },
}

impl NativeAnswer {
    /// The answer in a trace's words: `ok`, `sess_2`, `none`, `client_1 v3`, `E_TIMEOUT`.
    pub fn text(&self) -> String {
        match self {
            NativeAnswer::Done => "ok".into(),
            NativeAnswer::Session { session: Some(s) } => s.to_string(),
            NativeAnswer::Session { session: None } | NativeAnswer::ClientToken { token: None } => {
                "none".into()
            }
            NativeAnswer::ClientToken { token: Some(t) } => {
                format!("client_{} v{}", t.client.0, t.version)
            }
            NativeAnswer::Rejected { code } => code.as_str().into(),
        }
    }
}

/// A native module rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NativeError {
    /// iOS `signOut()`: the session removal failed; the keychain is wiped anyway.
    SignOutFailed,
    /// Android `configure(pk, token)`: no session within its wait.
    Timeout,
}

impl NativeError {
    pub fn as_str(self) -> &'static str {
        match self {
            NativeError::SignOutFailed => "E_SIGN_OUT_FAILED",
            NativeError::Timeout => "E_TIMEOUT",
        }
    }
}

/// What a native call works on: the caller's device (keychain, network, platform) and
/// server, the instant, and the trace the happenings go to.
pub struct NativeEnv<'a> {
    pub device: &'a mut Device,
    pub server: &'a mut Server,
    pub now: VTime,
    /// The network's latency to FAPI (`net.fapi_latency_ms`): how long an answer the native
    /// SDK does not wait for takes to land.
    pub latency_ms: u64,
    /// Which native build runs: today's, or a named variant of an older release's bug.
    pub variant: NativeVariant,
    pub log: &'a mut Vec<Happening>,
}

pub use crate::model::settings::NativeVariant;

/// The module event iOS sends when ClerkKit signs in (`onAuthStateChange`); Android sends
/// none (only `<AuthView>`'s view event, §4).
pub fn emits_auth_events(platform: Platform) -> bool {
    platform == Platform::Ios
}

impl NativeLayer {
    /// One module call from JS, answered at `env.now`.
    pub fn call(&mut self, env: &mut NativeEnv<'_>, call: NativeCall) -> NativeAnswer {
        self.land(env.now);
        let answer = match call {
            NativeCall::Configure { token } => self.configure(env, token),
            NativeCall::GetSession => {
                NativeAnswer::Session { session: self.session.filter(|_| self.configured) }
            }
            // iOS reads the keychain with no `clerkConfigured` check; Android asks
            // `Clerk.getDeviceToken()`, the same stored preference.
            NativeCall::GetClientToken => {
                NativeAnswer::ClientToken { token: stored_token(env.device) }
            }
            NativeCall::SignOut => self.sign_out(env),
        };
        env.log.push(Happening::NativeCalled {
            at: env.now,
            call: call.name(),
            answer: answer.text(),
        });
        answer
    }

    /// The native sign-in UI (`<AuthView>`, ClerkKit's auth flow) completes: the native SDK
    /// signs the test user in on its own client, and logs it. Returns the new session, or
    /// `None` when the flow cannot run (never configured; Android's `presentAuth` refuses a second sign-in;
    /// the request failed).
    pub fn sign_in(&mut self, env: &mut NativeEnv<'_>) -> Option<SessionId> {
        self.land(env.now);
        let session = self.try_sign_in(env);
        env.log.push(Happening::NativeSignedIn { at: env.now, session });
        session
    }

    /// The app leaves the background (iOS `willEnterForeground`, Android's lifecycle owner):
    /// the native SDK refreshes its client and the environment on its own (clerk-ios 1.0.0
    /// `GET /v1/client` then `GET /v1/environment`; clerk-android 1.0.x client and
    /// environment), whatever JS does. Needs a native SDK started in this process (iOS:
    /// `Clerk.configure` ran, even if a native `signOut()` reset `clerkConfigured` since;
    /// Android: `Clerk.isInitialized`). The token check that follows hits ClerkKit's cache
    /// and the 5 s token poll is not simulated.
    pub fn foreground(&mut self, env: &mut NativeEnv<'_>) {
        self.land(env.now);
        let on = match env.device.platform {
            Platform::Ios => self.started,
            Platform::Android => self.configured,
        };
        if !on {
            return;
        }
        self.refresh(env);
        let token = self.presented(env.device);
        let _ = self.request(env, token, &FapiRequest::Environment);
    }

    fn try_sign_in(&mut self, env: &mut NativeEnv<'_>) -> Option<SessionId> {
        // iOS: ClerkKit's UI needs `Clerk.configure` to have run in this process, even if a
        // native `signOut()` reset `clerkConfigured` since; Android: `Clerk.isInitialized`.
        let ready = match env.device.platform {
            Platform::Ios => self.started,
            Platform::Android => self.configured && self.session.is_none(),
        };
        if !ready {
            return None;
        }
        let request = FapiRequest::SignIn {
            identifier: TEST_USER_IDENTIFIER.to_string(),
            password: TEST_USER_PASSWORD.to_string(),
        };
        let token = self.presented(env.device);
        let reply = self.request(env, token, &request)?;
        match reply.body {
            // Only a sign-in that succeeded answers with this body (a refused or faulted
            // one carries an error), so the body alone says it.
            ReplyBody::SignIn { created_session } => {
                self.session = Some(created_session);
                Some(created_session)
            }
            _ => None,
        }
    }

    /// The native layer as the environment sees it now: the session `getSession()` would
    /// answer, and the signed-in session its keychain's device token would restore (the
    /// latest of its client's, if the server honours the token). `layers-agree` and
    /// `one-writer-per-credential` read it.
    pub fn view(&self, device: &Device, server: &Server) -> NativeView {
        let credential = server
            .resolve_client(stored_token(device))
            .and_then(|id| server.client(id))
            .and_then(|c| {
                c.sessions
                    .iter()
                    .rev()
                    .copied()
                    .find(|s| server.session(*s).is_some_and(|s| s.status.is_signed_in()))
            });
        NativeView { session: self.session.filter(|_| self.configured), credential }
    }

    /// The device's view with this layer in it, when the setup has the native module (every
    /// SDK port observes the device through here).
    pub fn device_view(&self, device: &Device, server: &Server, native: bool) -> DeviceView {
        DeviceView { native: native.then(|| self.view(device, server)), ..device.view() }
    }

    /// The process ends: the native layer's memory goes with it; its keychain stays.
    pub fn process_ended(&mut self) {
        *self = NativeLayer::default();
    }

    /// The in-flight client load lands if its instant has come: ClerkKit's in-memory client
    /// (and session) is its answer, even after a native `signOut()` in between, which wipes
    /// the keychain but not memory.
    fn land(&mut self, now: VTime) {
        if let Some((at, session)) = self.arriving
            && at <= now
        {
            self.session = session;
            self.arriving = None;
        }
    }

    fn configure(&mut self, env: &mut NativeEnv<'_>, token: Option<ClientToken>) -> NativeAnswer {
        match env.device.platform {
            Platform::Ios => {
                // `syncTokenState(t)`: a token that differs from the keychain's clears the
                // cached client and environment (`clearCachedClerkData`).
                let mut wiped = false;
                if let Some(t) = token {
                    let existing = stored_token(env.device);
                    write_key(env, StorageKey::NativeDeviceToken, Payload::ClientToken(t));
                    if existing != Some(t) {
                        delete_key(env, StorageKey::NativeCachedClient);
                        wiped = true;
                    }
                }
                if self.configured && token.is_some() {
                    // `try? await Clerk.shared.refreshClient()`: the in-memory client.
                    self.refresh(env);
                    return NativeAnswer::Done;
                }
                self.configured = true;
                if !self.started {
                    // `Clerk.configure`: the keychain's cached client at once, then
                    // `GET /v1/client` with the keychain's device token.
                    self.started = true;
                    self.session = cached_session(env.device);
                    let presented = stored_token(env.device);
                    let before = self.session;
                    self.fetch_client(env, presented);
                    if before.is_none() && self.session.is_some() {
                        // No cached session (a first launch, or the wipe above): the answer
                        // is in flight when `configure` resolves, and lands after the latency
                        // (never, on the seed report's build, after a wipe).
                        let lost = wiped && env.variant == NativeVariant::WipedClientNeverLoads;
                        if !lost {
                            self.arriving = Some((env.now.plus(env.latency_ms), self.session));
                        }
                        self.session = None;
                    }
                }
                // A second `Clerk.configure` in the same process is refused ("Configure can
                // only be called once"): ClerkKit keeps its in-memory client.
                NativeAnswer::Done
            }
            Platform::Android => {
                if self.configured {
                    // `Clerk.updateDeviceToken(t)`: save, then refresh the client with it.
                    if let Some(t) = token {
                        write_key(env, StorageKey::NativeDeviceToken, Payload::ClientToken(t));
                        self.fetch_client(env, Some(t));
                    }
                    return NativeAnswer::Done;
                }
                if let Some(t) = token {
                    write_key(env, StorageKey::NativeDeviceToken, Payload::ClientToken(t));
                }
                self.configured = true;
                self.started = true;
                let presented = stored_token(env.device);
                self.fetch_client(env, presented);
                // With a token, `configure` waits for a session and rejects when none comes
                // (also when the token names a signed-out client).
                if token.is_some() && self.session.is_none() {
                    return NativeAnswer::Rejected { code: NativeError::Timeout };
                }
                NativeAnswer::Done
            }
        }
    }

    fn sign_out(&mut self, env: &mut NativeEnv<'_>) -> NativeAnswer {
        match env.device.platform {
            Platform::Ios => {
                if !self.configured {
                    return NativeAnswer::Done;
                }
                let mut failed = false;
                if let Some(sid) = self.session {
                    let token = self.presented(env.device);
                    failed = self
                        .request(env, token, &FapiRequest::Remove { sid })
                        .is_none_or(|r| !r.is_ok());
                }
                // `defer { Clerk.clearAllKeychainItems() }`: the wipe happens either way; the
                // in-memory client stays.
                delete_key(env, StorageKey::NativeDeviceToken);
                delete_key(env, StorageKey::NativeCachedClient);
                if failed {
                    // The error propagates before `clerkConfigured = false`.
                    return NativeAnswer::Rejected { code: NativeError::SignOutFailed };
                }
                self.session = None;
                self.configured = false;
                NativeAnswer::Done
            }
            Platform::Android => {
                if !self.configured {
                    delete_key(env, StorageKey::NativeDeviceToken);
                    return NativeAnswer::Done;
                }
                if let Some(sid) = self.session {
                    let token = self.presented(env.device);
                    let _ = self.request(env, token, &FapiRequest::Remove { sid });
                }
                // `SignOutService`: always forget the device token and the session, then
                // `GET /v1/client` without a client: a new anonymous native client.
                delete_key(env, StorageKey::NativeDeviceToken);
                self.session = None;
                self.held = None;
                self.fetch_client(env, None);
                NativeAnswer::Done
            }
        }
    }

    /// `refreshClient()` of clerk-ios: `GET /v1/client` for the in-memory client (the
    /// `x-clerk-client-id` it sends names it), else with the keychain's token.
    fn refresh(&mut self, env: &mut NativeEnv<'_>) {
        // ClerkKit's request middleware reads `clerkDeviceToken` on every request, so the
        // refresh presents what `syncTokenState` just wrote, not the in-memory client's token
        // (fuzz case seed 0xc49275d9df432336: a held token 70 rotations old got a new empty
        // client that overwrote the device token).
        let token = match env.variant {
            NativeVariant::Current | NativeVariant::WipedClientNeverLoads => {
                self.presented(env.device)
            }
            NativeVariant::StaleTokenRefresh => self.held.or_else(|| stored_token(env.device)),
        };
        self.fetch_client(env, token);
    }

    /// `GET /v1/client` with `token`: the answer becomes the in-memory client and, on iOS,
    /// the keychain's cached client.
    fn fetch_client(&mut self, env: &mut NativeEnv<'_>, token: Option<ClientToken>) {
        let Some(reply) = self.request(env, token, &FapiRequest::GetClient) else {
            return;
        };
        let ok = reply.is_ok();
        if let Some(view) = reply.client.filter(|_| ok) {
            // An answer awaited now supersedes one still in flight.
            self.arriving = None;
            self.session = signed_in_session(&view);
        }
    }

    /// The token a native request carries: the keychain's (ClerkKit and clerk-android read
    /// it on every request, and send none when the item is gone, whatever client is in
    /// memory: fuzz case seed 0x561dc22f5b30eecb, a native sign-in after a failed native
    /// sign-out wiped the keychain).
    fn presented(&self, device: &Device) -> Option<ClientToken> {
        stored_token(device)
    }

    /// One request of the native SDK, straight to the server: `None` is a network error.
    /// The rotated token in the answer's `Authorization` header is saved to the keychain.
    fn request(
        &mut self,
        env: &mut NativeEnv<'_>,
        token: Option<ClientToken>,
        request: &FapiRequest,
    ) -> Option<FapiReply> {
        let endpoint = request.endpoint();
        if env.device.network != Network::Online {
            env.log.push(Happening::NativeRequest { at: env.now, endpoint, status: 0 });
            return None;
        }
        let reply = env.server.handle(token, request, env.now);
        env.log.push(Happening::NativeRequest { at: env.now, endpoint, status: reply.status });
        if let Some(next) = reply.client_token {
            self.held = Some(next);
            write_key(env, StorageKey::NativeDeviceToken, Payload::ClientToken(next));
        }
        // clerk-ios persists every client an answer carries to `cachedClient` (§6.3).
        if env.device.platform == Platform::Ios
            && reply.is_ok()
            && let Some(view) = &reply.client
        {
            write_key(env, StorageKey::NativeCachedClient, Payload::Client(view.clone().into()));
        }
        Some(reply)
    }
}

fn stored_token(device: &Device) -> Option<ClientToken> {
    device.client_token(StorageKey::NativeDeviceToken)
}

fn cached_session(device: &Device) -> Option<SessionId> {
    device
        .read_with(StorageKey::NativeCachedClient, |p, _| match p {
            Payload::Client(view) => signed_in_session(view),
            _ => None,
        })
        .flatten()
}

/// The session a client answer makes current for the native SDK: its last active one, if
/// still signed in.
fn signed_in_session(view: &ClientView) -> Option<SessionId> {
    let last = view.last_active_session?;
    view.sessions.iter().find(|s| s.id == last && s.status.is_signed_in()).map(|s| s.id)
}

/// A native keychain write (the native SDK's own items; no SDK storage fault reaches them).
fn write_key(env: &mut NativeEnv<'_>, key: StorageKey, payload: Payload) {
    let len = payload.len();
    let digest = payload.digest();
    if env.device.digest(key) == Some(digest) {
        return;
    }
    let stored_digest = env.device.write_native(key, payload);
    env.log.push(Happening::StorageWritten {
        at: env.now,
        key,
        len,
        digest,
        stored_digest,
        credential: false,
    });
}

fn delete_key(env: &mut NativeEnv<'_>, key: StorageKey) {
    if env.device.delete(key) {
        env.log.push(Happening::StorageDeleted { at: env.now, key });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::settings::InstanceSettings;

    const LATENCY_MS: u64 = 50;

    fn env<'a>(
        device: &'a mut Device,
        server: &'a mut Server,
        now: u64,
        log: &'a mut Vec<Happening>,
    ) -> NativeEnv<'a> {
        NativeEnv {
            device,
            server,
            now: VTime(now),
            latency_ms: LATENCY_MS,
            variant: NativeVariant::Current,
            log,
        }
    }

    /// An iOS device and its server after a native sign-in and the end of the process: the
    /// keychain keeps the native token and a cached client that carries the session.
    fn signed_in_then_killed() -> (Device, Server, SessionId, ClientToken) {
        let mut device = Device::new(Platform::Ios);
        let mut server = Server::new(InstanceSettings::default());
        let mut log = Vec::new();
        let mut layer = NativeLayer::default();
        layer.call(
            &mut env(&mut device, &mut server, 0, &mut log),
            NativeCall::Configure { token: None },
        );
        let sid =
            layer.sign_in(&mut env(&mut device, &mut server, 10, &mut log)).expect("signed in");
        assert_eq!(cached_session(&device), Some(sid), "the sign-in answer is cached");
        let native = stored_token(&device).expect("a native token");
        (device, server, sid, native)
    }

    #[test]
    fn leaving_the_background_refreshes_a_started_native_sdk_with_its_stored_token() {
        let (mut device, mut server, sid, native) = signed_in_then_killed();
        let mut log = Vec::new();
        let mut layer = NativeLayer::default();
        // A process where ClerkKit never started: the foreground sends nothing.
        layer.foreground(&mut env(&mut device, &mut server, 1_000, &mut log));
        assert!(log.iter().all(|h| !matches!(h, Happening::NativeRequest { .. })));
        layer.call(
            &mut env(&mut device, &mut server, 2_000, &mut log),
            NativeCall::Configure { token: Some(native) },
        );
        let before = stored_token(&device).expect("stored");
        log.clear();
        layer.foreground(&mut env(&mut device, &mut server, 60_000, &mut log));
        use crate::model::vocab::Endpoint;
        let sent: Vec<Endpoint> = log
            .iter()
            .filter_map(|h| match h {
                Happening::NativeRequest { endpoint, status: 200, .. } => Some(*endpoint),
                _ => None,
            })
            .collect();
        assert_eq!(sent, [Endpoint::GetClient, Endpoint::Environment]);
        let after = stored_token(&device).expect("still stored");
        assert_eq!(after.client, before.client, "the same client");
        assert!(after.version > before.version, "the answers rotated the stored token");
        let session = layer
            .call(&mut env(&mut device, &mut server, 60_000, &mut log), NativeCall::GetSession);
        assert_eq!(session, NativeAnswer::Session { session: Some(sid) });
    }

    #[test]
    fn a_token_mismatch_on_ios_makes_configure_resolve_before_the_session_loads() {
        let (mut device, mut server, sid, native) = signed_in_then_killed();
        let mut log = Vec::new();
        let mut layer = NativeLayer::default();
        // JS holds an older token of the same client: `syncTokenState` wipes the cache.
        let js = ClientToken { version: native.version - 1, ..native };
        let answer = layer.call(
            &mut env(&mut device, &mut server, 1_000, &mut log),
            NativeCall::Configure { token: Some(js) },
        );
        assert_eq!(answer, NativeAnswer::Done);
        let early =
            layer.call(&mut env(&mut device, &mut server, 1_000, &mut log), NativeCall::GetSession);
        assert_eq!(early, NativeAnswer::Session { session: None }, "configure resolved first");
        let before = layer.call(
            &mut env(&mut device, &mut server, 1_000 + LATENCY_MS - 1, &mut log),
            NativeCall::GetSession,
        );
        assert_eq!(before, NativeAnswer::Session { session: None });
        let landed = layer.call(
            &mut env(&mut device, &mut server, 1_000 + LATENCY_MS, &mut log),
            NativeCall::GetSession,
        );
        assert_eq!(landed, NativeAnswer::Session { session: Some(sid) }, "the answer landed");
    }

    #[test]
    fn on_the_seed_reports_build_a_wiped_client_never_loads() {
        let (mut device, mut server, sid, native) = signed_in_then_killed();
        let mut log = Vec::new();
        let mut layer = NativeLayer::default();
        let js = ClientToken { version: native.version - 1, ..native };
        let mut buggy = |device: &mut Device, server: &mut Server, at: u64, call| {
            let mut e = env(device, server, at, &mut log);
            e.variant = NativeVariant::WipedClientNeverLoads;
            layer.call(&mut e, call)
        };
        buggy(&mut device, &mut server, 1_000, NativeCall::Configure { token: Some(js) });
        // Long after the round trip, and after the JS poll's 3 s, still no session.
        let later = buggy(&mut device, &mut server, 60_000, NativeCall::GetSession);
        assert_eq!(later, NativeAnswer::Session { session: None }, "the load never landed");
        let status = server.status_of(sid, VTime(60_000));
        assert_eq!(status, Some(crate::model::vocab::SessionStatus::Active), "the server kept it");
        // Without a wipe the same build restores from its cache at once.
        let (mut device, mut server, sid, native) = signed_in_then_killed();
        let mut layer = NativeLayer::default();
        let mut log = Vec::new();
        let mut e = env(&mut device, &mut server, 1_000, &mut log);
        e.variant = NativeVariant::WipedClientNeverLoads;
        layer.call(&mut e, NativeCall::Configure { token: Some(native) });
        let now = layer.call(&mut e, NativeCall::GetSession);
        assert_eq!(now, NativeAnswer::Session { session: Some(sid) });
    }

    #[test]
    fn the_same_token_keeps_the_cache_and_the_session_is_there_at_once() {
        let (mut device, mut server, sid, native) = signed_in_then_killed();
        let mut log = Vec::new();
        let mut layer = NativeLayer::default();
        layer.call(
            &mut env(&mut device, &mut server, 1_000, &mut log),
            NativeCall::Configure { token: Some(native) },
        );
        let now =
            layer.call(&mut env(&mut device, &mut server, 1_000, &mut log), NativeCall::GetSession);
        assert_eq!(now, NativeAnswer::Session { session: Some(sid) });
    }

    #[test]
    fn a_sign_out_before_the_answer_lands_removes_nothing_and_the_answer_still_lands() {
        let (mut device, mut server, sid, native) = signed_in_then_killed();
        let mut log = Vec::new();
        let mut layer = NativeLayer::default();
        let js = ClientToken { version: native.version - 1, ..native };
        layer.call(
            &mut env(&mut device, &mut server, 1_000, &mut log),
            NativeCall::Configure { token: Some(js) },
        );
        layer.call(&mut env(&mut device, &mut server, 1_010, &mut log), NativeCall::SignOut);
        assert!(
            !log.iter().any(|h| matches!(h, Happening::NativeRequest { endpoint, .. }
                if endpoint.as_str() == "remove")),
            "no session was loaded, so none was removed: {log:?}"
        );
        assert!(server.session(sid).is_some_and(|s| s.status.is_signed_in()));
        // ClerkKit's in-memory client still takes the answer; `getSession` needs a new
        // `configure` (which finds the process's ClerkKit already configured).
        let t = 1_000 + LATENCY_MS;
        assert_eq!(
            layer.call(&mut env(&mut device, &mut server, t, &mut log), NativeCall::GetSession),
            NativeAnswer::Session { session: None }
        );
        layer.call(
            &mut env(&mut device, &mut server, t, &mut log),
            NativeCall::Configure { token: None },
        );
        assert_eq!(
            layer.call(&mut env(&mut device, &mut server, t, &mut log), NativeCall::GetSession),
            NativeAnswer::Session { session: Some(sid) }
        );
    }
}
