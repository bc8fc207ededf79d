//! Client payloads and the session slot: which session a payload selects, sign-out epochs,
//! `handleUnauthenticated`, and `setActive`'s activation. Mirrors `sdk/reference/js/client.rs`.

use std::sync::Arc;

use crate::model::profile::CachePolicy;
use crate::model::server::{ClientView, FapiRequest};
use crate::model::vocab::{
    AppPath, CallKind, Happening, RequestId, SessionId, SessionView, SignOutCause, TokenInfo,
    TokenKey,
};

use super::{Held, JsJob, LoadStatus, Purpose, Reply, Slot, World};

impl World {
    /// `handleUnauthenticated()`: reload the client; sign out if no session remains. It is a
    /// no-op without a session. Not awaited; the documented contract runs one at a time.
    pub(super) fn handle_unauthenticated(&mut self) {
        let one_at_a_time = !self.rules.awaits_unauthenticated && self.js.unauth.is_some();
        if !matches!(self.js.slot, Slot::Some(_)) || one_at_a_time {
            return;
        }
        let purpose = Purpose::Unauthenticated { tries: 1, held: None };
        let req = self.send(FapiRequest::GetClient, purpose);
        self.js.unauth = Some(req);
    }

    /// clerk-js `_baseFetch` on a 401: `await clerk.handleUnauthenticated()` before the caller
    /// sees the error, one reload per 401. Returns `false` (nothing held) when there is no
    /// session, where `handleUnauthenticated` returns at once.
    pub(super) fn hold_for_unauthenticated(&mut self, id: RequestId, held: Held) -> bool {
        if !matches!(self.js.slot, Slot::Some(_)) || self.js.client.is_none() {
            return false;
        }
        self.js.held.insert(id, held);
        self.send(FapiRequest::GetClient, Purpose::Unauthenticated { tries: 1, held: Some(id) });
        true
    }

    /// The answer to `handleUnauthenticated`'s `GET /client`: a network error is retried like
    /// any GET (clerk-js `fapiClient`: up to 4 tries on native, 100 ms then 700 ms × 2ᵏ); a
    /// payload is applied; 403 or 500 sign out under clerk-js (`[403,500].includes(status)`);
    /// any other failure is rethrown, and the caller that awaited it sees that failure instead
    /// of its 401.
    pub(super) fn unauthenticated_answer(
        &mut self,
        id: RequestId,
        tries: u32,
        held: Option<RequestId>,
        reply: Reply,
        signout_epoch: u32,
    ) {
        if self.js.unauth == Some(id) {
            self.js.unauth = None;
        }
        let rethrown = match &reply {
            Reply::NetworkError if tries < self.rules.get_tries_max => {
                let at = self.now.plus(self.rules.get_retry_delay_ms(tries - 1));
                self.schedule_js(at, JsJob::UnauthRetry { tries: tries + 1, held });
                if held.is_none() {
                    // Still reloading: no second reload starts meanwhile.
                    self.js.unauth = Some(id);
                }
                return;
            }
            Reply::Answer(a) if a.is_ok() => {
                if let Some(view) = &a.client {
                    self.apply_client(view, signout_epoch);
                }
                if self.rules.awaits_unauthenticated {
                    // clerk-js's `handleUnauthenticated`: no session selected after
                    // `updateClient` → `setActive({ session: null })` (fuzz seed 0xd66be661
                    // case 17).
                    self.reemit_session();
                }
                None
            }
            Reply::Answer(a)
                if (a.status == 403 || a.status == 500)
                    && self.rules.unauth_reload_error_signs_out =>
            {
                self.set_slot(Slot::Null, SignOutCause::Unauthorized);
                None
            }
            other => Some(other.clone()),
        };
        if let Some(held_id) = held
            && let Some(held) = self.js.held.remove(&held_id)
        {
            let reply = rethrown.unwrap_or(held.reply);
            self.dispatch(held_id, held.purpose, &held.request, reply, held.signout_epoch);
        }
    }

