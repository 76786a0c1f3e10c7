//! `steadfast serve` run as a subprocess over the example config: it answers plain HTTP and
//! the README's openai-python snippet, refuses an exposed address without keys, and exits 0
//! on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_steadfast");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn post(addr: &str, body: &str) -> String {
    let mut conn = TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    conn.read_to_string(&mut out).unwrap();
    out
}

/// The README's python snippet for the gateway, pointed at `addr`.
fn readme_snippet(addr: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("```python\nfrom openai import OpenAI")
        .expect("the README has the gateway's python snippet");
    let code = &readme[start + "```python\n".len()..];
    let code = &code[..code.find("```").unwrap()];
    assert!(code.contains("base_url=\"http://127.0.0.1:4000/v1\""));
    code.replace("127.0.0.1:4000", addr)
}

#[test]
fn serve_answers_the_example_config_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["--config"])
        .arg(root().join("examples/steadfast.toml"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("STEADFAST_CONFIG")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();

    let answer = post(
        &addr,
        r#"{"model":"fast","messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("x-steadfast-provider: backup"), "{answer}");
    assert!(answer.contains("x-steadfast-fallbacks: 1"), "{answer}");
    assert!(
        answer.contains("Hello from the backup deployment"),
        "{answer}"
    );
    let streamed = post(
        &addr,
        r#"{"model":"fast","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
    );
    assert!(streamed.contains("data: [DONE]"), "{streamed}");

    let venv = std::env::var_os("STEADFAST_PY_VENV")
        .map_or_else(|| root().join("target/py-venv"), PathBuf::from);
    let python = venv.join("bin/python");
    if python.exists() {
        let out = Command::new(&python)
            .args(["-c", &readme_snippet(&addr)])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8_lossy(&out.stdout);
        assert!(
            printed.contains("Hello from the backup deployment"),
            "{printed}"
        );
    } else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the python venv is missing: run `bash .ci/python-venv`"
        );
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    let _ = stderr.read_to_string(&mut rest);
    assert_eq!(status.code(), Some(0), "{rest}");
    assert!(rest.contains("shutting down"), "{rest}");
}

#[test]
fn serve_refuses_an_exposed_address_without_a_gateway_key() {
    let out = Command::new(BIN)
        .args(["--config"])
        .arg(root().join("examples/steadfast.toml"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("STEADFAST_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--allow-unauthenticated-remote"), "{err}");
}
