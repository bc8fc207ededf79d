//! Response encoding: the model's [`FapiReply`] as the JSON clerk-js 6.40 parses.
//!
//! Shapes follow reference §4.2 and §4.4: `{response, client}` envelopes; bare
//! `{object:"token", jwt}` tokens and a bare environment; errors as
//! `{errors:[{code, message, long_message, meta}]}`; timestamps in Unix milliseconds; every
//! session with `public_user_data` and, when signed in, a decodable `last_active_token`; no
//! `commerce_settings` at all (a partial one breaks `load()`).
//!
//! Encoding is deterministic: `serde_json` maps are ordered, and nothing here reads a clock.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::jwt::{InstanceKind, Signer};
use crate::model::server::{ClientView, EnvironmentView, FapiReply, ReplyBody, SessionSnap};
use crate::model::time::VTime;
use crate::model::vocab::{SessionId, TokenInfo, UserId};

use super::decode::WireError;

/// What rendering a reply needs besides the reply: the signer for tokens, the users'
/// identifiers for `public_user_data`, and the instant of the request.
#[derive(Debug)]
pub struct RenderCtx {
    pub signer: Arc<Signer>,
    pub instance: InstanceKind,
    pub users: Arc<Vec<(UserId, String)>>,
    pub now: VTime,
}

impl RenderCtx {
    /// The JSON body of `reply`.
    pub fn render(&self, reply: &FapiReply) -> Vec<u8> {
        let value = match &reply.body {
            ReplyBody::Environment(env) => environment_json(env, self.instance),
            ReplyBody::Token(token) => self.token_json(token),
            ReplyBody::Error(e) => errors_json(e.code, e.message, &e.long_message, None),
            ReplyBody::Client => {
                let client = reply.client.as_ref().map(|c| self.client_json(c));
                json!({ "response": client.clone().unwrap_or(Value::Null), "client": client })
            }
            ReplyBody::Session(snap) => json!({
                "response": self.session_json(snap),
                "client": reply.client.as_ref().map(|c| self.client_json(c)),
            }),
            ReplyBody::SignIn { created_session } => json!({
                "response": self.sign_in_json(*created_session, reply.client.as_ref()),
                "client": reply.client.as_ref().map(|c| self.client_json(c)),
            }),
        };
        serde_json::to_vec(&value).expect("JSON values always serialise")
    }

    fn token_json(&self, token: &TokenInfo) -> Value {
        json!({ "object": "token", "jwt": &*self.signer.sign(token) })
    }

    fn identifier(&self, user: UserId) -> &str {
        self.users.iter().find(|(id, _)| *id == user).map(|(_, i)| i.as_str()).unwrap_or("")
    }

    fn client_json(&self, client: &ClientView) -> Value {
        let ms = self.now.unix_ms();
        json!({
            "object": "client",
            "id": client.id.to_string(),
            "sessions": client.sessions.iter().map(|s| self.session_json(s)).collect::<Vec<_>>(),
            "sign_in": null,
            "sign_up": null,
            "last_active_session_id": client.last_active_session.map(|s| s.to_string()),
            "cookie_expires_at": null,
            "captcha_bypass": false,
            "created_at": ms,
            "updated_at": ms,
        })
    }

    fn session_json(&self, s: &SessionSnap) -> Value {
        let identifier = self.identifier(s.user);
        // Only a signed-in session carries a token: clerk-js decodes it in the Session
        // constructor, and a terminal session's old token would only confuse its cache.
        let token =
            s.last_active_token.filter(|_| s.status.is_signed_in()).map(|t| self.token_json(&t));
        let tasks = if s.tasks.is_empty() {
            Value::Null
        } else {
            Value::Array(s.tasks.iter().map(|t| json!({ "key": t.as_str() })).collect())
        };
        json!({
            "object": "session",
            "id": s.id.to_string(),
            "status": s.status.as_str(),
            "expire_at": s.expire_at.map(VTime::unix_ms),
            "abandon_at": s.abandon_at.map(VTime::unix_ms),
            "last_active_at": s.last_active_at.unix_ms(),
            "last_active_organization_id": null,
            "last_active_token": token,
            "actor": null,
            "tasks": tasks,
            "factor_verification_age": [0, -1],
            "user": user_json(s.user, s.created_at),
            "public_user_data": {
                "first_name": null,
                "last_name": null,
                "image_url": "",
                "has_image": false,
                "identifier": identifier,
                "user_id": s.user.to_string(),
            },
            "created_at": s.created_at.unix_ms(),
            "updated_at": s.last_active_at.unix_ms(),
        })
    }