    /// clerk-js `#eX(this.session)`: it sets `session: e || null`, so a loaded app left
    /// `undefined` (a sign-out in flight or failed, whether or not it held a session) reads
    /// signed out.
    pub(super) fn reemit_session(&mut self) {
        if self.js.slot == Slot::Undefined && self.js.status != LoadStatus::Loading {
            self.set_slot(Slot::Null, self.leaving_cause());
        }
    }

    /// `updateClient`: rebuild sessions, pick the current one, hydrate the token cache.
    pub(super) fn apply_client(&mut self, view: &ClientView, signout_epoch: u32) {
        self.apply_client_with(view, signout_epoch, true);
    }

    /// `updateClient` on a client that was parsed earlier: with `seed` false its sessions
    /// hydrated the cache when it arrived ([`Self::hydrate`]), so nothing is seeded again.
    pub(super) fn apply_client_with(&mut self, view: &ClientView, signout_epoch: u32, seed: bool) {
        if self.rules.ignores_stale_payloads && signout_epoch != self.js.signout_epoch {
            return;
        }
        if self.rules.keeps_newest_client_token
            && let Some(held) = self.held_client_token()
            && held.client != view.id
        {
            return;
        }
        let view = Arc::new(view.clone());
        // clerk-js selects a session from a payload only while it holds no client yet.
        let held_client = self.rules.payload_selects_initially_only && self.js.client.is_some();
        self.js.client = Some(view.clone());
        let signed_in =
            |id: SessionId| view.sessions.iter().find(|s| s.id == id && s.status.is_signed_in());
        let current = match self.js.slot {
            Slot::Some(v) => Some(v.id),
            _ => None,
        };
        // clerk-js keeps a held session by id only: once it is no longer signed in the app has
        // no session, even if the client's last active session is another one.
        let held_only = self.rules.keeps_current_session_only && current.is_some();
        // With `payload_selects_initially_only` the session being switched to is set by its
        // own call once the touch answers (`activate`), not by whichever payload comes first.
        let preferred = self.js.preferred.filter(|_| !self.rules.payload_selects_initially_only);
        let chosen = preferred
            .and_then(signed_in)
            .or_else(|| current.and_then(signed_in))
            .or_else(|| if held_only || held_client { None } else { view.selected_session() });
        let next = match chosen {
            Some(s) => Slot::Some(SessionView {
                id: s.id,
                status: s.status,
                task: s.tasks.first().copied(),
            }),
            None => Slot::Null,
        };
        let token = chosen.and_then(|s| s.last_active_token);
        let cause = self.leaving_cause();
        // clerk-js `updateClient` adjusts a held session only (`if (this.session)`): in the
        // middle of a sign-out or a switch (`undefined`, loaded) a payload changes nothing.
        let transitive = held_client && self.js.slot == Slot::Undefined;
        if self.js.status == LoadStatus::Loading && next == Slot::Null {
            self.js.slot = Slot::Null;
        } else if !transitive || self.js.status == LoadStatus::Loading {
            self.set_slot(next, cause);
        }
        // Every client payload re-seeds the cache (clerk-js `#hydrateCache`): every session's
        // last token with per-session caches, else the chosen session's. Only a signed-in
        // session carries one on the wire (fapi/encode.rs).
        if seed && self.rules.per_session_cache {
            self.hydrate(&view);
        } else if seed {
            self.seed(token.into_iter());
        }
        self.persist_resources();
    }

    /// clerk-js `#hydrateCache`, run by every `Session` a parsed client payload constructs:
    /// each signed-in session's last token goes into its own cache entry and arms its
    /// timers, when the payload arrives (for a load, before `Promise.all` has both halves).
    pub(super) fn hydrate(&mut self, view: &ClientView) {
        let signed_in = view.sessions.iter().filter(|s| s.status.is_signed_in());
        self.seed(signed_in.filter_map(|s| s.last_active_token));
    }

