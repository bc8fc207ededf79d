//! The app's backend: a protected API that verifies Clerk session JWTs as a real Clerk
//! backend would, and answers 200 or 401.
//!
//! Verification (DESIGN.md §7.4): RS256 only, `kid` in the JWKS, signature, issuer,
//! authorized party, `exp` / `nbf` / `iat` against the *virtual* clock (jsonwebtoken's own
//! time checks off, no leeway), then the session still signed in on the server
//! ([`Server::check_session_token`](crate::model::server::Server::check_session_token)).
//! Each failure has its own [`Rejection`].
//!
//! JWT templates: a request under `/api/template/{name}/` is a call to a service configured
//! for the instance's template `name` (Supabase, Convex, …), and such a service verifies
//! what it can: signature, issuer, authorized party, time claims, and each of the template's
//! custom claims equal to its declared value (`template_claim_mismatch` otherwise, so a session
//! token or another template's token with other claims is refused). It cannot check the
//! session: a template token carries no `sid` (clerk/clerk-docs #2286), so it stays valid until
//! its own `exp` whatever becomes of the session. The session API (every other `/api/` path)
//! refuses a template token (`not_a_session_token`): it must know the session to check it.
//!
//! Two ways in, one set of rules: [`Backend::handle`] takes an HTTP-like request with
//! `Authorization: Bearer <jwt>` and verifies the text; [`Backend::call`] takes an in-process
//! [`SessionToken`] and skips only the RSA step, because its claims come straight from a
//! signer whose key is in the JWKS — every check after the signature is the same code. Both
//! give byte-identical responses for the same token.

use std::sync::Arc;

use serde_json::json;
use wiremock::{MockServer, Request};

use crate::fapi::handler::{Fapi, SharedServer, lock};
use crate::fapi::http::{HttpRequest, HttpResponse};
use crate::jwt::{Jwks, Rejection, SessionClaims, SessionToken, Verifier};
use crate::model::server::TokenRejection;
use crate::model::time::VTime;
use crate::model::vocab::{TemplateName, TokenInfo};

/// Prefix of the protected API's paths.
pub const API_PREFIX: &str = "/api/";
/// Prefix of the paths of services configured for a JWT template: `/api/template/{name}/…`.
pub const TEMPLATE_API_PREFIX: &str = "/api/template/";

/// Who a route expects a token from: the session API, or a service of one template.
enum Audience<'a> {
    Session,
    Template(&'a str),
}

fn audience(path: &str) -> Audience<'_> {
    match path.strip_prefix(TEMPLATE_API_PREFIX) {
        Some(rest) => Audience::Template(rest.split('/').next().unwrap_or("")),
        None => Audience::Session,
    }
}

/// Who a verified request is from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    pub info: TokenInfo,
    pub claims: SessionClaims,
}

/// The app's backend over a shared server.
#[derive(Clone, Debug)]
pub struct Backend {
    server: SharedServer,
    verifier: Arc<Verifier>,
}

/// The backend answers the app's `/api/` routes when mounted beside the emulator.
impl crate::fapi::wire::AppRoutes for Backend {
    fn handle(&self, request: &HttpRequest, now: VTime) -> HttpResponse {
        Backend::handle(self, request, now)
    }
}

impl Backend {
    /// A backend that trusts `fapi`: it reads the JWKS the emulator serves (as a real backend
    /// fetches `/.well-known/jwks.json`), its issuer and its authorized party.
    pub fn new(fapi: &Fapi) -> Backend {
        let text = std::str::from_utf8(fapi.jwks_json()).expect("the served JWKS is UTF-8 JSON");
        let jwks = Jwks::from_json(text).expect("the served JWKS parses");
        let config = fapi.config();
        let verifier = Verifier::new(jwks, &config.issuer(), &[&config.authorized_party]);
        Backend::with_verifier(fapi.server().clone(), verifier)
    }

