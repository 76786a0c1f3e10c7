//! `steadfast video` as a subprocess against local Runway job servers: progress lines while
//! it polls, fallback past a failing deployment, the URLs on stdout or in `--out`.

use std::process::{Command, Output};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_steadfast");

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(args)
            .env_remove("STEADFAST_CONFIG")
            .env("RUNWAY_TEST_KEY", "key_test")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The bytes of the finished video.
const VIDEO_BYTES: &[u8] = b"\x00\x00\x00\x18ftypmp42 not really a video";

async fn runway_job_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/text_to_video"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "task-1"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/tasks/task-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "task-1", "status": "RUNNING", "progress": 0.5})),
        )
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/tasks/task-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "task-1", "status": "SUCCEEDED", "output": [format!("{}/files/v.mp4", server.uri())]}),
        ))
        .mount(&server)
        .await;
    // The finished video, as the provider's CDN serves it.
    Mock::given(method("GET"))
        .and(path("/files/v.mp4"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(VIDEO_BYTES.to_vec()))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_shows_progress_and_falls_back_past_a_failing_deployment() {
    let good = runway_job_server().await;
    let broken = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&broken)
        .await;
    let poll = r#"poll = { interval = { initial = "10ms", multiplier = 1.0, max = "10ms", jitter = { type = "none" } }, min_interval = "10ms", deadline = "20s" }"#;
    let config = format!(
        "[router]\nretry = {{ max_attempts = 1 }}\n\n[deployments.a-broken]\nkind = \"runway\"\nbase_url = \"{}\"\napi_key = \"env:RUNWAY_TEST_KEY\"\n{poll}\n\n[deployments.b-runway]\nkind = \"runway\"\nbase_url = \"{}\"\napi_key = \"env:RUNWAY_TEST_KEY\"\n{poll}\n",
        broken.uri(),
        good.uri()
    );
    let dir = std::env::temp_dir().join(format!("steadfast-video-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("video.toml");
    std::fs::write(&file, config).unwrap();
    let out_file = dir.join("video.mp4");
    let args: Vec<String> = [
        "--config",
        file.to_str().unwrap(),
        "video",
        "a cat yawns",
        "--duration",
        "8",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();

    let out = run(args.clone()).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let url = format!("{}/files/v.mp4", good.uri());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), url);
    assert!(stderr.contains("video job task-1: running 50%"), "{stderr}");
    assert!(
        !stderr.contains("\r"),
        "plain lines when stderr is not a terminal"
    );
    let created = good.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&created[0].body).unwrap();
    assert_eq!(body["duration"], 8);

    let mut with_out = args.clone();
    with_out.extend(["--out".to_owned(), out_file.to_str().unwrap().to_owned()]);
    let out = run(with_out).await;
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read(&out_file).unwrap(),
        VIDEO_BYTES,
        "the video itself"
    );
    assert!(!out_file.with_extension("part").exists());

    // The media router's record of each turn: the broken deployment's failure, then the
    // answer, on stdout with --json and one line each on stderr with --log-metrics.
    let mut json = args.clone();
    json.extend(["--json".to_owned(), "--log-metrics".to_owned()]);
    let out = run(json).await;
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["provider"], "b-runway");
    assert_eq!(v["attempts"][0]["provider"], "a-broken");
    assert_eq!(v["attempts"][0]["success"], false);
    assert_eq!(v["attempts"][0]["error_category"], "transient");
    assert_eq!(v["attempts"][1]["success"], true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let records: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(records.len(), 2, "{stderr}");
    assert_eq!(records[0]["provider"], "a-broken");

    let mut no_fallback = args.clone();
    no_fallback.push("--no-fallback".to_owned());
    assert_eq!(run(no_fallback).await.status.code(), Some(3));
    let mut unknown = args;
    unknown.extend(["--prefer".to_owned(), "nobody".to_owned()]);
    assert_eq!(run(unknown).await.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
