//! The adapter protocol's JSON Schema (`schema/adapter-protocol.schema.json`) is the one the
//! message types generate, and the example Python adapter's lines — its hello and every
//! reply of a session that touches every app event — validate against it, as do the
//! requests the harness wrote. A malformed line is refused naming its field.

use std::path::{Path, PathBuf};

use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{AppPath, AppState, Event, Network, Platform};
use session_harness::sdk::SdkPort;
use session_harness::sdk::external::protocol::{self, Message};
use session_harness::sdk::external::{AdapterCommand, ExternalSdk, Transcribed, probe_hello};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("harness/ has a parent").to_path_buf()
}

fn validator(message: Message) -> jsonschema::Validator {
    jsonschema::validator_for(&protocol::message_schema(message)).expect("the schema compiles")
}

fn errors(message: Message, line: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    validator(message).iter_errors(&value).map(|e| format!("{} {e}", e.instance_path())).collect()
}

#[test]
fn committed_protocol_schema_is_current() {
    let path = root().join("schema/adapter-protocol.schema.json");
    let committed = std::fs::read_to_string(&path).expect("schema/adapter-protocol.schema.json");
    assert!(
        committed == protocol::json_schema(),
        "schema/adapter-protocol.schema.json is stale; regenerate it with `cargo xtask schema`"
    );
    // Every message, event and happening is in it.
    for word in ["Hello", "Request", "Reply", "get_token", "call_settled", "storage_written"] {
        assert!(committed.contains(word), "the protocol schema lacks `{word}`");
    }
}

#[test]
fn the_python_adapters_lines_validate_against_the_schema() {
    let command = AdapterCommand::cmd(&root(), "python3 adapters/python/adapter.py");
    let (hello, line) = probe_hello(&command).expect("the example adapter says hello");
    assert_eq!(hello.label().as_deref(), Ok("py-session-sdk@0.1.0"));
    assert!(errors(Message::Hello, &line).is_empty(), "{line}");

    let setup = Setup::new(Platform::Ios, ProfileId::Documented);
    let mut sdk = ExternalSdk::new(setup, command);
    sdk.record_transcript();
    let events = [
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 2_000 },
        Event::GetToken { skip_cache: true, template: None },
        Event::ApiCall { path: AppPath::new("/orders") },
        Event::Advance { ms: 1_000 },
        Event::Network { state: Network::Offline },
        Event::GetToken { skip_cache: false, template: None },
        Event::Network { state: Network::Online },
        Event::AppState { state: AppState::Background },
        Event::Advance { ms: 120_000 },
        Event::AppState { state: AppState::Active },
        Event::Navigate { path: AppPath::new("/settings") },
        Event::SetActive,
        Event::CompleteTask,
        Event::Advance { ms: 1_000 },
        Event::SessionEnd,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 1_000 },
        Event::SignOut,
        Event::Advance { ms: 1_000 },
        Event::Kill,
    ];
    let rt = ExternalSdk::runtime();
    rt.block_on(async {
        for event in &events {
            sdk.step(event).await.unwrap_or_else(|e| panic!("{event}: {e}"));
        }
    });
    let (mut replies, mut requests, mut invalid) = (0, 0, Vec::new());
    for line in sdk.transcript() {
        let (message, text) = match line {
            Transcribed::Sent(t) => {
                requests += 1;
                (Message::Request, t)
            }
            Transcribed::Hello(t) => (Message::Hello, t),
            Transcribed::Received(t) => {
                replies += 1;
                (Message::Reply, t)
            }
        };
        for e in errors(message, text) {
            invalid.push(format!("{}: {e}\n  {}", message.name(), protocol::quote(text)));
        }
    }
    assert!(invalid.is_empty(), "{}", invalid.join("\n"));
    assert!(replies >= 20 && requests == replies, "{replies} replies to {requests} requests");
    let happenings: String = sdk
        .transcript()
        .iter()
        .filter_map(|l| match l {
            Transcribed::Received(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    for what in ["rendered", "call_started", "call_settled", "request_sent", "backend_hit"] {
        assert!(happenings.contains(&format!("\"what\":\"{what}\"")), "no `{what}` was checked");
    }
}

#[test]
fn a_malformed_line_is_refused_naming_each_field() {
    let e = errors(Message::Hello, r#"{"hello": 3, "protocol": "one"}"#);
    assert!(e.iter().any(|e| e.starts_with("/hello")), "{e:?}");
    assert!(e.iter().any(|e| e.starts_with("/protocol")), "{e:?}");
    let e = errors(
        Message::Reply,
        r#"{"id": 2, "ok": true, "next_call": 3, "obs": {"now_ms": 0, "open_calls": 0,
            "in_flight": 0, "view": {"route": {"screen": "nowhere"}, "is_loaded": "yes"},
            "happenings": [{"what": "call_started", "at": 0, "call": 1, "kind": "teleport"}]}}"#,
    );
    for field in ["/obs/view/route", "/obs/view/is_loaded", "/obs/happenings/0"] {
        assert!(e.iter().any(|e| e.starts_with(field)), "{field} not named in {e:?}");
    }
}
