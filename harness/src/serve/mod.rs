//! The emulator as a local dev server (`cargo xtask serve`): the FAPI emulator and the app's
//! backend on 127.0.0.1, a clock a person or a script can move, faults on command, and an
//! admin API under [`ADMIN_PREFIX`]. A real app (Expo, a Node script, clerk-js) talks to it
//! with nothing but the printed publishable key and proxy URL.
//!
//! ```no_run
//! # async fn demo() -> Result<(), session_harness::serve::ServeError> {
//! use session_harness::serve::{ServeConfig, start};
//! let served = start(ServeConfig::default()).await?;
//! println!("{}", served.banner());          // what an app needs, as KEY=value lines
//! // … the app runs; `curl -X POST $ADMIN_URL/sessions/sess_1/expire` signs it out …
//! drop(served);                             // stops the server
//! # Ok(()) }
//! ```
//!
//! Modules: [`clock`] (manual and realtime clocks), [`settings_file`] (`--settings FILE`),
//! [`admin`] (the admin API), [`front`] (our own HTTP server: limits, timeouts, routing).
//!
//! Architecture invariant: like the emulator, no lifecycle rule lives here. Admin actions call
//! the server's own transitions (`Server::end_session_as`, `replace_session`, …); this module
//! decodes admin requests, moves the clock and reports.
//!
//! Architecture invariant: it listens on 127.0.0.1 and nowhere else. It serves test
//! credentials and an unauthenticated admin API; [`ServeConfig::host`] is checked before any
//! socket is opened.

pub mod admin;
pub mod clock;
pub mod front;
pub mod settings_file;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use crate::backend::Backend;
use crate::fapi::{Fapi, FaultDraw};
use crate::model::server::{TEST_USER_IDENTIFIER, TEST_USER_PASSWORD};
use crate::model::settings::InstanceSettings;
use crate::model::time::VTime;
use crate::sim::format_seed;

pub use clock::{Clock, ClockMode};

/// Paths under this prefix are the admin API; no Clerk path starts with it.
pub const ADMIN_PREFIX: &str = "/__harness";
/// The path of the printed proxy URL. The emulator ignores any prefix before `/v1/`, so
/// clerk-js's `proxyUrl + "/v1/client"` lands on `/v1/client`.
pub const PROXY_PREFIX: &str = "/__clerk";
/// The default `--port`.
pub const DEFAULT_PORT: u16 = 4010;
/// The default `--seed`.
pub const DEFAULT_SEED: u64 = 0x5eed_0008;

/// How to start a dev server.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Must name the loopback interface: `127.0.0.1` or `localhost`.
    pub host: String,
    /// `0` picks a free port (tests).
    pub port: u16,
    /// Seeds faults drawn with `POST /__harness/faults {"random": N}`.
    pub seed: u64,
    pub settings: InstanceSettings,
    pub clock: ClockMode,
    /// The clock's first reading; `None` is the wall clock's (so a real device agrees with
    /// token times).
    pub start: Option<VTime>,
    /// Longest a client may take to send a request's headers before its connection is
    /// closed ([`front::HEADER_READ_TIMEOUT`] by default).
    pub header_read_timeout: std::time::Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            host: Ipv4Addr::LOCALHOST.to_string(),
            port: DEFAULT_PORT,
            seed: DEFAULT_SEED,
            settings: InstanceSettings::default(),
            clock: ClockMode::Realtime { speed: 1 },
            start: None,
            header_read_timeout: front::HEADER_READ_TIMEOUT,
        }
    }
}

/// Why a dev server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on `{host}`: the dev server serves test credentials and an \
         unauthenticated admin API, so it binds 127.0.0.1 only (accepted: `127.0.0.1`, \
         `localhost`); reach it from an Android emulator or device with \
         `adb reverse tcp:PORT tcp:PORT`, from the iOS simulator as 127.0.0.1"
    )]
    NotLoopback { host: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("invalid settings: {0}")]
    Settings(#[from] crate::model::settings::SettingsError),
}

/// Checks a bind address: loopback IPv4 only.
pub fn loopback_addr(host: &str, port: u16) -> Result<SocketAddr, ServeError> {
    match host.trim() {
        "127.0.0.1" | "localhost" => Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
        _ => Err(ServeError::NotLoopback { host: host.to_string() }),
    }
}

/// What the server shares with its dispatcher and admin API.
pub struct ServeState {
    pub fapi: Fapi,
    pub backend: Backend,
    pub clock: Clock,
    pub seed: u64,
    pub settings: InstanceSettings,
    /// The port listened on: the admin API accepts an `Origin` of this server only.
    pub port: u16,
    /// Faults drawn from the seed so far, in order.
    pub(crate) draw: Mutex<FaultDraw>,
}

