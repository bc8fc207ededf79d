//! Speed figures of the FAPI emulator and the JWT signer, for `cargo xtask bench`.
//!
//! - `fapi_inprocess_requests_per_sec`: the one handler called directly, as the in-process
//!   transport does (a mix of token, touch and client requests on a signed-in client), the
//!   typed reply read and the body not rendered, so no RSA is paid, and the request log off
//!   as the reference SDK keeps it;
//! - `fapi_http_requests_per_sec`: `GET /v1/environment` over loopback HTTP to the wiremock
//!   mount, one keep-alive connection, a minimal HTTP/1.1 client on `std::net` (the
//!   environment carries no token, so this measures the wire, not RSA);
//! - `jwt_sign_per_sec`: RS256 signatures of distinct claim sets, cache bypassed.
//!
//! Each figure runs for a fixed wall-clock budget: benchmarks are the one place the wall clock
//! is the point.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use session_harness::fapi::{Exchange, Fapi, HttpRequest, VIRTUAL_TIME_HEADER, wire};
use session_harness::model::server::{TEST_USER_IDENTIFIER, TEST_USER_PASSWORD};
use session_harness::model::settings::InstanceSettings;
use session_harness::model::time::VTime;
use session_harness::model::vocab::{SessionId, TokenInfo, UserId};

/// Wall-clock time each figure is measured for.
const BUDGET: Duration = Duration::from_millis(700);

pub fn figures() -> Result<Vec<(&'static str, f64)>> {
    Ok(vec![
        ("fapi_inprocess_requests_per_sec", inprocess()?),
        ("fapi_http_requests_per_sec", http()?),
        ("jwt_sign_per_sec", jwt_sign()),
    ])
}

fn inprocess() -> Result<f64> {
    let fapi = Fapi::new(InstanceSettings::default());
    // As the reference SDK's emulator: a log nobody reads would grow by one entry a request
    // for the whole budget, and the figure would time its reallocations.
    fapi.set_log_max(0);
    let mut token: Option<String> = None;
    let mut send = |request: HttpRequest, now: VTime| -> Result<u16> {
        let request = request.native_params().client_token(token.as_deref());
        let Exchange::Answered(response) = fapi.handle(&request, now).exchange else {
            bail!("dropped during setup");
        };
        token = response.client_token().map(str::to_string);
        Ok(response.status)
    };
    send(HttpRequest::get("/v1/client"), VTime(0))?;
    let status = send(
        HttpRequest::post("/v1/client/sign_ins")
            .form(&[("identifier", TEST_USER_IDENTIFIER), ("password", TEST_USER_PASSWORD)]),
        VTime(1),
    )?;
    if status != 200 {
        bail!("bench sign-in answered {status}");
    }
    let mut token = token.context("sign-in gave no client token")?;
    let requests = [
        HttpRequest::post("/v1/client/sessions/sess_1/tokens").form(&[("organization_id", "")]),
        HttpRequest::post("/v1/client/sessions/sess_1/touch").form(&[("intent", "focus")]),
        HttpRequest::get("/v1/client"),
    ]
    .map(|r| r.native_params());
    let start = Instant::now();
    let mut count: u64 = 0;
    // Virtual time moves 1 ms per request: a run stays far inside the 7-day session lifetime.
    while start.elapsed() < BUDGET {
        for request in &requests {
            // A device saves the rotated client token from every answer and sends it next.
            let request = request.clone().client_token(Some(&token));
            let Exchange::Answered(response) = fapi.handle(&request, VTime(1_000 + count)).exchange
            else {
                bail!("no fault was scripted, yet a request dropped");
            };
            // The in-process fast path reads the typed reply, never the rendered body.
            let status = response.reply().map_or(response.status, |r| r.status);
            if status != 200 {
                bail!("bench request {} answered {status} after {count} requests", request.path);
            }
            if let Some(next) = response.client_token() {
                token = next.to_string();
            }
            count += 1;
        }
    }
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

fn http() -> Result<f64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building a tokio runtime for the mock server")?;
    // The mock server serves from its own thread; this runtime only starts it.
    let server = runtime.block_on(wire::start(Fapi::new(InstanceSettings::default()), None));
    let address = *server.address();
    let mut stream = TcpStream::connect(address).context("connecting to the mock server")?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let request = format!(
        "GET /v1/environment?_is_native=1 HTTP/1.1\r\nhost: {address}\r\n\
         {VIRTUAL_TIME_HEADER}: 0\r\nauthorization: \r\n\r\n"
    );
    let start = Instant::now();
    let mut count: u64 = 0;
    while start.elapsed() < BUDGET {
        stream.write_all(request.as_bytes())?;
        let status = read_response(&mut reader)?;
        if status != 200 {
            bail!("GET /v1/environment answered {status}");
        }
        count += 1;
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    drop(server);
    Ok(rate)
}

/// Reads one HTTP/1.1 response with a `content-length` body; returns its status.
fn read_response(reader: &mut BufReader<TcpStream>) -> Result<u16> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().context("bad content-length")?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(status)
}

fn jwt_sign() -> f64 {
    let fapi = Fapi::new(InstanceSettings::default());
    let signer = fapi.signer();
    let start = Instant::now();
    let mut count: u64 = 0;
    while start.elapsed() < BUDGET {
        let iat = VTime(count * 1_000).unix_s();
        let info = TokenInfo {
            sid: SessionId(1),
            sub: UserId(1),
            iat,
            nbf: iat - 10,
            exp: iat + 60,
            pending: false,
            serial: count,
            template: None,
        };
        std::hint::black_box(signer.sign_uncached(&info));
        count += 1;
    }
    count as f64 / start.elapsed().as_secs_f64()
}
