//! Tests written for mutants that `cargo xtask mutants` found missed in the server side of
//! the model: `model/server/**`, the instance settings and their JWT templates
//! (`model/settings.rs`, `model/templates.rs`). Each pins a behaviour no other test observed
//! and names the mutants it catches (file:line: mutation, as cargo-mutants prints it).
//!
//! `cargo xtask mutants` runs this binary with the others (every `harness/tests/mutants_*.rs`).

use std::collections::BTreeMap;

use session_harness::model::server::{
    ClientToken, FapiRequest, ReplyBody, Server, TEST_USER_IDENTIFIER, TEST_USER_PASSWORD,
};
use session_harness::model::settings::InstanceSettings;
use session_harness::model::templates::{
    TEMPLATE_CLAIMS_MAX, TEMPLATE_LIFETIME_MS_DEFAULT, TEMPLATES_MAX, TemplateError, TemplateSpec,
    Templates,
};
use session_harness::model::time::VTime;
use session_harness::model::vocab::{
    Endpoint, FaultKind, FaultSpec, SessionId, SessionStatus, TaskKey, TemplateName,
};

/// A server with one client, signed in to the test user at 10 ms: the server, the client's
/// current token and the session.
fn signed_in_with(settings: InstanceSettings) -> (Server, ClientToken, SessionId) {
    let mut server = Server::new(settings);
    let reply = server.handle(None, &FapiRequest::GetClient, VTime(0));
    let token = reply.client_token.expect("a new client gets a token");
    let (token, sid) = sign_in(&mut server, token, 10);
    (server, token, sid)
}

/// Signs the test user in once more on the client of `token`, at `at` ms.
fn sign_in(server: &mut Server, token: ClientToken, at: u64) -> (ClientToken, SessionId) {
    let reply = server.handle(
        Some(token),
        &FapiRequest::SignIn {
            identifier: TEST_USER_IDENTIFIER.into(),
            password: TEST_USER_PASSWORD.into(),
        },
        VTime(at),
    );
    let ReplyBody::SignIn { created_session } = reply.body else {
        panic!("the test user signs in: {reply:?}")
    };
    (reply.client_token.expect("sign-in rotates the token"), created_session)
}

/// A fault scripted for zero requests is no fault: nothing is queued and the next request
/// goes through (`Server::take_fault`: "`count` means the next N requests").
///
/// Catches `server/mod.rs:235:23: replace > with >= in Server::push_fault` (the fault would
/// be queued with nothing remaining, answer the next request, and underflow its count).
#[test]
fn a_server_fault_scripted_zero_times_is_not_queued() {
    let mut server = Server::new(InstanceSettings::default());
    let kind = FaultKind::ServerError { status: 503 };
    server.push_fault(FaultSpec { kind, count: 0, on: None });
    assert!(server.faults.is_empty(), "{:?}", server.faults);
    assert_eq!(server.take_fault(Endpoint::Environment), None);

    // One request's worth is queued, answers exactly one request, and is gone.
    server.push_fault(FaultSpec { kind, count: 1, on: None });
    assert_eq!(server.take_fault(Endpoint::Environment), Some(kind));
    assert_eq!(server.take_fault(Endpoint::Environment), None);
}

/// `GET /v1/environment` answers `auth_config.single_session_mode` (reference §4.4, useful
/// environment fields): the opposite of the instance's multi-session mode, and carries the
/// instance's `session_minter`.
///
/// Catches `server/mod.rs:242:34: delete ! in Server::environment`.
#[test]
fn the_environment_says_single_session_mode_unless_multi_session() {
    for multi_session in [false, true] {
        let settings = InstanceSettings { multi_session, ..InstanceSettings::default() };
        let mut server = Server::new(settings);
        let reply = server.handle(None, &FapiRequest::Environment, VTime(0));
        assert_eq!(reply.status, 200, "{reply:?}");
        let ReplyBody::Environment(env) = reply.body else { panic!("{reply:?}") };
        assert_eq!(env.single_session_mode, !multi_session, "multi_session {multi_session}");
        assert_eq!(server.environment(), env);
    }
}