    pub fn with_verifier(server: SharedServer, verifier: Verifier) -> Backend {
        Backend { server, verifier: Arc::new(verifier) }
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Verifies a compact JWT fully, then the session on the server.
    pub fn authenticate_jwt(&self, jwt: &str, now: VTime) -> Result<Authenticated, Rejection> {
        self.authenticate_jwt_at("/api/", jwt, now)
    }

    /// Verifies a compact JWT fully for the route `path` (the session API, or a template's).
    pub fn authenticate_jwt_at(
        &self,
        path: &str,
        jwt: &str,
        now: VTime,
    ) -> Result<Authenticated, Rejection> {
        let verified = self.verifier.verify(jwt, now)?;
        self.authorize(path, &verified.claims, &verified.info, now)?;
        Ok(Authenticated { info: verified.info, claims: verified.claims })
    }

    /// Verifies an in-process token: the same checks as [`Backend::authenticate_jwt`] except
    /// the RSA signature, which the token's signer guarantees. A token from a signer whose
    /// key is not in this backend's JWKS is refused as an unknown `kid`.
    pub fn authenticate_token(
        &self,
        token: &SessionToken,
        now: VTime,
    ) -> Result<Authenticated, Rejection> {
        self.authenticate_token_at("/api/", token, now)
    }

    fn authenticate_token_at(
        &self,
        path: &str,
        token: &SessionToken,
        now: VTime,
    ) -> Result<Authenticated, Rejection> {
        let signer = token.signer();
        if self.verifier_kid_unknown(signer.kid()) {
            return Err(Rejection::UnknownKid { kid: signer.kid().to_string() });
        }
        let claims = signer.claims(token.info());
        self.verifier.check_claims(&claims, now)?;
        self.authorize(path, &claims, token.info(), now)?;
        Ok(Authenticated { info: *token.info(), claims })
    }

    /// What the route checks after the signature and the time claims: the session on the
    /// server for the session API; the template's claims for a template's service.
    fn authorize(
        &self,
        path: &str,
        claims: &SessionClaims,
        info: &TokenInfo,
        now: VTime,
    ) -> Result<(), Rejection> {
        match audience(path) {
            Audience::Session => {
                if claims.sid.is_none() {
                    return Err(Rejection::NotASessionToken);
                }
                self.check_session(info, now)
            }
            Audience::Template(name) => {
                let templates = lock(&self.server).settings.templates;
                let template = TemplateName::parse(name)
                    .ok()
                    .and_then(|n| templates.get(n).copied())
                    .ok_or_else(|| Rejection::UnknownTemplate { name: name.to_string() })?;
                for (claim, expected) in template.claims() {
                    let found = claims.custom_str(claim);
                    if found != Some(expected) {
                        return Err(Rejection::TemplateClaimMismatch {
                            claim: claim.to_string(),
                            expected: expected.to_string(),
                            found: found.map(str::to_string),
                        });
                    }
                }
                Ok(())
            }
        }
    }

    fn verifier_kid_unknown(&self, kid: &str) -> bool {
        self.verifier.jwks().find(kid).is_none()
    }

    /// The server-side check: time claims against the virtual clock and the session still
    /// signed in.
    fn check_session(&self, info: &TokenInfo, now: VTime) -> Result<(), Rejection> {
        let mut server = lock(&self.server);
        match server.check_session_token(info, now) {
            Ok(()) => Ok(()),
            Err(TokenRejection::Expired) => Err(Rejection::Expired { exp: info.exp }),
            Err(TokenRejection::NotYetValid) => Err(Rejection::NotYetValid { nbf: info.nbf }),
            Err(TokenRejection::UnknownSession) => Err(Rejection::UnknownSession),
            Err(TokenRejection::NotASessionToken) => Err(Rejection::NotASessionToken),
            Err(TokenRejection::SessionNotActive) => match server.status_of(info.sid, now) {
                Some(status) => Err(Rejection::SessionNotActive { status }),
                None => Err(Rejection::UnknownSession),
            },
        }
    }

    /// Serves the protected API from an HTTP-like request (`Authorization: Bearer <jwt>`).
    pub fn handle(&self, request: &HttpRequest, now: VTime) -> HttpResponse {
        if !request.path.starts_with(API_PREFIX) {
            return not_found(&request.path);
        }
        let result = match request.header_value("authorization").map(str::trim) {
            None | Some("") => Err(Rejection::MissingToken),
            Some(value) => match value.strip_prefix("Bearer ") {
                Some(jwt) => self.authenticate_jwt_at(&request.path, jwt.trim(), now),
                None => Err(Rejection::Malformed {
                    detail: "authorization is not `Bearer <jwt>`".to_string(),
                }),
            },
        };
        respond(&request.path, result)
    }

    /// Serves the protected API in-process: `path` with an optional token handle. Gives the
    /// same response as [`Backend::handle`] with that token's JWT.
    pub fn call(&self, path: &str, token: Option<&SessionToken>, now: VTime) -> HttpResponse {
        if !path.starts_with(API_PREFIX) {
            return not_found(path);
        }
        respond(path, self.authenticate_call(path, token, now))
    }

    /// The status [`Backend::call`] answers, without rendering its body: the reference SDK
    /// reads the status only, once per API call of every soak and campaign step.
    pub fn call_status(&self, path: &str, token: Option<&SessionToken>, now: VTime) -> u16 {
        if !path.starts_with(API_PREFIX) {
            // Off the hot path: the one place that says what a path off the API answers.
            return not_found(path).status;
        }
        match self.authenticate_call(path, token, now) {
            Ok(_) => ANSWERED,
            Err(_) => UNAUTHENTICATED,
        }
    }

    fn authenticate_call(
        &self,
        path: &str,
        token: Option<&SessionToken>,
        now: VTime,
    ) -> Result<Authenticated, Rejection> {
        match token {
            None => Err(Rejection::MissingToken),
            Some(token) => self.authenticate_token_at(path, token, now),
        }
    }
}

fn json_headers() -> Vec<(String, String)> {
    vec![("content-type".to_string(), "application/json".to_string())]
}

/// What an authenticated call answers, and a rejected one ([`respond`], [`Backend::call_status`]).
const ANSWERED: u16 = 200;
const UNAUTHENTICATED: u16 = 401;

fn respond(path: &str, result: Result<Authenticated, Rejection>) -> HttpResponse {
    match result {
        Ok(auth) => HttpResponse::with_bytes(
            ANSWERED,
            json_headers(),
            serde_json::to_vec(&json!({
                "ok": true,
                "path": path,
                "user_id": auth.info.sub.to_string(),
                // A template token names no session (it has no `sid`).
                "session_id": auth.claims.sid,
            }))
            .expect("JSON values always serialise"),
        ),
        Err(rejection) => {
            let mut headers = json_headers();
            headers.push((
                "www-authenticate".to_string(),
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    rejection.code()
                ),
            ));
            HttpResponse::with_bytes(
                UNAUTHENTICATED,
                headers,
                serde_json::to_vec(&json!({
                    "error": "unauthenticated",
                    "reason": rejection.code(),
                    "message": rejection.to_string(),
                }))
                .expect("JSON values always serialise"),
            )
        }
    }
}

