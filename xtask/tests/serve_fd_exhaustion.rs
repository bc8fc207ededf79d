//! `cargo xtask serve` out of file descriptors (issue 19 §5): under `ulimit -n 48`, 80
//! connections held open make `accept` fail. wiremock's accept loop ended there and the port
//! went silent; ours says so once on stderr, backs off, and answers again once connections
//! close.

// Wall time bounds how long a refusal may take; nothing timed reaches a trace.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn get_clock(addr: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /__harness/clock HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.starts_with("HTTP/1.1 200").then_some(text)
}

#[test]
fn the_listener_survives_running_out_of_file_descriptors() {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 48 && exec '{}' serve --port 0 --clock manual --start 0s",
            env!("CARGO_BIN_EXE_xtask")
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let stderr = Arc::new(Mutex::new(String::new()));
    {
        let stderr = stderr.clone();
        let pipe = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                stderr.lock().unwrap().push_str(&(line + "\n"));
            }
        });
    }
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut addr = None;
    for _ in 0..40 {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(admin) = line.trim().strip_prefix("HARNESS_ADMIN_URL=http://") {
            addr = admin.split('/').next().map(str::to_string);
            break;
        }
    }
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("no banner; stderr: {}", stderr.lock().unwrap());
    };
    assert!(get_clock(&addr).is_some(), "the server answers before the flood");

    // More connections than descriptors: the kernel accepts them into the backlog, the
    // server's accept fails with EMFILE once its 48 are used.
    let mut held: Vec<TcpStream> = (0..80).filter_map(|_| TcpStream::connect(&addr).ok()).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stderr.lock().unwrap().contains("accept failed") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let said = stderr.lock().unwrap().clone();
    held.clear();
    // Once the held connections are closed, it accepts and answers again.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut answered = false;
    while !answered && Instant::now() < deadline {
        answered = get_clock(&addr).is_some();
        if !answered {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let alive = child.try_wait().expect("try_wait").is_none();
    let _ = child.kill();
    let _ = child.wait();
    let said_after = stderr.lock().unwrap().clone();
    assert!(said.contains("accept failed"), "the failure is said on stderr: {said}");
    assert_eq!(said.matches("accept failed").count(), 1, "said once per streak: {said}");
    assert!(alive, "the server is still running");
    assert!(answered, "the server answers again after the flood; stderr: {said_after}");
    assert!(said_after.contains("accepting connections again"), "{said_after}");
    assert!(said_after.lines().count() <= 10, "a line per streak, no backtraces: {said_after}");
}