/// A session stays `pending` while it has tasks left (reference §2.1: pending is "signed in
/// but hasn't completed session tasks"): resolving one of two tasks leaves it pending,
/// resolving the last makes it `active`.
///
/// Catches `server/mod.rs:333:43: replace && with || in Server::handle` (resolving any task
/// of a pending session would make it active).
#[test]
fn a_session_stays_pending_until_its_last_task_is_resolved() {
    let (mut server, token, sid) = signed_in_with(InstanceSettings::default());
    assert!(server.add_task(sid, TaskKey::ResetPassword, VTime(20)));
    assert!(server.add_task(sid, TaskKey::SetupMfa, VTime(20)));
    assert_eq!(server.status_of(sid, VTime(20)), Some(SessionStatus::Pending));

    let resolve = |server: &mut Server, token, task, at| {
        let reply = server.handle(Some(token), &FapiRequest::ResolveTask { sid, task }, VTime(at));
        assert!(reply.is_ok(), "{reply:?}");
        let ReplyBody::Session(snap) = &reply.body else { panic!("{reply:?}") };
        (snap.status, snap.tasks.clone(), reply.client_token.expect("a known client's token"))
    };
    let (status, tasks, token) = resolve(&mut server, token, TaskKey::ResetPassword, 30);
    assert_eq!((status, tasks), (SessionStatus::Pending, vec![TaskKey::SetupMfa]));
    assert_eq!(server.status_of(sid, VTime(30)), Some(SessionStatus::Pending));

    let (status, tasks, _) = resolve(&mut server, token, TaskKey::SetupMfa, 40);
    assert_eq!((status, tasks), (SessionStatus::Active, vec![]));
    assert_eq!(server.status_of(sid, VTime(40)), Some(SessionStatus::Active));
}

/// A client's `last_active_session` names a session on its list or none: removing the last
/// active session clears it (reference §2.1: a removed session is "removed from the
/// Client"), removing another session of a multi-session client leaves it.
///
/// Catches `server/mod.rs:380:38: replace == with != in Server::detach`.
#[test]
fn removing_a_session_clears_last_active_only_if_it_was_that_one() {
    let settings = InstanceSettings { multi_session: true, ..InstanceSettings::default() };
    let (mut server, token, first) = signed_in_with(settings);
    let (token, second) = sign_in(&mut server, token, 20);
    let client = token.client;
    assert_eq!(server.client(client).unwrap().last_active_session, Some(second));

    // The older session goes: the last active one stays.
    let reply = server.handle(Some(token), &FapiRequest::Remove { sid: first }, VTime(30));
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(server.client(client).unwrap().last_active_session, Some(second));

    // The last active one goes: none is left to name.
    let token = reply.client_token.unwrap();
    let reply = server.handle(Some(token), &FapiRequest::Remove { sid: second }, VTime(40));
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(server.client(client).unwrap().last_active_session, None);
    // The next client payload says so (the removal's own payload is taken before the
    // session leaves the list).
    let token = reply.client_token.unwrap();
    let reply = server.handle(Some(token), &FapiRequest::GetClient, VTime(50));
    let view = reply.client.expect("a client payload");
    assert_eq!((view.sessions.len(), view.last_active_session), (0, None));

    // Likewise when the dashboard removes it.
    let (mut server, token, sid) = signed_in_with(InstanceSettings::default());
    assert!(server.remove_session(sid, VTime(20)));
    assert_eq!(server.client(token.client).unwrap().last_active_session, None);
}

/// A templates table with `entries` names, each with lifetime 60 s and `claims` claims.
fn specs(entries: usize, claims: usize) -> BTreeMap<String, TemplateSpec> {
    (0..entries)
        .map(|t| {
            let claims = (0..claims).map(|c| (format!("claim{c}"), format!("value{c}"))).collect();
            (format!("t{t}"), TemplateSpec { lifetime_ms: 60_000, claims })
        })
        .collect()
}