fn not_found(path: &str) -> HttpResponse {
    HttpResponse::with_bytes(
        404,
        json_headers(),
        serde_json::to_vec(&json!({
            "error": "not_found",
            "message": format!("`{path}` is not under {API_PREFIX}"),
        }))
        .expect("JSON values always serialise"),
    )
}

/// Starts the backend alone on a mock server on 127.0.0.1. The virtual time comes from
/// `x-harness-virtual-time`, as for the emulator; without it, the backend's server is asked
/// at the epoch, so a client that talks HTTP must send the header.
pub async fn start(backend: Backend) -> MockServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binding an ephemeral port on the loopback interface");
    let server = MockServer::builder().listener(listener).disable_request_recording().start().await;
    crate::fapi::wire::mount(&server, Alone(backend)).await;
    server
}

/// The backend as the only dispatcher of a mock server (see [`start`]).
struct Alone(Backend);

impl crate::fapi::wire::Dispatch for Alone {
    fn dispatch(&self, request: &Request) -> crate::fapi::wire::Outcome {
        let request = crate::fapi::wire::to_http_request(request);
        let response = match crate::fapi::wire::virtual_time(&request) {
            Ok(now) => self.0.handle(&request, now.unwrap_or(VTime::ZERO)),
            Err(e) => crate::fapi::wire::error_response(&e),
        };
        crate::fapi::wire::Outcome::Answer(response, None)
    }
}
