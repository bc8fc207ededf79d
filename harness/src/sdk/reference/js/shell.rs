//! The app shell: the route guard, `returnTo`, and the rendered auth view.
//! Mirrors `model/world/shell.rs`.

use crate::model::vocab::{
    AppPath, AuthView, Defect, Happening, Route, SessionStatus, SessionView, TaskKey,
};

use super::{Core, Slot};

impl Core {
    pub(super) fn navigate(&self, path: AppPath) {
        let signed_in = self.view.borrow().is_signed_in;
        let mut rt = self.rt.borrow_mut();
        match signed_in {
            Some(true) => rt.shell.current_path = path,
            Some(false) => rt.shell.return_to = Some(path),
            None => {
                // A deep link while loading: land there once loaded, or return there after
                // sign-in.
                rt.shell.current_path = path.clone();
                rt.shell.return_to = Some(path);
            }
        }
    }

    /// Recomputes what is on screen; logs a render when anything changed.
    pub(super) fn render(&self) {
        if !self.in_ui() {
            // A headless instance renders nothing: the screen is the UI instance's.
            return;
        }
        let view = self.auth_view();
        if view == *self.view.borrow() {
            // `NativeSessionSync`'s effect runs after the commit it depends on.
            self.native_session_sync();
            return;
        }
        let view =
            if view.is_signed_in == Some(true) && self.view.borrow().is_signed_in != Some(true) {
                let back = self.rt.borrow_mut().shell.return_to.take();
                match back {
                    Some(back) => {
                        self.rt.borrow_mut().shell.current_path = back;
                        self.auth_view()
                    }
                    None => view,
                }
            } else {
                view
            };
        self.log(Happening::Rendered { at: self.now(), view: view.clone() });
        *self.view.borrow_mut() = view;
        self.native_session_sync();
    }

    /// The article's route guard over `useAuth()`.
    pub(super) fn auth_view(&self) -> AuthView {
        if !self.device.borrow().running {
            return AuthView::closed();
        }
        let rt = self.rt.borrow();
        let loaded = self.is_loaded() && rt.slot != Slot::Undefined;
        let session = rt.session();
        let is_signed_in = if !loaded {
            None
        } else {
            Some(session.is_some_and(|s| {
                s.status == SessionStatus::Active
                    || (s.status == SessionStatus::Pending
                        && !self.setup.sdk.treat_pending_as_signed_out)
            }))
        };
        let shell = &rt.shell;
        let route = if !loaded {
            if self.has(Defect::RedirectBeforeLoaded) {
                // `if (isSignedIn === false) redirect(sign-in)` before any `isLoaded` check:
                // `undefined` falls through to the protected screen.
                Route::Protected { path: shell.current_path.clone() }
            } else {
                Route::Loading
            }
        } else if let Some(SessionView { status: SessionStatus::Pending, task, .. }) = session {
            if self.has(Defect::PendingToSignIn) {
                Route::SignIn { return_to: shell.return_to.clone() }
            } else {
                Route::Task { key: task.unwrap_or(TaskKey::ChooseOrganization) }
            }
        } else if session.is_some() {
            Route::Protected { path: shell.current_path.clone() }
        } else {
            Route::SignIn { return_to: shell.return_to.clone() }
        };
        AuthView { route, is_loaded: loaded, is_signed_in, session }
    }
}
