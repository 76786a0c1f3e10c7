//! Test helpers: a real `redis-server` on a free loopback port in a temp dir, killed on
//! drop, routers over mock providers sharing it, and router processes driven over pipes
//! ([`instance`]).

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

pub mod instance;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use steadfast_router::{Router, SharedConfig};
use steadfast_shared_redis::{RedisConfig, RedisState};

/// A `redis-server` this test owns.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// Starts a server, or `None` (with a note) when `redis-server` is not installed — which
/// fails the test under `CI=true`.
pub fn redis() -> Option<RedisServer> {
    let installed = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "redis-server is not installed (`.ci/run` installs it)"
        );
        eprintln!("skipped: redis-server is not installed");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut server = RedisServer {
        child: None,
        port,
        dir: tempfile::tempdir().expect("temp dir"),
    };
    server.start();
    Some(server)
}

impl RedisServer {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts (or restarts) the server on the same port, returning once it accepts
    /// connections.
    pub fn start(&mut self) {
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let out = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(out).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Ready to accept connections") => break,
                Some(Ok(_)) => {}
                _ => panic!("redis-server exited before it was ready"),
            }
        }
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        self.child = Some(child);
    }

    /// Kills the server (as a crash would: no shutdown, nothing saved).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis state for one router instance; generous timeouts, as CI machines are busy.
pub fn state(url: &str, namespace: &str) -> Arc<RedisState> {
    let mut config = RedisConfig::new(url, namespace);
    config.timeout = Duration::from_millis(500);
    config.reconnect_every = Duration::from_millis(50);
    Arc::new(RedisState::new(config).expect("valid url"))
}

/// The shared-state settings the tests use: 20 ms refresh, 500 ms per command.
pub fn shared_config() -> SharedConfig {
    let mut c = SharedConfig::with_refresh_interval(Duration::from_millis(20));
    c.timeout = Duration::from_millis(500);
    c
}

/// A router built with `build` plus shared state on `url` under `namespace`.
pub fn shared_router(
    url: &str,
    namespace: &str,
    build: impl FnOnce(steadfast_router::RouterBuilder) -> steadfast_router::RouterBuilder,
) -> Router {
    build(Router::builder())
        .shared_state(state(url, namespace), shared_config())
        .build()
}