/// An instance keeps up to `TEMPLATES_MAX` (4) templates of up to `TEMPLATE_CLAIMS_MAX` (4)
/// custom claims each (`model/templates.rs`): the limits themselves are accepted, one more
/// is refused with its reason.
///
/// Catches `templates.rs:176:24: replace > with >= in Templates::from_specs`, and
/// `templates.rs:188:34: replace > with ==` and `with >=` in it.
#[test]
fn templates_hold_up_to_their_limits_and_refuse_one_more() {
    assert_eq!((TEMPLATES_MAX, TEMPLATE_CLAIMS_MAX), (4, 4));
    let full = Templates::from_specs(&specs(TEMPLATES_MAX, TEMPLATE_CLAIMS_MAX))
        .expect("four templates of four claims each fit");
    assert_eq!(full.iter().count(), TEMPLATES_MAX);
    for template in full.iter() {
        let claims: Vec<_> = template.claims().collect();
        assert_eq!(
            claims,
            [
                ("claim0", "value0"),
                ("claim1", "value1"),
                ("claim2", "value2"),
                ("claim3", "value3")
            ]
        );
    }
    assert_eq!(full.to_specs(), specs(TEMPLATES_MAX, TEMPLATE_CLAIMS_MAX));

    assert_eq!(Templates::from_specs(&specs(TEMPLATES_MAX + 1, 0)), Err(TemplateError::TooMany));
    assert_eq!(
        Templates::from_specs(&specs(1, TEMPLATE_CLAIMS_MAX + 1)),
        Err(TemplateError::TooManyClaims { template: "t0".into() })
    );
}

/// Instance settings read back from JSON (a saved server, the dev server's settings file)
/// with their templates, checked as declarations are; a template declared without a
/// lifetime gets Clerk's default of 60 s (`TemplateSpec::default_lifetime_ms`).
///
/// Catches `templates.rs:256:9: replace <impl Deserialize<'de> for Templates>::deserialize
/// -> Result<Self, D::Error> with Ok(Default::default())`, both constant replacements of
/// `templates.rs:128:5: default_lifetime` and of `templates.rs:134:9:
/// TemplateSpec::default_lifetime_ms`.
#[test]
fn settings_read_back_with_their_templates_and_the_default_lifetime() {
    assert_eq!(TemplateSpec::default_lifetime_ms(), 60_000);
    assert_eq!(TEMPLATE_LIFETIME_MS_DEFAULT, 60_000);

    let json = r#"{
        "templates": {
            "convex": { "claims": { "aud": "convex" } },
            "supabase": { "lifetime_ms": 3600000, "claims": { "role": "authenticated" } }
        }
    }"#;
    let settings: InstanceSettings = serde_json::from_str(json).expect("valid templates");
    let get = |name| settings.templates.get(TemplateName::parse(name).unwrap()).copied();
    let convex = get("convex").expect("declared");
    assert_eq!(convex.lifetime_ms, TemplateSpec::default_lifetime_ms());
    assert_eq!(convex.claims().collect::<Vec<_>>(), [("aud", "convex")]);
    let supabase = get("supabase").expect("declared");
    assert_eq!(supabase.lifetime_ms, 3_600_000);
    assert_eq!(supabase.claims().collect::<Vec<_>>(), [("role", "authenticated")]);

    // A spec read alone gets the same default.
    let spec: TemplateSpec = serde_json::from_str("{}").unwrap();
    assert_eq!(spec, TemplateSpec { lifetime_ms: 60_000, claims: BTreeMap::new() });

    // And settings written out read back the same.
    let back: InstanceSettings =
        serde_json::from_str(&serde_json::to_string(&settings).unwrap()).unwrap();
    assert_eq!(back, settings);

    // Read back, templates are checked as declarations are.
    let reserved = r#"{ "templates": { "t": { "claims": { "sub": "x" } } } }"#;
    let err = serde_json::from_str::<InstanceSettings>(reserved).unwrap_err();
    assert!(err.to_string().contains("claim `sub` is set by the server itself"), "{err}");
}