    fn sign_in_json(&self, sid: SessionId, client: Option<&ClientView>) -> Value {
        let identifier = client
            .and_then(|c| c.sessions.iter().find(|s| s.id == sid))
            .map(|s| self.identifier(s.user))
            .unwrap_or("");
        json!({
            "object": "sign_in",
            "id": format!("sia_{}", sid.0),
            "status": "complete",
            "identifier": identifier,
            "created_session_id": sid.to_string(),
            "supported_identifiers": ["email_address"],
            "supported_first_factors": [],
            "supported_second_factors": null,
            "first_factor_verification": null,
            "second_factor_verification": null,
            "user_data": null,
            "abandon_at": self.now.plus(crate::model::time::DAY_MS).unix_ms(),
        })
    }
}

/// The user, with every array clerk-js defaults present and empty (reference §4.4). The
/// identifier travels in `public_user_data`, where clerk-js reads it.
fn user_json(user: UserId, created: VTime) -> Value {
    json!({
        "object": "user",
        "id": user.to_string(),
        "username": null,
        "first_name": null,
        "last_name": null,
        "image_url": "",
        "has_image": false,
        "primary_email_address_id": null,
        "primary_phone_number_id": null,
        "primary_web3_wallet_id": null,
        "email_addresses": [],
        "phone_numbers": [],
        "web3_wallets": [],
        "external_accounts": [],
        "passkeys": [],
        "organization_memberships": [],
        "enterprise_accounts": [],
        "password_enabled": true,
        "two_factor_enabled": false,
        "public_metadata": {},
        "unsafe_metadata": {},
        "external_id": null,
        "created_at": created.unix_ms(),
        "updated_at": created.unix_ms(),
    })
}

/// The environment, bare (as the msw mock and clerk-js accept it).
pub fn environment_json(env: &EnvironmentView, instance: InstanceKind) -> Value {
    json!({
        "object": "environment",
        "id": "env_1",
        "auth_config": {
            "object": "auth_config",
            "id": "aac_1",
            "single_session_mode": env.single_session_mode,
            "session_minter": env.session_minter,
            "claimed_at": null,
            "reverification": false,
        },
        "display_config": {
            "object": "display_config",
            "id": "display_config_1",
            "instance_environment_type": instance.environment_type(),
            "application_name": "session-harness",
        },
        "user_settings": {
            "attributes": {
                "email_address": {
                    "enabled": true,
                    "required": true,
                    "used_for_first_factor": true,
                    "first_factors": ["email_code"],
                    "used_for_second_factor": false,
                    "second_factors": [],
                    "verifications": ["email_code"],
                    "verify_at_sign_up": true,
                },
                "password": { "enabled": true, "required": true },
            },
        },
        "organization_settings": { "enabled": false },
        "maintenance_mode": false,
        "client_debug_mode": false,
    })
}

/// `{errors:[{code, message, long_message, meta}]}`.
pub fn errors_json(code: &str, message: &str, long: &str, param: Option<&str>) -> Value {
    let meta = match param {
        Some(p) => json!({ "param_name": p }),
        None => json!({}),
    };
    json!({ "errors": [{ "code": code, "message": message, "long_message": long, "meta": meta }] })
}

/// A decode error as a response body.
pub fn wire_error_body(e: &WireError) -> Vec<u8> {
    serde_json::to_vec(&errors_json(e.code, e.message, &e.long_message, e.param))
        .expect("JSON values always serialise")
}