    fn seed(&mut self, tokens: impl Iterator<Item = TokenInfo>) {
        for token in tokens {
            self.note_last_token(token);
            if self.rules.cache == CachePolicy::HitUntil {
                self.js.fetch.remove(&TokenKey::session(token.sid));
            }
            self.set_cached(token);
        }
    }

    /// `setActive`'s last step: `sid` becomes current if the held client has it signed in;
    /// its last token seeds the cache. Returns whether it was set.
    pub(super) fn activate(&mut self, sid: SessionId) -> bool {
        let Some(s) = self.js.client.as_ref().and_then(|c| {
            c.sessions.iter().find(|s| s.id == sid && s.status.is_signed_in()).cloned()
        }) else {
            return false;
        };
        let next =
            Slot::Some(SessionView { id: s.id, status: s.status, task: s.tasks.first().copied() });
        let cause = self.leaving_cause();
        self.set_slot(next, cause);
        // clerk-js seeds its per-session caches from client payloads only (`#hydrateCache`
        // in the Session constructor); setActive itself sets no entry, so a touch answered
        // 401 re-arms no timer (fuzz case seed 0x226614e6, request level).
        if let Some(token) = s.last_active_token
            && !self.rules.per_session_cache
        {
            self.note_last_token(token);
            self.set_cached(token);
        }
        self.persist_resources();
        true
    }

    /// Why the session ends now, as the app shell tells it: the user's leaving while a call of
    /// theirs that asked for it (sign-out, end, remove) is open, else a payload. Any such call
    /// counts, not only the last one, so answers that arrive together cannot reorder the cause.
    pub(super) fn leaving_cause(&self) -> SignOutCause {
        let leaving = self.js.user_signing_out
            || self.js.calls.values().any(|c| {
                matches!(c.kind, CallKind::SignOut | CallKind::SessionEnd | CallKind::SessionRemove)
            });
        if leaving { SignOutCause::User } else { SignOutCause::ClientPayload }
    }

    /// Why a successful `signOut()` ends the session: clerk-js ends it through its listener
    /// (`undefined`, then `null`), so the shell names the cause; the documented sign-out is
    /// the user's own act.
    pub(super) fn signed_out_cause(&self) -> SignOutCause {
        if self.rules.signout_always_transitive { self.leaving_cause() } else { SignOutCause::User }
    }

    pub(super) fn set_slot(&mut self, next: Slot, cause: SignOutCause) {
        let before = self.js.slot;
        // `next` is never `undefined` (only a sign-out enters it, and a new runtime starts
        // there), and both write `transitive_from_session`: the flag is read only while the
        // slot is `undefined`, so leaving it needs no reset.
        let was_signed_in = matches!(before, Slot::Some(_))
            || (before == Slot::Undefined && self.js.transitive_from_session);
        let now_signed_in = matches!(next, Slot::Some(_));
        let changed_session = match (before, next) {
            (Slot::Some(a), Slot::Some(b)) => a.id != b.id,
            _ => was_signed_in != now_signed_in,
        };
        self.js.slot = next;
        if changed_session {
            // Per-session caches are not the current session's: every entry and refresh
            // timer lives on (clerk-js clears them only on end, remove or sign-out).
            if !self.rules.per_session_cache {
                self.clear_token_cache();
                self.js.last_token.clear();
            }
            self.js.recurring_gen += 1;
        }
        if was_signed_in && matches!(next, Slot::Null) {
            self.log.push(Happening::SignedOut { at: self.now, cause, server_revoke: false });
            if cause == SignOutCause::User {
                self.js.shell.return_to = None;
                self.js.shell.current_path = AppPath::home();
            } else {
                self.js.shell.return_to = Some(self.js.shell.current_path.clone());
            }
            self.js.user_signing_out = false;
        }
        if now_signed_in && changed_session {
            self.arm_recurring();
            if self.rules.ignores_stale_payloads {
                // A payload from a request sent before this session became current cannot
                // speak for it: it is stale, like one from before a sign-out.
                self.js.signout_epoch += 1;
            }
        }
        self.js.preferred = None;
        if self.js.status != LoadStatus::Loading {
            self.render();
        }
    }
}