/// A templates table debug-prints as the list of its templates, claim names and values
/// shown as the strings they are (the `Debug` of `Templates` and of its inline text).
///
/// Catches `templates.rs:70:9: replace <impl fmt::Debug for Text<N>>::fmt -> fmt::Result
/// with Ok(Default::default())` and `templates.rs:113:9: replace <impl fmt::Debug for
/// Templates>::fmt -> fmt::Result with Ok(Default::default())`.
#[test]
fn templates_debug_print_as_their_templates_and_claims() {
    assert_eq!(format!("{:?}", Templates::default()), "[]");
    let mut specs = BTreeMap::new();
    let claims = BTreeMap::from([("role".to_string(), "authenticated".to_string())]);
    specs.insert("supabase".to_string(), TemplateSpec { lifetime_ms: 3_600_000, claims });
    let table = Templates::from_specs(&specs).unwrap();
    let printed = format!("{table:?}");
    assert!(printed.starts_with("[Template {") && printed.ends_with("}]"), "{printed}");
    assert!(printed.contains("lifetime_ms: 3600000"), "{printed}");
    assert!(printed.contains(r#"("role", "authenticated")"#), "{printed}");
}

/// The MAC part of a token's wire form, as `ClientToken::encode` writes it last.
fn mac_of(token: ClientToken) -> String {
    token.encode().rsplit('.').next().expect("a wire form has parts").to_string()
}

/// A client token's MAC tells every token apart (`ClientToken`'s doc: it "makes a forged or
/// mistyped token distinguishable from a real one"): no two tokens of a few clients, epochs
/// and versions share one, and a token carrying another's MAC does not decode.
///
/// Catches `client_token.rs:53:25: replace ^ with |` and `replace ^ with &` in
/// `ClientToken::mac` (ORed or ANDed into the state, small ids lose their bits and tokens
/// collide).
#[test]
fn every_client_token_has_its_own_mac() {
    use session_harness::model::vocab::ClientId;
    let mut tokens = Vec::new();
    for client in 1..=4 {
        for epoch in 1..=4 {
            for version in 0..=64 {
                tokens.push(ClientToken { client: ClientId(client), epoch, version });
            }
        }
    }
    let macs: std::collections::BTreeSet<String> = tokens.iter().map(|t| mac_of(*t)).collect();
    assert_eq!(macs.len(), tokens.len(), "every token its own MAC");

    for pair in tokens.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        assert_eq!(ClientToken::decode(&a.encode()), Some(a));
        let forged = format!("ct.{}.{}.{}.{}", b.client.0, b.epoch, b.version, mac_of(a));
        assert_eq!(ClientToken::decode(&forged), None, "{b:?} with the MAC of {a:?}");
    }
}

/// Instance settings with the reuse policy `policy` and the grace `grace`.
fn with_reuse(
    policy: session_harness::model::settings::ReusePolicy,
    grace: session_harness::model::settings::ReuseGrace,
) -> InstanceSettings {
    use session_harness::model::settings::TokenReuse;
    InstanceSettings { token_reuse: TokenReuse { policy, grace }, ..InstanceSettings::default() }
}

/// Reuse detection is about tokens the server rotated past (`Server::detect_reuse`'s doc): a
/// token of a version the client has not reached yet is not honoured, and under
/// `revoke_family` it revokes nothing either.
///
/// Catches `reuse.rs:51:30: replace > with == in Server::detect_reuse`.
#[test]
fn a_token_from_ahead_of_its_client_is_refused_but_is_not_reuse() {
    use session_harness::model::settings::{ReuseGrace, ReusePolicy};
    for grace in [ReuseGrace::Versions(0), ReuseGrace::Versions(64), ReuseGrace::WindowMs(1_000)] {
        let settings = with_reuse(ReusePolicy::RevokeFamily, grace);
        let (mut server, token, sid) = signed_in_with(settings);
        let ahead = ClientToken { version: token.version + 1, ..token };
        assert_eq!(server.resolve_client(Some(ahead)), None, "{grace:?}: not honoured");
        let tokens =
            FapiRequest::Tokens { sid, carried: None, force_origin: false, template: None };
        let reply = server.handle(Some(ahead), &tokens, VTime(20));
        assert_eq!(reply.status, 401, "{grace:?}: {reply:?}");

        let client = server.client(token.client).unwrap();
        assert!(!client.revoked && !client.superseded_refused, "{grace:?}: {client:?}");
        assert_eq!(server.status_of(sid, VTime(20)), Some(SessionStatus::Active), "{grace:?}");
        assert_eq!(server.resolve_client(Some(token)), Some(token.client), "{grace:?}");
        assert!(server.orphaned_sessions(None).is_empty(), "{grace:?}");
    }
}

/// Under a grace in rotations, a refused superseded token marks its client only when it is
/// the one just before the current token, which a device holds through no fault of its own
/// when its successor's answer was lost (`Client::superseded_refused`); an older one is the
/// device's doing. The mark puts the client's signed-in sessions among the orphaned ones.
///
/// Catches `reuse.rs:72:25: replace || with &&` and `reuse.rs:72:42: replace + with -` in
/// `Server::detect_reuse`.
#[test]
fn only_a_refused_immediate_predecessor_marks_its_client_under_a_grace_in_rotations() {
    use session_harness::model::settings::{ReuseGrace, ReusePolicy};
    let settings = with_reuse(ReusePolicy::NewClient, ReuseGrace::Versions(0));
    let rotate = |server: &mut Server, token, at| {
        let reply = server.handle(Some(token), &FapiRequest::Environment, VTime(at));
        reply.client_token.expect("a known client's token")
    };

    // The one just before: refused, and the client is marked.
    let (mut server, before, sid) = signed_in_with(settings);
    let current = rotate(&mut server, before, 20);
    assert_eq!(current.version, before.version + 1);
    let reply = server.handle(Some(before), &FapiRequest::GetClient, VTime(30));
    assert_ne!(reply.client.unwrap().id, before.client, "refused: a new client");
    assert!(server.client(before.client).unwrap().superseded_refused);
    assert_eq!(server.orphaned_sessions(None), vec![sid]);

    // Two before: refused, and nothing is marked.
    let (mut server, older, _) = signed_in_with(settings);
    let before = rotate(&mut server, older, 20);
    rotate(&mut server, before, 25);
    let reply = server.handle(Some(older), &FapiRequest::GetClient, VTime(30));
    assert_ne!(reply.client.unwrap().id, older.client, "refused: a new client");
    assert!(!server.client(older.client).unwrap().superseded_refused);
    assert!(server.orphaned_sessions(None).is_empty());
}

/// A persisted token from before a sign-out orphans nothing: the sign-out moved the client
/// to a new epoch, and refusing an older epoch is the anti-session-fixation rule, not a
/// token the device lost through no fault of its own (`Server::orphaned_sessions`; the
/// server's own test `reuse_detection_ignores_tokens_from_before_a_sign_out`). A persisted
/// token of the current epoch that the grace in time has let lapse does orphan the
/// client's sessions.
///
/// Catches `reuse.rs:88:17: replace && with ||` and `reuse.rs:89:17: replace && with ||` in
/// `Server::orphaned_sessions`.
#[test]
fn a_persisted_token_from_before_a_sign_out_orphans_nothing() {
    use session_harness::model::settings::{ReuseGrace, ReusePolicy};
    let settings = with_reuse(ReusePolicy::NewClient, ReuseGrace::WindowMs(1_000));
    let (mut server, before_sign_out, first) = signed_in_with(settings);
    let reply = server.handle(Some(before_sign_out), &FapiRequest::RemoveSessions, VTime(20));
    assert!(reply.is_ok(), "{reply:?}");
    let signed_out = reply.client_token.unwrap();
    assert_eq!(signed_out.epoch, before_sign_out.epoch + 1, "a sign-out moves the epoch");
    let (current, second) = sign_in(&mut server, signed_out, 30);
    assert_eq!(server.status_of(first, VTime(30)), Some(SessionStatus::Removed));

    // Long after, every superseded token is outside the grace.
    server.tick(VTime(60_000));
    assert_eq!(server.status_of(second, VTime(60_000)), Some(SessionStatus::Active));
    assert!(server.orphaned_sessions(Some(before_sign_out)).is_empty(), "an older epoch");
    assert!(server.orphaned_sessions(Some(current)).is_empty(), "the current token");
    assert!(server.orphaned_sessions(None).is_empty());
    // The signed-out token is of the current epoch and has lapsed.
    assert_eq!(server.orphaned_sessions(Some(signed_out)), vec![second]);
}

/// Under a grace in rotations, a persisted token the server no longer honours orphans its
/// client's sessions only when it is the one just before the current token (its
/// successor's answer lost, `Server::orphaned_sessions`); one further behind is the
/// device's doing (it failed to store the tokens it received).
///
/// Catches `reuse.rs:91:31: replace + with -` and `replace + with *` in
/// `Server::orphaned_sessions`.
#[test]
fn a_persisted_immediate_predecessor_orphans_under_a_grace_in_rotations() {
    use session_harness::model::settings::{ReuseGrace, ReusePolicy};
    let settings = with_reuse(ReusePolicy::NewClient, ReuseGrace::Versions(0));
    let (mut server, older, sid) = signed_in_with(settings);
    let rotate = |server: &mut Server, token, at| {
        let reply = server.handle(Some(token), &FapiRequest::Environment, VTime(at));
        reply.client_token.expect("a known client's token")
    };
    let before = rotate(&mut server, older, 20);
    let current = rotate(&mut server, before, 30);
    assert_eq!((before.version + 1, older.version + 2), (current.version, current.version));

    assert_eq!(server.orphaned_sessions(Some(before)), vec![sid], "just before: orphaned");
    assert!(server.orphaned_sessions(Some(older)).is_empty(), "two before: the device's doing");
    assert!(server.orphaned_sessions(Some(current)).is_empty(), "the current token");
}

/// In single-session mode a client with a signed-in session cannot sign in again (422
/// `session_exists`; `InstanceSettings::multi_session`: "a second sign-in adds a session
/// instead of failing"); once that session is no longer signed in, it can. In multi-session
/// mode the second sign-in adds a session.
///
/// Catches `sessions.rs:135:9: replace Server::is_signed_in -> bool with false`.
#[test]
fn single_session_mode_refuses_a_second_sign_in_while_one_is_signed_in() {
    let sign_in_request = FapiRequest::SignIn {
        identifier: TEST_USER_IDENTIFIER.into(),
        password: TEST_USER_PASSWORD.into(),
    };
    let (mut server, token, first) = signed_in_with(InstanceSettings::default());
    let reply = server.handle(Some(token), &sign_in_request, VTime(20));
    assert_eq!((reply.status, reply.error_code()), (422, Some("session_exists")), "{reply:?}");
    assert_eq!(server.client(token.client).unwrap().sessions, vec![first]);

    // Ended (reference §2.1: "signed out … remains in the Client"): it stays on the list,
    // no longer signed in, and the client may sign in again.
    let token = reply.client_token.expect("a known client's token");
    let reply = server.handle(Some(token), &FapiRequest::End { sid: first }, VTime(30));
    assert!(reply.is_ok(), "{reply:?}");
    assert_eq!(server.client(token.client).unwrap().sessions, vec![first]);
    let (_, second) = sign_in(&mut server, reply.client_token.unwrap(), 40);
    assert_eq!(server.client(token.client).unwrap().sessions, vec![first, second]);

    let settings = InstanceSettings { multi_session: true, ..InstanceSettings::default() };
    let (mut server, token, first) = signed_in_with(settings);
    let (_, second) = sign_in(&mut server, token, 20);
    assert_eq!(server.client(token.client).unwrap().sessions, vec![first, second]);
}

/// A server with one signed-in session and one ended one (reference §2.1: ended is "signed
/// out … remains in the Client"), on two clients: the server, the signed-in session and the
/// ended one.
fn one_signed_in_one_ended() -> (Server, SessionId, SessionId) {
    let (mut server, token, ended) = signed_in_with(InstanceSettings::default());
    let reply = server.handle(Some(token), &FapiRequest::End { sid: ended }, VTime(20));
    assert!(reply.is_ok(), "{reply:?}");
    let reply = server.handle(None, &FapiRequest::GetClient, VTime(30));
    let (_, active) = sign_in(&mut server, reply.client_token.unwrap(), 40);
    assert_eq!(server.status_of(ended, VTime(40)), Some(SessionStatus::Ended));
    (server, active, ended)
}

/// Another session of the same user takes over a signed-in session (`replace_session`): the
/// old one is `replaced`, the new one active on the same client. A session no longer signed
/// in is not replaced: it keeps its status and no session is made.
///
/// Catches `sessions.rs:244:24: replace match guard s.status.is_signed_in() with true in
/// Server::replace_session`.
#[test]
fn only_a_signed_in_session_is_replaced() {
    let (mut server, active, ended) = one_signed_in_one_ended();
    let sessions = server.sessions.len();
    assert_eq!(server.replace_session(ended, VTime(50)), None);
    assert_eq!(server.status_of(ended, VTime(50)), Some(SessionStatus::Ended));
    assert_eq!(server.sessions.len(), sessions, "no session is made");
    assert_eq!(server.replace_session(SessionId(99), VTime(50)), None, "an unknown session");

    let new = server.replace_session(active, VTime(60)).expect("a signed-in session");
    assert_eq!(server.status_of(active, VTime(60)), Some(SessionStatus::Replaced));
    assert_eq!(server.status_of(new, VTime(60)), Some(SessionStatus::Active));
    let (old, new) = (server.session(active).unwrap(), server.session(new).unwrap());
    assert_eq!((new.client, new.user), (old.client, old.user));
}

/// A server-side task (`add_task`) makes a signed-in session `pending` with that task, once
/// however often it is added, and says so; a session no longer signed in, or unknown, takes
/// no task and stays as it is.
///
/// Catches `sessions.rs:256:9: replace Server::add_task -> bool with true` / `with false`,
/// both match-guard replacements in `Server::add_task`, and `sessions.rs:259:20: delete ! in
/// Server::add_task`.
#[test]
fn a_server_side_task_makes_a_signed_in_session_pending_once() {
    let (mut server, active, ended) = one_signed_in_one_ended();
    assert!(!server.add_task(ended, TaskKey::ResetPassword, VTime(50)), "ended");
    let s = server.session(ended).unwrap();
    assert_eq!((s.status, s.tasks.len()), (SessionStatus::Ended, 0));
    assert!(!server.add_task(SessionId(99), TaskKey::ResetPassword, VTime(50)), "unknown");

    assert!(server.add_task(active, TaskKey::ResetPassword, VTime(60)));
    assert!(server.add_task(active, TaskKey::ResetPassword, VTime(70)), "again");
    let s = server.session(active).unwrap();
    assert_eq!((s.status, s.tasks.clone()), (SessionStatus::Pending, vec![TaskKey::ResetPassword]));
    assert_eq!(s.status_at, VTime(60), "pending since the first");
}

/// Server-side completion of every task (`clear_tasks`) makes a signed-in session `active`
/// with no task left, and says so; a session no longer signed in, or unknown, is left as it
/// is.
///
/// Catches `sessions.rs:273:9: replace Server::clear_tasks -> bool with true` / `with
/// false`, and both match-guard replacements in `Server::clear_tasks`.
#[test]
fn clearing_tasks_activates_only_a_signed_in_session() {
    let (mut server, active, ended) = one_signed_in_one_ended();
    assert!(!server.clear_tasks(ended, VTime(50)), "ended");
    assert_eq!(server.status_of(ended, VTime(50)), Some(SessionStatus::Ended));
    assert!(!server.clear_tasks(SessionId(99), VTime(50)), "unknown");

    assert!(server.add_task(active, TaskKey::SetupMfa, VTime(60)));
    assert!(server.add_task(active, TaskKey::ChooseOrganization, VTime(60)));
    assert!(server.clear_tasks(active, VTime(70)));
    let s = server.session(active).unwrap();
    assert_eq!((s.status, s.tasks.len(), s.status_at), (SessionStatus::Active, 0, VTime(70)));
}

/// A session token is valid from its `nbf` (RFC 7519 §4.1.5: not accepted *before* it), which
/// Clerk sets 10 s before `iat` against clock skew (`TOKEN_NBF_SKEW_S`): the backend's
/// check refuses it 1 ms before `nbf` and accepts it at `nbf` exactly.
///
/// Catches `sessions.rs:316:26: replace < with <=` and `replace < with ==` in
/// `Server::check_session_token`.
#[test]
fn a_session_token_is_valid_from_its_nbf_to_the_millisecond() {
    use session_harness::model::server::{TOKEN_NBF_SKEW_S, TokenRejection};
    let (mut server, token, sid) = signed_in_with(InstanceSettings::default());
    let tokens = FapiRequest::Tokens { sid, carried: None, force_origin: false, template: None };
    let reply = server.handle(Some(token), &tokens, VTime(60_000));
    let ReplyBody::Token(jwt) = reply.body else { panic!("{reply:?}") };
    assert_eq!(jwt.nbf, jwt.iat - TOKEN_NBF_SKEW_S);
    let nbf = VTime::from_unix_s(jwt.nbf);
    assert_eq!(nbf, VTime(50_000));

    let before = VTime(nbf.0 - 1);
    assert_eq!(server.check_session_token(&jwt, before), Err(TokenRejection::NotYetValid));
    assert_eq!(
        server.check_session_token(&jwt, VTime(nbf.0 - 5_000)),
        Err(TokenRejection::NotYetValid)
    );
    assert_eq!(server.check_session_token(&jwt, nbf), Ok(()));
    assert_eq!(server.check_session_token(&jwt, VTime(60_000)), Ok(()));
}
