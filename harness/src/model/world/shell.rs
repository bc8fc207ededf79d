//! The app shell: the route guard, `returnTo`, and the rendered auth view.
//! Mirrors `sdk/reference/js/shell.rs`.

use crate::model::vocab::{
    AppPath, AuthView, Happening, Route, SessionStatus, SessionView, TaskKey,
};

use super::{Slot, World};

impl World {
    pub(super) fn navigate(&mut self, path: AppPath) {
        match self.view.is_signed_in {
            Some(true) => self.js.shell.current_path = path,
            Some(false) => self.js.shell.return_to = Some(path),
            None => {
                // A deep link while loading: land there once loaded, or return there after
                // sign-in.
                self.js.shell.current_path = path.clone();
                self.js.shell.return_to = Some(path);
            }
        }
    }

    /// The end of a JS turn: what changed is rendered and its effects run (a sync-lane render
    /// in a microtask of the turn), then the turn's requests leave (`depart`), then the
    /// effects of a load's render, which React runs in a later macrotask
    /// (`defer_native_sync`).
    pub(super) fn end_turn(&mut self) {
        self.render();
        self.depart();
        self.run_deferred_native_sync();
    }

    /// Recomputes what is on screen; logs a render when anything changed.
    pub(super) fn render(&mut self) {
        if !self.in_ui() {
            // A headless instance renders nothing: the screen is the UI instance's.
            return;
        }
        let view = self.auth_view();
        if view != self.view {
            if view.is_signed_in == Some(true)
                && self.view.is_signed_in != Some(true)
                && let Some(back) = self.js.shell.return_to.take()
            {
                self.js.shell.current_path = back;
            }
            let view = self.auth_view();
            self.log.push(Happening::Rendered { at: self.now, view: view.clone() });
            self.view = view;
        }
        // `NativeSessionSync`'s effect runs after the commit it depends on.
        self.native_session_sync();
    }

    pub(super) fn auth_view(&self) -> AuthView {
        if !self.device.running {
            return AuthView::closed();
        }
        let loaded = self.is_loaded() && self.js.slot != Slot::Undefined;
        let session = self.js.slot.session();
        let is_signed_in = if !loaded {
            None
        } else {
            Some(session.is_some_and(|s| {
                s.status == SessionStatus::Active
                    || (s.status == SessionStatus::Pending
                        && !self.setup.sdk.treat_pending_as_signed_out)
            }))
        };
        let shell = &self.js.shell;
        let route = if !loaded {
            Route::Loading
        } else if let Some(SessionView { status: SessionStatus::Pending, task, .. }) = session {
            Route::Task { key: task.unwrap_or(TaskKey::ChooseOrganization) }
        } else if session.is_some() {
            Route::Protected { path: shell.current_path.clone() }
        } else {
            Route::SignIn { return_to: shell.return_to.clone() }
        };
        AuthView { route, is_loaded: loaded, is_signed_in, session }
    }
}
