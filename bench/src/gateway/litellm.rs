//! LiteLLM's proxy as a gateway subject: finding its venv, asking its version, starting it
//! on a free port with a model list over the fake upstreams, waiting until it answers.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{CLIENT_KEY, DELAYED_GROUP, Proxy, pinned, temp_file};

/// `target/litellm-venv`, beside this binary's target directory or under the working one.
pub(super) fn litellm_venv() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let beside = exe.parent()?.parent()?.join("litellm-venv");
    [beside, PathBuf::from("target/litellm-venv")]
        .into_iter()
        .find(|v| v.join("bin/litellm").exists())
}

pub(super) fn litellm_version(venv: &Path) -> Option<String> {
    let out = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import importlib.metadata as m; print(m.version('litellm'))",
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// LiteLLM's proxy (`litellm --config`) on a free port, one worker, its model list pointing
/// at the upstreams (`bench` at the immediate one, `bench-delayed` at the delayed one);
/// waits until its liveness route answers.
pub(super) fn start_litellm(
    venv: &Path,
    (upstream, delayed): (&str, &str),
    cpu: Option<usize>,
) -> Result<Proxy, String> {
    let model = |name: &str, at: &str| {
        format!(
            "  - model_name: {name}\n    litellm_params:\n      model: openai/mock-model\n      \
             api_base: http://{at}/v1\n      api_key: k\n"
        )
    };
    let yaml = format!(
        "model_list:\n{}{}general_settings:\n  master_key: {CLIENT_KEY}\n",
        model("bench", upstream),
        model(DELAYED_GROUP, delayed),
    );
    let config = temp_file("litellm.yaml", &yaml)?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("finding a free port: {e}"))?
        .port();
    let log = std::fs::File::create(std::env::temp_dir().join("steadfast-bench-litellm.log"))
        .map_err(|e| format!("creating LiteLLM's log: {e}"))?;
    let mut cmd = pinned(&venv.join("bin/litellm"), cpu);
    cmd.arg("--config")
        .arg(&config)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--num_workers", "1"])
        // The bundled price map, not a download at start-up.
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().map_err(|e| format!("starting litellm: {e}"))?;
    let mut proxy = Proxy {
        child,
        addr: format!("127.0.0.1:{port}"),
        config,
    };
    let ready = Instant::now();
    loop {
        if let Ok(Some(status)) = proxy.child.try_wait() {
            return Err(format!(
                "litellm exited at start-up ({status}); see its log in the temp dir"
            ));
        }
        if answers_ok(&proxy.addr, "/health/liveliness") {
            return Ok(proxy);
        }
        if ready.elapsed() > Duration::from_secs(180) {
            return Err("litellm did not answer within 180 s".into());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Whether `GET path` on `addr` answers 200, within a second.
fn answers_ok(addr: &str, path: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(addr) = addr.parse() else {
        return false;
    };
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET {path} HTTP/1.0\r\nhost: {addr}\r\n\r\n");
    let mut head = [0u8; 12];
    s.write_all(request.as_bytes()).is_ok()
        && s.read_exact(&mut head).is_ok()
        && head.ends_with(b" 200")
}
