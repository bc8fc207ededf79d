//! `cargo xtask adapter-check --sdk cmd:COMMAND`: conformance level L0 in seconds, for an SDK
//! author writing an adapter.
//!
//! 1. **Hello.** The adapter is started and must print its hello line within the hello limit
//!    (`SESSION_HARNESS_ADAPTER_HELLO_TIMEOUT_MS`, 3 s here unless set): no hello fails at
//!    once with the hint about flushing stdout. The line is checked against the protocol's
//!    JSON Schema (every malformed field named, not just the first) and must carry the
//!    `sdk` and `version` the gate labels the SDK by.
//! 2. **A short session.** A scripted run (launch, sign-in, tokens, an API call, offline and
//!    online, background and foreground, navigation, sign-out, kill and relaunch) through
//!    the harness's own adapter driver, which checks every reply (clock, call ids, tokens,
//!    request joins); every line the adapter wrote is also checked against the schema.
//!
//! Nothing is compared with the model here: that is the gate's L2. An event the adapter
//! answers `unsupported` is listed (the gate skips the cases that need it), not failed.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use session_harness::model::profile::ProfileId;
use session_harness::model::settings::Setup;
use session_harness::model::vocab::{AppPath, AppState, Event, Network, Platform};
use session_harness::runner::spec::SdkSpec;
use session_harness::sdk::external::command::{HELLO_TIMEOUT_ENV, TIMEOUT_ENV};
use session_harness::sdk::external::process::{Line, Process, ReadError, show};
use session_harness::sdk::external::protocol::{self, FLUSH_HINT, Hello, Message};
use session_harness::sdk::external::{AdapterCommand, ExternalSdk, Timeouts, Transcribed};
use session_harness::sdk::{PortError, SdkPort};

#[derive(clap::Args)]
pub struct Args {
    /// The adapter: `cmd:COMMAND` (run with `sh -c` in the repository root).
    #[arg(long)]
    sdk: String,
}

/// The hello limit when the environment does not set one: an adapter prints its hello
/// before it loads anything heavy, so seconds are plenty and a missing one fails fast.
const HELLO_DEFAULT_MS: u64 = 3_000;
/// The step limit when the environment does not set one.
const STEP_DEFAULT_MS: u64 = 5_000;

fn workspace_root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ has a parent")
        .into()
}

/// The limits: the environment's when set, else this check's short defaults.
fn timeouts() -> Timeouts {
    let ms = |name: &str, default: u64| {
        std::env::var(name).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(default)
    };
    Timeouts {
        hello: Duration::from_millis(ms(HELLO_TIMEOUT_ENV, HELLO_DEFAULT_MS)),
        step: Duration::from_millis(ms(TIMEOUT_ENV, STEP_DEFAULT_MS)),
        shutdown: Timeouts::default().shutdown,
    }
}

/// The JSON Schema errors of `line` as `message`: one per malformed field, with its path.
pub fn schema_errors(message: Message, line: &str) -> Vec<String> {
    let value: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return vec![format!("not JSON ({e}): {}", protocol::quote(line))],
    };
    let schema = protocol::message_schema(message);
    let validator = jsonschema::validator_for(&schema).expect("the generated schema compiles");
    validator
        .iter_errors(&value)
        .map(|e| {
            let path = e.instance_path().to_string();
            let at = if path.is_empty() { "(the line)".to_string() } else { format!("`{path}`") };
            format!("{at}: {e}")
        })
        .collect()
}

/// The scripted session of step 2: every kind of app event an adapter handles.
fn script() -> Vec<Event> {
    let path = |p: &str| AppPath::new(p);
    vec![
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
        Event::SignIn { task: None },
        Event::Advance { ms: 2_000 },
        Event::GetToken { skip_cache: false, template: None },
        Event::GetToken { skip_cache: true, template: None },
        Event::Advance { ms: 1_000 },
        Event::ApiCall { path: path("/orders") },
        Event::Advance { ms: 1_000 },
        Event::Network { state: Network::Offline },
        Event::GetToken { skip_cache: false, template: None },
        Event::Advance { ms: 1_000 },
        Event::Network { state: Network::Online },
        Event::AppState { state: AppState::Background },
        Event::Advance { ms: 90_000 },
        Event::AppState { state: AppState::Active },
        Event::Advance { ms: 1_000 },
        Event::Navigate { path: path("/settings") },
        Event::SetActive,
        Event::Advance { ms: 1_000 },
        Event::SignOut,
        Event::Advance { ms: 1_000 },
        Event::Kill,
        Event::ColdStart,
        Event::Advance { ms: 1_000 },
    ]
}

