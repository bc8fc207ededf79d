//! Secure storage as the SDK uses it: the client token (held in memory or persisted, chunked
//! on iOS), the resource cache's records, and the happenings every read, write and delete
//! leaves. Mirrors `model/world/storage.rs`.

use crate::fapi::lock;
use crate::model::device::{Device, Payload};
use crate::model::server::{ClientToken, EnvironmentView};
use crate::model::settings::TokenCacheKind;
use crate::model::token_cache::{self, CredentialRead, OnFailure, ReadRules};
use crate::model::vocab::{Defect, Happening, StorageKey};
use crate::sdk::env;

use super::{Core, Slot};

impl Core {
    /// The client token the device holds: what the next request carries.
    pub(super) fn held_client_token(&self) -> Option<ClientToken> {
        // `memory-only-tokens`: the app's token cache answers from memory only.
        if self.setup.sdk.token_cache == TokenCacheKind::Memory
            || self.has(Defect::MemoryOnlyTokens)
        {
            return self.rt.borrow().memory_token.filter(|_| self.device.borrow().running);
        }
        if self.read_rules().memory_first {
            let memory = self.rt.borrow().memory_token.filter(|_| self.device.borrow().running);
            return memory.or_else(|| self.persisted_client_token());
        }
        self.persisted_client_token()
    }

    pub(super) fn persisted_client_token(&self) -> Option<ClientToken> {
        self.device.borrow().client_token(StorageKey::ClientJwt)
    }

    pub(super) fn store_client_token(&self, token: ClientToken, authoritative: bool) {
        if self.rules.keeps_newest_client_token
            && let Some(held) = self.held_client_token()
        {
            let older = held.client == token.client
                && (held.epoch > token.epoch
                    || (held.epoch == token.epoch && held.version >= token.version));
            if older || (held.client != token.client && !authoritative) {
                return;
            }
        }
        self.rt.borrow_mut().memory_token = Some(token);
        if self.setup.sdk.token_cache == TokenCacheKind::SecureStore {
            self.write_storage(StorageKey::ClientJwt, Payload::ClientToken(token));
        }
    }

    /// Whether a stored value can restore a signed-in session: the environment's annotation.
    pub(super) fn credential(&self, payload: &Payload) -> bool {
        match payload {
            Payload::ClientToken(t) => env::token_restores(&lock(self.fapi.server()), Some(*t)),
            Payload::Client(view) => self.pick_session(view, None).is_some(),
            Payload::SessionJwt(_) => true,
            Payload::Environment | Payload::Corrupt => false,
        }
    }

    pub(super) fn write_storage(&self, key: StorageKey, payload: Payload) {
        let digest = payload.digest();
        if self.device.borrow().digest(key) == Some(digest) {
            return;
        }
        let len = payload.len();
        let credential = self.credential(&payload);
        // `securestore-truncation`: whole values, cut at 2048 bytes on iOS.
        let raw = self.has(Defect::SecurestoreTruncation);
        let now = self.now();
        let stored =
            self.on_device(|d, log| token_cache::write_item(d, key, payload, raw, now, log));
        let Some(stored_digest) = stored else { return };
        self.log(Happening::StorageWritten {
            at: self.now(),
            key,
            len,
            digest,
            stored_digest,
            credential,
        });
    }

    pub(super) fn delete_storage(&self, key: StorageKey) {
        let now = self.now();
        self.on_device(|d, log| token_cache::delete_item(d, key, now, log));
    }

    /// A storage operation on the device, its happenings logged in order.
    fn on_device<T>(&self, op: impl FnOnce(&mut Device, &mut Vec<Happening>) -> T) -> T {
        let mut log = Vec::new();
        let out = op(&mut self.device.borrow_mut(), &mut log);
        log.into_iter().for_each(|h| self.log(h));
        out
    }