impl ServeState {
    /// The state of a dev server that has not opened a socket yet (the admin API and the
    /// dispatcher work on it alone, so tests and the parser fuzz target can drive them).
    pub fn new(settings: InstanceSettings, clock: Clock, seed: u64, port: u16) -> ServeState {
        let fapi = Fapi::new(settings);
        // A dev server runs for hours: its request log keeps the newest entries only.
        fapi.set_log_max(front::LOG_ENTRIES_MAX);
        let backend = Backend::new(&fapi);
        ServeState {
            fapi,
            backend,
            clock,
            seed,
            settings,
            port,
            draw: Mutex::new(FaultDraw::new(seed)),
        }
    }

    /// The instant an admin action applies at: the clock, or later if a request stamped with
    /// `x-harness-virtual-time` already took the emulator further.
    pub fn now(&self) -> VTime {
        self.clock.now().max(self.fapi.clock())
    }
}

/// A running dev server; dropping it stops the server.
pub struct Served {
    front: front::Front,
    state: Arc<ServeState>,
    banner: Banner,
}

impl fmt::Debug for Served {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Served").field("uri", &self.uri()).finish_non_exhaustive()
    }
}

impl Served {
    /// `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.front.addr())
    }

    pub fn addr(&self) -> SocketAddr {
        self.front.addr()
    }

    /// What the server prints for an app.
    pub fn banner(&self) -> &Banner {
        &self.banner
    }

    pub fn state(&self) -> &Arc<ServeState> {
        &self.state
    }

    pub fn fapi(&self) -> &Fapi {
        &self.state.fapi
    }
}

/// Starts a dev server. The host is checked before any socket is opened.
pub async fn start(config: ServeConfig) -> Result<Served, ServeError> {
    let addr = loopback_addr(&config.host, config.port)?;
    config.settings.validate()?;
    let listener = TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ServeError::Bind { addr, source })?;
    let start = config.start.unwrap_or_else(clock::wall_clock_vtime);
    let state = Arc::new(ServeState::new(
        config.settings,
        Clock::new(config.clock, start),
        config.seed,
        bound.port(),
    ));
    let front = front::spawn(listener, state.clone(), config.header_read_timeout)
        .map_err(|source| ServeError::Bind { addr: bound, source })?;
    let origin = format!("http://{bound}");
    let banner = Banner {
        origin: origin.clone(),
        publishable_key: state.fapi.publishable_key().encode(),
        proxy_url: format!("{origin}{PROXY_PREFIX}"),
        identifier: TEST_USER_IDENTIFIER.to_string(),
        password: TEST_USER_PASSWORD.to_string(),
        jwks_url: format!("{origin}/.well-known/jwks.json"),
        api_url: format!("{origin}/api/"),
        admin_url: format!("{origin}{ADMIN_PREFIX}"),
        issuer: state.fapi.config().issuer(),
        seed: config.seed,
        clock: config.clock,
        start,
    };
    Ok(Served { front, state, banner })
}

/// What an app needs to talk to the dev server, printed as `KEY=value` lines (paste them into
/// an Expo `.env`; `EXPO_PUBLIC_` variables reach the app bundle).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Banner {
    pub origin: String,
    /// `pk_test_` + base64(frontend API host + `$`).
    pub publishable_key: String,
    /// Pass as `proxyUrl` to `ClerkProvider` / `new Clerk(pk, {proxyUrl})`.
    pub proxy_url: String,
    pub identifier: String,
    pub password: String,
    /// The backend's JWKS, for an app server verifying session tokens.
    pub jwks_url: String,
    /// The emulator's own protected API (`GET /api/…`, `Authorization: Bearer <jwt>`).
    pub api_url: String,
    pub admin_url: String,
    /// `iss` of session tokens.
    pub issuer: String,
    pub seed: u64,
    pub clock: ClockMode,
    pub start: VTime,
}

impl fmt::Display for Banner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "# session-harness emulator on {}  seed: {}  clock: {} from {} (unix ms {})",
            self.origin,
            format_seed(self.seed),
            self.clock,
            self.start,
            self.start.unix_ms()
        )?;
        writeln!(f, "EXPO_PUBLIC_CLERK_PUBLISHABLE_KEY={}", self.publishable_key)?;
        writeln!(f, "EXPO_PUBLIC_CLERK_PROXY_URL={}", self.proxy_url)?;
        writeln!(f, "TEST_USER_IDENTIFIER={}", self.identifier)?;
        writeln!(f, "TEST_USER_PASSWORD={}", self.password)?;
        writeln!(f, "CLERK_JWKS_URL={}", self.jwks_url)?;
        writeln!(f, "CLERK_ISSUER={}", self.issuer)?;
        writeln!(f, "HARNESS_API_URL={}", self.api_url)?;
        write!(f, "HARNESS_ADMIN_URL={}", self.admin_url)
    }
}

impl Banner {
    /// The value of one `KEY=value` line of the printed banner (how a script reads it).
    pub fn parse_line<'a>(printed: &'a str, key: &str) -> Option<&'a str> {
        printed.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
    }
}
