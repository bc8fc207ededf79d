//! The environment around a system under test: what the harness, not the SDK, knows and does.
//!
//! The server is the environment (DESIGN.md §4, "server rules live once"): its truth about the
//! device's client ([`server_view`]), the server-side events a backend or an admin triggers
//! ([`apply_server_event`]), and whether a stored client token would restore a signed-in
//! session ([`token_restores`]) — the annotation storage writes carry. Every SDK port uses
//! these, so the invariants judge every SDK against the same truth.

use crate::model::server::{ClientToken, Server};
use crate::model::time::VTime;
use crate::model::vocab::{Event, ServerView, SessionId, SessionStatus};

/// Whether `token` resolves to a client with a signed-in session now.
pub fn token_restores(server: &Server, token: Option<ClientToken>) -> bool {
    server.resolve_client(token).and_then(|id| server.client(id)).is_some_and(|c| {
        c.sessions.iter().any(|s| server.session(*s).is_some_and(|s| s.status.is_signed_in()))
    })
}

/// The server's truth about the device: the latest session of the client behind `held` (the
/// token the device would send next), every session, and whether `persisted` (the token in
/// storage) would restore a signed-in session.
pub fn server_view(
    server: &mut Server,
    now: VTime,
    held: Option<ClientToken>,
    persisted: Option<ClientToken>,
) -> ServerView {
    server.tick(now);
    let session = held.and_then(|t| {
        server.sessions.iter().rev().find(|s| s.client == t.client).map(|s| (s.id, s.status))
    });
    ServerView {
        session,
        persisted_credential_valid: token_restores(server, persisted),
        sessions: server.sessions.iter().map(|s| (s.id, s.status)).collect(),
        orphaned: server.orphaned_sessions(persisted),
    }
}

/// The session a server-side event targets: the one the app shows, else the device client's
/// latest.
pub fn target_session(
    server: &mut Server,
    now: VTime,
    shown: Option<SessionId>,
    held: Option<ClientToken>,
) -> Option<SessionId> {
    shown.or_else(|| server_view(server, now, held, None).session.map(|(id, _)| id))
}

/// Applies a server-side event (`revoke`, `expire_now`, `abandon_now`, `replace`, `fault`)
/// to the server. Returns false for events that are not server-side.
pub fn apply_server_event(
    server: &mut Server,
    event: &Event,
    now: VTime,
    target: Option<SessionId>,
) -> bool {
    match event {
        Event::Revoke | Event::ExpireNow | Event::AbandonNow => {
            let status = match event {
                Event::Revoke => SessionStatus::Revoked,
                Event::ExpireNow => SessionStatus::Expired,
                _ => SessionStatus::Abandoned,
            };
            if let Some(sid) = target {
                server.end_session_as(sid, status, now);
            }
            true
        }
        Event::Replace => {
            if let Some(sid) = target {
                server.replace_session(sid, now);
            }
            true
        }
        Event::ClearFaults => {
            server.faults.clear();
            true
        }
        Event::Fault(spec) => {
            server.push_fault(*spec);
            true
        }
        _ => false,
    }
}