pub fn run(args: Args) -> Result<bool> {
    let spec = SdkSpec::parse(&args.sdk)?;
    let SdkSpec::Command { command } = &spec else {
        bail!("adapter-check takes an adapter command: `--sdk cmd:COMMAND` (got `{spec}`)");
    };
    let root = workspace_root();
    let command = AdapterCommand::cmd(&root, command).with_timeouts(timeouts());
    let started = Instant::now();
    println!(
        "adapter-check (L0): `{}` (hello within {} ms, each step within {} ms)",
        command.display(),
        command.timeouts.hello.as_millis(),
        command.timeouts.step.as_millis()
    );

    // 1. The hello line, read here so that every malformed field can be named.
    let rt = ExternalSdk::runtime();
    let hello_line = rt.block_on(async {
        let mut process = Process::spawn(&command).map_err(anyhow::Error::msg)?;
        let line = process.read(command.timeouts.hello).await;
        let out = match line {
            Err(ReadError::Timeout) => Err({
                // Killed at once: an adapter that ignores the end of its input must not
                // stretch a fast failure.
                process.kill();
                format!(
                    "no hello line within {} ms; {FLUSH_HINT}",
                    command.timeouts.hello.as_millis()
                )
            }),
            Ok(Line::Text(text)) => Ok(text),
            Ok(Line::Eof) => {
                let _ = process.wait_exit(Duration::from_millis(500)).await;
                Err(format!(
                    "the adapter ended before its hello line: {}; {}",
                    process.status_text(),
                    process.stderr_tail(Duration::from_millis(300)).await
                ))
            }
            Ok(other) => Err(format!("the hello line is {}", show(&other))),
        };
        process.close_stdin();
        let _ = process.wait_exit(command.timeouts.shutdown).await;
        Ok::<_, anyhow::Error>(out)
    })?;
    let hello_line = match hello_line {
        Ok(line) => line,
        Err(why) => {
            println!("FAIL hello ({:.1}s): {why}", started.elapsed().as_secs_f64());
            return Ok(false);
        }
    };
    let mut failures = schema_errors(Message::Hello, &hello_line);
    let label = match serde_json::from_str::<Hello>(&hello_line) {
        Ok(hello) => {
            if hello.hello != protocol::HELLO {
                failures.push(format!(
                    "`/hello`: says {:?}, expected {:?}",
                    hello.hello,
                    protocol::HELLO
                ));
            }
            if !protocol::PROTOCOLS.contains(&hello.protocol) {
                failures.push(format!(
                    "`/protocol`: the adapter speaks {}, the harness speaks {}",
                    hello.protocol,
                    protocol::protocols_text()
                ));
            }
            match hello.label() {
                Ok(label) => Some(label),
                Err(e) => {
                    failures.push(e);
                    None
                }
            }
        }
        Err(_) => None,
    };
    if !failures.is_empty() {
        println!("FAIL hello {}:", protocol::quote(&hello_line));
        for f in &failures {
            println!("  {f}");
        }
        return Ok(false);
    }
    let label = label.expect("a hello without failures has a label");
    println!("ok   hello: {label} ({:.1}s)", started.elapsed().as_secs_f64());

    // 2. A short session through the harness's driver, every line checked.
    let command = AdapterCommand { label: label.clone(), ..command };
    let mut sdk = ExternalSdk::new(Setup::new(Platform::Ios, ProfileId::Documented), command);
    sdk.record_transcript();
    let mut unsupported = Vec::new();
    let mut broken = None;
    let mut steps = 0;
    rt.block_on(async {
        for (i, event) in script().iter().enumerate() {
            steps = i + 1;
            match sdk.step(event).await {
                Ok(_) => {}
                Err(PortError::Unsupported { event, .. }) => {
                    unsupported.push(event);
                    // An unsupported event ends the process; relaunch for the rest.
                    let _ = sdk.step(&Event::Kill).await;
                    let _ = sdk.step(&Event::ColdStart).await;
                }
                Err(e) => {
                    broken = Some(e);
                    break;
                }
            }
        }
    });
    let mut lines = 0;
    for line in sdk.transcript() {
        let (message, text) = match line {
            Transcribed::Sent(t) => (Message::Request, t),
            Transcribed::Hello(t) => (Message::Hello, t),
            Transcribed::Received(t) => (Message::Reply, t),
        };
        lines += 1;
        for e in schema_errors(message, text) {
            failures.push(format!("{} line {}: {e}", message.name(), protocol::quote(text)));
        }
    }
    for u in &unsupported {
        println!("note unsupported: {u} (the gate reports cases that need it as skipped)");
    }
    let wall = started.elapsed().as_secs_f64();
    if let Some(e) = &broken {
        failures.insert(0, e.to_string());
    }
    if failures.is_empty() {
        println!("ok   session: {steps} events, {lines} lines, every one valid ({wall:.1}s)");
        println!("adapter-check {label}: pass (L0) in {wall:.1}s");
        Ok(true)
    } else {
        println!("FAIL session after {steps} events ({wall:.1}s):");
        for f in &failures {
            println!("  {f}");
        }
        println!("adapter-check {label}: FAIL (L0)");
        Ok(false)
    }
}
