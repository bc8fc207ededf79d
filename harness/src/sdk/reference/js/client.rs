//! Client payloads and the session slot: which session a payload selects, sign-out epochs,
//! `handleUnauthenticated`, and `setActive`'s activation. Mirrors `model/world/client.rs`.

use std::rc::Rc;
use std::sync::Arc;

use crate::model::profile::CachePolicy;
use crate::model::server::{ClientView, SessionSnap};
use crate::model::vocab::{
    AppPath, Defect, Happening, RequestId, SessionId, SessionStatus, SessionView, SignOutCause,
    TokenInfo, TokenKey,
};

use super::transport::{Reply, Req};
use super::{Core, Held, JsJob, LoadStatus, Purpose, Slot};

impl Core {
    /// Whether a status counts as signed in for this SDK (`revoked-ignored` forgets one).
    pub(super) fn counts_signed_in(&self, status: SessionStatus) -> bool {
        status.is_signed_in()
            || (status == SessionStatus::Revoked && self.has(Defect::RevokedIgnored))
    }

    /// `#defaultSession`: the preferred session, the current one, the last active one, or the
    /// first signed-in one.
    pub(super) fn pick_session<'a>(
        &self,
        view: &'a ClientView,
        first: Option<SessionId>,
    ) -> Option<&'a SessionSnap> {
        let find = |id: SessionId| {
            view.sessions.iter().find(|s| s.id == id && self.counts_signed_in(s.status))
        };
        first
            .and_then(find)
            .or_else(|| view.last_active_session.and_then(find))
            .or_else(|| view.sessions.iter().find(|s| self.counts_signed_in(s.status)))
    }

    /// `handleUnauthenticated()`: reload the client; sign out if no session remains. It is a
    /// no-op without a session. Not awaited; the documented contract runs one at a time.
    pub(super) fn handle_unauthenticated(self: &Rc<Self>) {
        {
            let rt = self.rt.borrow();
            let one_at_a_time = !self.rules.awaits_unauthenticated && rt.unauth.is_some();
            if rt.session().is_none() || one_at_a_time {
                return;
            }
        }
        self.unauthenticated_adopts_native();
        let purpose = Purpose::Unauthenticated { tries: 1, held: None };
        let req = self.send(Req::GetClient, purpose, None);
        self.rt.borrow_mut().unauth = Some(req);
    }

    /// clerk-js `_baseFetch` on a 401: `await clerk.handleUnauthenticated()` before the caller
    /// sees the error, one reload per 401. Gives the answer back (nothing held) when there is
    /// no session, where `handleUnauthenticated` returns at once (boxed: the answer is large
    /// and that path rare).
    pub(super) fn hold_for_unauthenticated(
        self: &Rc<Self>,
        id: RequestId,
        held: Held,
    ) -> Result<(), Box<Held>> {
        {
            let rt = self.rt.borrow();
            if rt.session().is_none() || rt.client.is_none() {
                return Err(Box::new(held));
            }
        }
        self.rt.borrow_mut().held.insert(id, held);
        self.unauthenticated_adopts_native();
        let purpose = Purpose::Unauthenticated { tries: 1, held: Some(id) };
        self.send(Req::GetClient, purpose, None);
        Ok(())
    }

    /// The answer to `handleUnauthenticated`'s `GET /client`: a network error is retried like
    /// any GET (clerk-js `fapiClient`: up to 4 tries on native, 100 ms then 700 ms × 2ᵏ); a
    /// payload is applied; 403 or 500 sign out under clerk-js (`[403,500].includes(status)`);
    /// any other failure is rethrown, and the caller that awaited it sees that failure instead
    /// of its 401.
    pub(super) fn unauthenticated_answer(
        self: &Rc<Self>,
        id: RequestId,
        tries: u32,
        held: Option<RequestId>,
        reply: Reply,
        signout_epoch: u32,
    ) {
        {
            let mut rt = self.rt.borrow_mut();
            if rt.unauth == Some(id) {
                rt.unauth = None;
            }
        }
        let status = reply.status();
        let rethrown = if matches!(reply, Reply::NetworkError) && tries < self.rules.get_tries_max {
            let at = self.now().plus(self.rules.get_retry_delay_ms(tries - 1));
            self.schedule_js(at, JsJob::UnauthRetry { tries: tries + 1, held });
            if held.is_none() {
                // Still reloading: no second reload starts meanwhile.
                self.rt.borrow_mut().unauth = Some(id);
            }
            return;
        } else if reply.is_ok() {
            if let Some(view) = reply.client() {
                self.apply_client(view, signout_epoch);
            }
            if self.rules.awaits_unauthenticated {
                // clerk-js's `handleUnauthenticated`: no session selected after
                // `updateClient` → `setActive({ session: null })`.
                self.reemit_session();
            }
            None
        } else if (status == 403 || status == 500) && self.rules.unauth_reload_error_signs_out {
            self.set_slot(Slot::Null, SignOutCause::Unauthorized);
            None
        } else {
            Some(reply)
        };
        let taken = held.and_then(|h| self.rt.borrow_mut().held.remove(&h));
        if let (Some(held_id), Some(held)) = (held, taken) {
            let reply = rethrown.unwrap_or(held.reply);
            self.dispatch(held_id, held.about, held.purpose, reply, held.signout_epoch);
        }
    }

    /// clerk-js `#eX(this.session)`: it sets `session: e || null`, so a loaded app left
    /// `undefined` (a sign-out in flight or failed, whether or not it held a session) reads
    /// signed out.
    pub(super) fn reemit_session(self: &Rc<Self>) {
        let cause = {
            let rt = self.rt.borrow();
            (rt.slot == Slot::Undefined && rt.status != LoadStatus::Loading)
                .then(|| rt.leaving_cause())
        };
        if let Some(cause) = cause {
            self.set_slot(Slot::Null, cause);
        }
    }

    /// `updateClient`: rebuild sessions, pick the current one, hydrate the token cache.
    pub(super) fn apply_client(self: &Rc<Self>, view: &ClientView, signout_epoch: u32) {
        self.apply_client_with(view, signout_epoch, true);
    }

    /// `updateClient` on a client that was parsed earlier: with `seed` false its sessions
    /// hydrated the cache when it arrived ([`Self::hydrate`]), so nothing is seeded again.
    pub(super) fn apply_client_with(
        self: &Rc<Self>,
        view: &ClientView,
        signout_epoch: u32,
        seed: bool,
    ) {
        if self.rules.ignores_stale_payloads && signout_epoch != self.rt.borrow().signout_epoch {
            return;
        }
        if self.rules.keeps_newest_client_token
            && let Some(held) = self.held_client_token()
            && held.client != view.id
        {
            return;
        }
        let view = Arc::new(view.clone());
        let (next, token, cause, loading, transitive) = {
            let mut rt = self.rt.borrow_mut();
            // clerk-js selects a session from a payload only while it holds no client yet.
            let held_client = self.rules.payload_selects_initially_only && rt.client.is_some();
            // clerk-js `updateClient` adjusts a held session only (`if (this.session)`): in the
            // middle of a sign-out or a switch (`undefined`, loaded) a payload changes nothing.
            let transitive = held_client && rt.slot == Slot::Undefined;
            rt.client = Some(view.clone());
            let current = rt.session().map(|v| v.id);
            // clerk-js `updateClient` looks the held session up by id only
            // (`#getSessionFromClient`): no fallback to the client's last active session.
            let held_only = self.rules.keeps_current_session_only && current.is_some();
            // With `payload_selects_initially_only` the session being switched to is set by its
            // own call once the touch answers (`activate`), not by whichever payload comes first.
            let preferred = rt.preferred.filter(|_| !self.rules.payload_selects_initially_only);
            let chosen = preferred
                .and_then(|p| self.pick_session(&view, Some(p)).filter(|s| s.id == p))
                .or_else(|| {
                    current.and_then(|c| self.pick_session(&view, Some(c)).filter(|s| s.id == c))
                })
                .or_else(|| {
                    if held_only || held_client { None } else { self.pick_session(&view, None) }
                });
            let next = match chosen {
                Some(s) => Slot::Some(SessionView {
                    id: s.id,
                    status: s.status,
                    task: s.tasks.first().copied(),
                }),
                None => Slot::Null,
            };
            let cause = rt.leaving_cause();
            (
                next,
                chosen.and_then(|s| s.last_active_token),
                cause,
                rt.status == LoadStatus::Loading,
                transitive,
            )
        };
        if loading && next == Slot::Null {
            self.rt.borrow_mut().slot = Slot::Null;
        } else if !transitive || loading {
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
    pub(super) fn hydrate(self: &Rc<Self>, view: &ClientView) {
        let signed_in = view.sessions.iter().filter(|s| s.status.is_signed_in());
        self.seed(signed_in.filter_map(|s| s.last_active_token));
    }

    fn seed(self: &Rc<Self>, tokens: impl Iterator<Item = TokenInfo>) {
        for token in tokens {
            self.note_last_token(token);
            if self.rules.cache == CachePolicy::HitUntil {
                self.rt.borrow_mut().fetch.remove(&TokenKey::session(token.sid));
            }
            self.set_cached(token);
        }
    }

    /// Why the session ends now, as the app shell tells it: the user's leaving while a call of
    /// theirs that asked for it (sign-out, end, remove) is open, else a payload. Any such call
    /// counts, not only the last one, so answers that arrive together cannot reorder the cause.
    pub(super) fn leaving_cause(&self) -> SignOutCause {
        self.rt.borrow().leaving_cause()
    }

    /// Why a successful `signOut()` ends the session: clerk-js ends it through its listener
    /// (`undefined`, then `null`), so the shell names the cause; the documented sign-out is
    /// the user's own act.
    pub(super) fn signed_out_cause(&self) -> SignOutCause {
        if self.rules.signout_always_transitive { self.leaving_cause() } else { SignOutCause::User }
    }

    pub(super) fn set_slot(self: &Rc<Self>, next: Slot, cause: SignOutCause) {
        let (was_signed_in, changed, loading) = {
            let mut rt = self.rt.borrow_mut();
            let before = rt.slot;
            // `next` is never `undefined` (only a sign-out enters it, and a new runtime
            // starts there), and both write `transitive_from_session`: the flag is read only
            // while the slot is `undefined`, so leaving it needs no reset.
            let was_signed_in = matches!(before, Slot::Some(_))
                || (before == Slot::Undefined && rt.transitive_from_session);
            let now_signed_in = matches!(next, Slot::Some(_));
            let changed = match (before, next) {
                (Slot::Some(a), Slot::Some(b)) => a.id != b.id,
                _ => was_signed_in != now_signed_in,
            };
            rt.slot = next;
            (was_signed_in, changed, rt.status == LoadStatus::Loading)
        };
        if changed {
            // Per-session caches are not the current session's: every entry and refresh
            // timer lives on (clerk-js clears them only on end, remove or sign-out).
            if !self.rules.per_session_cache {
                self.clear_token_cache();
                self.rt.borrow_mut().last_token.clear();
            }
            self.rt.borrow_mut().recurring_gen += 1;
        }
        if was_signed_in && next == Slot::Null {
            self.log(Happening::SignedOut { at: self.now(), cause, server_revoke: false });
            let mut rt = self.rt.borrow_mut();
            if cause == SignOutCause::User {
                rt.shell.return_to = None;
                rt.shell.current_path = AppPath::home();
            } else {
                rt.shell.return_to = Some(rt.shell.current_path.clone());
            }
            rt.user_signing_out = false;
        }
        if matches!(next, Slot::Some(_)) && changed {
            self.arm_recurring();
            if self.rules.ignores_stale_payloads {
                // A payload from a request sent before this session became current cannot
                // speak for it: it is stale, like one from before a sign-out.
                self.rt.borrow_mut().signout_epoch += 1;
            }
        }
        self.rt.borrow_mut().preferred = None;
        if !loading {
            self.render();
        }
    }

    /// `setActive`'s last step: `sid` becomes current if the held client has it signed in;
    /// its last token seeds the cache. Returns whether it was set.
    pub(super) fn activate(self: &Rc<Self>, sid: SessionId) -> bool {
        let (found, cause) = {
            let rt = self.rt.borrow();
            let found = rt.client.as_ref().and_then(|c| {
                c.sessions.iter().find(|s| s.id == sid && self.counts_signed_in(s.status)).cloned()
            });
            let cause = rt.leaving_cause();
            (found, cause)
        };
        let Some(s) = found else {
            return false;
        };
        let next =
            Slot::Some(SessionView { id: s.id, status: s.status, task: s.tasks.first().copied() });
        self.set_slot(next, cause);
        // clerk-js seeds its per-session caches from client payloads only (`#hydrateCache`
        // in the Session constructor); setActive itself sets no entry.
        if let Some(token) = s.last_active_token
            && !self.rules.per_session_cache
        {
            self.note_last_token(token);
            self.set_cached(token);
        }
        self.persist_resources();
        true
    }
}
