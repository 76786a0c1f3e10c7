//! The `steadfast` binary run as a subprocess against local fault servers: output and exit
//! codes.

use std::path::PathBuf;
use std::process::{Command, Output};

use steadfast_providers_mock::{Fault, FaultServer, ServerConfig};

const BIN: &str = env!("CARGO_BIN_EXE_steadfast");

/// A config file in a fresh temporary directory; removed on drop.
struct TempConfig {
    dir: PathBuf,
    path: PathBuf,
}

impl TempConfig {
    fn new(name: &str, text: &str) -> TempConfig {
        let dir = std::env::temp_dir().join(format!(
            "steadfast-cli-{}-{name}-{}",
            std::process::id(),
            fastrand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("steadfast.toml");
        std::fs::write(&path, text).unwrap();
        TempConfig { dir, path }
    }
}

impl Drop for TempConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fastrand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish()
}

/// Runs the binary off the runtime's threads, so the servers keep answering.
async fn steadfast(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(args)
            .env_remove("STEADFAST_CONFIG")
            .env("SECONDARY_KEY", "sk-secondary-test")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A failing primary and a healthy secondary, both real loopback servers.
async fn servers() -> (FaultServer, FaultServer) {
    let primary = FaultServer::with_config(ServerConfig {
        default_fault: Fault::status(503),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let secondary = FaultServer::start().await.unwrap();
    (primary, secondary)
}

fn config(primary: &FaultServer, secondary: &FaultServer) -> String {
    format!(
        r#"
[router]
default_group = "chat"

[deployments.primary]
kind = "openai-compatible"
model = "mock-model"
base_url = "{}/v1"
retry = {{ max_attempts = 1 }}
priority = 1

[deployments.secondary]
kind = "openai-compatible"
model = "mock-model"
base_url = "{}/v1"
api_key = "env:SECONDARY_KEY"
priority = 2

[groups.chat]
deployments = ["primary", "secondary"]
"#,
        primary.base_url(),
        secondary.base_url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_falls_back_to_the_secondary_and_exits_0() {
    let (primary, secondary) = servers().await;
    let file = TempConfig::new("chat", &config(&primary, &secondary));
    let path = file.path.to_str().unwrap();
    let out = steadfast(args(&["--config", path, "chat", "hello", "--log-metrics"])).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim_end(), secondary.answer());
    let metrics: Vec<serde_json::Value> = text(&out.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(metrics.len(), 2, "one record per attempt: {metrics:?}");
    assert_eq!(metrics[0]["provider"], "primary");
    assert_eq!(metrics[0]["success"], false);
    assert_eq!(metrics[0]["status"], 503);
    assert_eq!(metrics[1]["provider"], "secondary");
    assert_eq!(metrics[1]["success"], true);
    assert_eq!(primary.request_count(), 1);
    let sent = secondary.requests();
    assert_eq!(
        sent[0].header("authorization"),
        Some("Bearer sk-secondary-test")
    );
    assert!(!text(&out.stderr).contains("sk-secondary-test"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_prints_every_token_and_json_has_the_summary() {
    let (primary, secondary) = servers().await;
    let file = TempConfig::new("stream", &config(&primary, &secondary));
    let path = file.path.to_str().unwrap();
    let out = steadfast(args(&["--config", path, "chat", "hello", "--stream"])).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim_end(), secondary.answer());

    let out = steadfast(args(&[
        "--config", path, "chat", "hello", "--stream", "--json",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let streamed: String = lines.iter().filter_map(|l| l["delta"].as_str()).collect();
    assert_eq!(streamed, secondary.answer());
    let summary = lines.last().unwrap();
    assert_eq!(summary["provider"], "secondary");
    assert_eq!(summary["complete"], true);
    assert_eq!(summary["fell_back"], true);

    let out = steadfast(args(&[
        "--config",
        path,
        "chat",
        "hello",
        "--json",
        "--prefer",
        "secondary",
    ]))
    .await;
    let whole: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(whole["text"], secondary.answer());
    assert_eq!(whole["fell_back"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_fallback_a_failing_primary_exits_3() {
    let (primary, secondary) = servers().await;
    let file = TempConfig::new("nofallback", &config(&primary, &secondary));
    let path = file.path.to_str().unwrap();
    let out = steadfast(args(&["--config", path, "chat", "hello", "--no-fallback"])).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("primary"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(secondary.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_down_exits_3() {
    let (primary, secondary) = servers().await;
    secondary.set_default_fault(Fault::status(500));
    let file = TempConfig::new(
        "down",
        &config(&primary, &secondary).replace(
            "[deployments.secondary]",
            "[deployments.secondary]\nretry = { max_attempts = 1 }",
        ),
    );
    let out = steadfast(args(&[
        "--config",
        file.path.to_str().unwrap(),
        "chat",
        "hello",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(3), "stderr: {}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("primary") && stderr.contains("secondary"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_probes_every_deployment() {
    let (primary, secondary) = servers().await;
    let file = TempConfig::new("status", &config(&primary, &secondary));
    let out = steadfast(args(&[
        "--config",
        file.path.to_str().unwrap(),
        "status",
        "--json",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["deployments"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], "primary");
    assert_eq!(rows[0]["check_ok"], false);
    assert_eq!(rows[1]["name"], "secondary");
    assert_eq!(rows[1]["check_ok"], true);
    assert_eq!(rows[1]["breaker"], "closed");
    assert!(rows[1]["checked_at_unix_ms"].as_u64().unwrap() > 0);
}

/// The chat config plus an image and a video deployment (never called by `status`).
fn config_with_media(primary: &FaultServer, secondary: &FaultServer) -> String {
    format!(
        r#"{}
[deployments.painter]
kind = "openai-image"
model = "gpt-image-1"
base_url = "{}/v1"
api_key = "env:SECONDARY_KEY"
usd_per_unit = 0.04

[deployments.filmer]
kind = "runway"
base_url = "{}"
api_key = "env:SECONDARY_KEY"
"#,
        config(primary, secondary),
        secondary.base_url(),
        secondary.base_url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_the_media_deployments_too() {
    let (primary, secondary) = servers().await;
    let file = TempConfig::new("status-media", &config_with_media(&primary, &secondary));
    let path = file.path.to_str().unwrap();
    let out = steadfast(args(&["--config", path, "status", "--json"])).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["deployments"].as_array().unwrap().len(),
        2,
        "chat as before"
    );
    let media = v["media"].as_array().unwrap();
    let names: Vec<_> = media.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["filmer", "painter"], "video first, then images");
    assert_eq!(media[0]["media"], "video");
    assert_eq!(media[0]["kind"], "runway");
    assert_eq!(media[1]["media"], "image");
    assert_eq!(media[1]["kind"], "openai-image");
    assert_eq!(media[1]["model"], "gpt-image-1");
    for m in media {
        assert_eq!(m["breaker"], "closed");
        assert_eq!(m["enabled"], true);
        assert_eq!(
            (m["calls"].as_u64(), m["failures"].as_u64()),
            (Some(0), Some(0))
        );
        assert_eq!(
            (m["error_rate"].as_f64(), m["cost_usd"].as_f64()),
            (Some(0.0), Some(0.0))
        );
    }

    let out = steadfast(args(&["--config", path, "status"])).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let header = stdout
        .lines()
        .find(|l| l.starts_with("MEDIA"))
        .expect(&stdout);
    for column in [
        "KIND", "MAKES", "BREAKER", "CALLS", "FAILS", "ERRORS", "COST",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let painter = stdout
        .lines()
        .find(|l| l.starts_with("painter"))
        .expect(&stdout);
    for cell in ["openai-image", "image", "closed", "0.0%", "0.0000$"] {
        assert!(painter.contains(cell), "{painter}");
    }
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("filmer") && l.contains("video")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("sk-secondary-test"),
        "no key in the output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_config_exits_4_naming_the_line_and_field() {
    let file = TempConfig::new("bad", "[deployments.a]\nkind = \"mock\"\npriorty = 1\n");
    let path = file.path.to_str().unwrap();
    let out = steadfast(args(&["config", "check", path])).await;
    assert_eq!(out.status.code(), Some(4));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 3") && stderr.contains("deployments.a.priorty"),
        "{stderr}"
    );
    let out = steadfast(args(&["--config", path, "chat", "hi"])).await;
    assert_eq!(out.status.code(), Some(4));
    let good = TempConfig::new("good", "[deployments.a]\nkind = \"mock\"\n");
    let out = steadfast(args(&["config", "check", good.path.to_str().unwrap()])).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2() {
    assert_eq!(steadfast(args(&["chat"])).await.status.code(), Some(2));
    assert_eq!(
        steadfast(args(&["frobnicate"])).await.status.code(),
        Some(2)
    );
    let good = TempConfig::new("usage", "[deployments.a]\nkind = \"mock\"\n");
    let out = steadfast(args(&[
        "--config",
        good.path.to_str().unwrap(),
        "chat",
        "hi",
        "--model",
        "nope",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nope"));
    assert_eq!(steadfast(args(&["--help"])).await.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_mock_example_answers_with_no_key_and_no_network() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/steadfast.toml");
    let out = steadfast(args(&["--config", example, "chat", "hi"])).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("Hello from the backup"));
    let out = steadfast(args(&["--config", example, "models", "--json"])).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["models"].as_array().unwrap().len(), 3);
    assert!(
        v["catalog"].as_array().unwrap().len() >= 40,
        "the model catalog is listed"
    );
    assert!(v["catalog"][0]["model"]["id"].is_string());
}

#[test]
fn models_lists_the_catalog_without_any_config_or_key() {
    let dir = std::env::temp_dir().join(format!("steadfast-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["models", "--json"])
        .current_dir(&dir)
        .env_remove("STEADFAST_CONFIG");
    for var in [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "DEEPSEEK_API_KEY",
        "XAI_API_KEY",
        "GROK_API_KEY",
        "OPENROUTER_API_KEY",
        "POLLINATIONS_API_TOKEN",
        "POLLINATIONS_API_KEY",
        "OLLAMA_HOST",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let priced = v["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| {
            let m = &row["model"];
            !m["pricing"].is_null() && !m["context_window"].is_null() && !m["source"].is_null()
        })
        .count();
    assert!(priced >= 40, "{priced} priced rows");
    assert_eq!(v["models"].as_array().unwrap().len(), 0);
}
