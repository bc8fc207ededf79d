//! Secure storage as the SDK uses it: the client token (held in memory or persisted), the
//! resource cache's records, and the happenings every read, write and delete leaves.
//! Mirrors `sdk/reference/js/storage.rs`.

use crate::model::device::Payload;
use crate::model::server::ClientToken;
use crate::model::settings::TokenCacheKind;
use crate::model::token_cache::{self, CredentialRead, ReadRules};
use crate::model::vocab::{Happening, StorageKey};

use super::{Slot, World};

impl World {
    /// The client token the device holds: what the next request will carry.
    pub(super) fn held_client_token(&self) -> Option<ClientToken> {
        match self.setup.sdk.token_cache {
            TokenCacheKind::SecureStore if ReadRules::of(self.rules).memory_first => self
                .js
                .memory_token
                .filter(|_| self.device.running)
                .or_else(|| self.persisted_client_token()),
            TokenCacheKind::SecureStore => self.persisted_client_token(),
            TokenCacheKind::Memory => self.js.memory_token.filter(|_| self.device.running),
        }
    }

    /// The client token the *environment* sees the device holding: what secure storage holds
    /// with a secure-store token cache (never the SDK's memory), the in-memory token
    /// otherwise. Mirrors the reference SDK's `device_client_token`.
    pub(super) fn device_client_token(&self) -> Option<ClientToken> {
        match self.setup.sdk.token_cache {
            TokenCacheKind::SecureStore => self.persisted_client_token(),
            TokenCacheKind::Memory => self.js.memory_token.filter(|_| self.device.running),
        }
    }

    pub(super) fn persisted_client_token(&self) -> Option<ClientToken> {
        self.device.client_token(StorageKey::ClientJwt)
    }

    pub(super) fn store_client_token(&mut self, token: ClientToken, authoritative: bool) {
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
        match self.setup.sdk.token_cache {
            TokenCacheKind::Memory => self.js.memory_token = Some(token),
            TokenCacheKind::SecureStore => {
                self.js.memory_token = Some(token);
                let credential = self.token_restores(Some(token));
                self.write_storage(StorageKey::ClientJwt, Payload::ClientToken(token), credential);
            }
        }
    }

    pub(super) fn write_storage(&mut self, key: StorageKey, payload: Payload, credential: bool) {
        let len = payload.len();
        let digest = payload.digest();
        if self.device.digest(key) == Some(digest) {
            return;
        }
        let Some(stored_digest) =
            token_cache::write_item(&mut self.device, key, payload, false, self.now, &mut self.log)
        else {
            return;
        };
        self.log.push(Happening::StorageWritten {
            at: self.now,
            key,
            len,
            digest,
            stored_digest,
            credential,
        });
    }

    pub(super) fn delete_storage(&mut self, key: StorageKey) {
        token_cache::delete_item(&mut self.device, key, self.now, &mut self.log);
    }

    /// The token cache's read before a request: what the request carries, or that it fails
    /// or hangs (`model/token_cache.rs`).
    pub(super) fn read_credential(&mut self) -> CredentialRead {
        match self.setup.sdk.token_cache {
            TokenCacheKind::Memory => CredentialRead::Send(self.held_client_token()),
            TokenCacheKind::SecureStore => {
                let memory = self.js.memory_token;
                token_cache::read_client_token(
                    &mut self.device,
                    ReadRules::of(self.rules),
                    memory,
                    self.now,
                    &mut self.log,
                )
            }
        }
    }

    /// What the store holds at a launch, as the trace records it: the environment's look,
    /// which no storage fault or lock touches (the requests' own reads do).
    pub(super) fn peek_storage(&mut self, key: StorageKey) {
        let digest = self.device.digest(key);
        self.log.push(Happening::StorageRead { at: self.now, key, digest });
    }

    pub(super) fn read_storage(&mut self, key: StorageKey) -> Option<Payload> {
        let read = token_cache::read_item(&mut self.device, key, self.now, &mut self.log).ok()?;
        self.log.push(Happening::StorageRead {
            at: self.now,
            key,
            digest: read.as_ref().map(|r| r.1),
        });
        read.map(|r| r.0)
    }

    /// The resource cache's listener: persist client, environment and session token.
    pub(super) fn persist_resources(&mut self) {
        if !self.setup.sdk.resource_cache || !self.is_loaded() {
            return;
        }
        if let Some(view) = self.js.client.clone() {
            let credential = view.selected_session().is_some();
            self.write_storage(StorageKey::CachedClient, Payload::Client(view), credential);
            // Only an environment the SDK holds is cached (after a failed first load it holds
            // none, and a later degraded start must not find one).
            if self.js.env.is_some() {
                self.write_storage(StorageKey::CachedEnvironment, Payload::Environment, false);
            }
        }
        let last = match self.js.slot {
            Slot::Some(v) => self.js.last_token.get(&v.id).copied(),
            _ => None,
        };
        match (self.js.slot, last) {
            (Slot::Some(_), Some(token)) => {
                self.write_storage(StorageKey::CachedSessionJwt, Payload::SessionJwt(token), true);
            }
            (Slot::Null, _) => self.delete_storage(StorageKey::CachedSessionJwt),
            _ => {}
        }
    }
}