    /// The token cache's read rules: the profile's, bent by the storage defects.
    pub(super) fn read_rules(&self) -> ReadRules {
        let mut rules = ReadRules::of(self.rules);
        // `token-cache-deletes-on-read-error`: `@clerk/expo`'s `catch { deleteItemAsync }`.
        if self.has(Defect::TokenCacheDeletesOnReadError) {
            rules.memory_first = false;
            rules.on_transient = OnFailure::DeleteAndSendNone;
            rules.on_permanent = OnFailure::DeleteAndSendNone;
        }
        // `locked-read-as-absent`: `catch { return null }`.
        if self.has(Defect::LockedReadAsAbsent) {
            rules.memory_first = false;
            rules.on_transient = OnFailure::SendNone;
            rules.on_permanent = OnFailure::SendNone;
        }
        if self.has(Defect::CorruptReadStallsLoad) {
            rules.on_garbage = OnFailure::Stall;
        }
        if self.has(Defect::StorageReadNoTimeout) {
            rules.timeout_ms = None;
        }
        rules
    }

    /// The token cache's read before a request: what the request carries, or that it fails
    /// or hangs (`model/token_cache.rs`).
    pub(super) fn read_credential(&self) -> CredentialRead {
        if self.setup.sdk.token_cache == TokenCacheKind::Memory
            || self.has(Defect::MemoryOnlyTokens)
        {
            return CredentialRead::Send(self.held_client_token());
        }
        // `token-cache-unbound-methods`: the app's class-instance cache called unbound throws
        // a `TypeError` on every read; the request hook's promise rejects unhandled and the
        // request never goes out (clerk/javascript PR #8713), as a rejection escaping the
        // cache does (`OnFailure::Stall`).
        if self.has(Defect::TokenCacheUnboundMethods) {
            return CredentialRead::Hang;
        }
        let (rules, memory, now) = (self.read_rules(), self.rt.borrow().memory_token, self.now());
        self.on_device(|d, log| token_cache::read_client_token(d, rules, memory, now, log))
    }

    /// What the store holds at a launch, as the trace records it: the environment's look,
    /// which no storage fault or lock touches (the requests' own reads do).
    pub(super) fn peek_storage(&self, key: StorageKey) {
        let digest = self.device.borrow().digest(key);
        self.log(Happening::StorageRead { at: self.now(), key, digest });
    }

    pub(super) fn read_storage(&self, key: StorageKey) -> Option<Payload> {
        let now = self.now();
        let read = self.on_device(|d, log| token_cache::read_item(d, key, now, log)).ok()?;
        self.log(Happening::StorageRead {
            at: self.now(),
            key,
            digest: read.as_ref().map(|r| r.1),
        });
        read.map(|r| r.0)
    }

    pub(super) fn write_stored_environment(&self, environment: EnvironmentView) {
        // What `__clerk_cache_environment` would hold once written; kept beside the marker
        // payload the emulated device stores.
        if self.setup.sdk.resource_cache {
            self.stored_environment.set(Some(environment));
        }
    }

    /// The resource cache's listener: persist client, environment and session token.
    pub(super) fn persist_resources(&self) {
        if !self.setup.sdk.resource_cache || !self.is_loaded() {
            return;
        }
        let (client, environment, slot, last) = {
            let rt = self.rt.borrow();
            let last = rt.session().and_then(|v| rt.last_token.get(&v.id).copied());
            (rt.client.clone(), rt.environment, rt.slot, last)
        };
        if let Some(view) = client {
            self.write_storage(StorageKey::CachedClient, Payload::Client(view));
            // Only an environment the SDK holds is cached (after a failed first load it holds
            // none, and a later degraded start must not find one).
            if let Some(environment) = environment {
                self.write_storage(StorageKey::CachedEnvironment, Payload::Environment);
                self.write_stored_environment(environment);
            }
        }
        match (slot, last) {
            (Slot::Some(_), Some(token)) => {
                self.write_storage(StorageKey::CachedSessionJwt, Payload::SessionJwt(token));
            }
            (Slot::Null, _) => self.delete_storage(StorageKey::CachedSessionJwt),
            _ => {}
        }
    }

    /// The client token the *environment* sees the device holding: what secure storage holds
    /// with a secure-store token cache (the harness reads storage, never the SDK's memory),
    /// the in-memory token otherwise. For a correct SDK this is the token it sends.
    pub(super) fn device_client_token(&self) -> Option<ClientToken> {
        match self.setup.sdk.token_cache {
            TokenCacheKind::SecureStore => self.persisted_client_token(),
            TokenCacheKind::Memory => {
                self.rt.borrow().memory_token.filter(|_| self.device.borrow().running)
            }
        }
    }
}
