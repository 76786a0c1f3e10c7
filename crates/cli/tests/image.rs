//! `steadfast image` as a subprocess against local image servers: fallback past a failing
//! deployment, inline bytes saved with `--out`, URLs on stdout.

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
            .env("IMAGE_TEST_KEY", "sk-image-test")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_falls_back_and_is_saved_with_out() {
    let broken = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&broken)
        .await;
    let good = MockServer::start().await;
    // "PNG!" in base64.
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"b64_json": "UE5HIQ=="}]})),
        )
        .mount(&good)
        .await;
    let config = format!(
        "[deployments.a-broken]\nkind = \"openai-image\"\nmodel = \"gpt-image-1\"\nbase_url = \"{}/v1\"\napi_key = \"env:IMAGE_TEST_KEY\"\n\n[deployments.b-good]\nkind = \"openai-image\"\nmodel = \"gpt-image-1\"\nbase_url = \"{}/v1\"\napi_key = \"env:IMAGE_TEST_KEY\"\n",
        broken.uri(),
        good.uri()
    );
    let dir = std::env::temp_dir().join(format!("steadfast-image-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("image.toml");
    std::fs::write(&file, config).unwrap();
    let png = dir.join("out.png");
    let base: Vec<String> = ["--config", file.to_str().unwrap(), "image", "a red square"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();

    let mut with_out = base.clone();
    with_out.extend(["--out".to_owned(), png.to_str().unwrap().to_owned()]);
    let out = run(with_out).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&png).unwrap(), b"PNG!");

    let mut json = base.clone();
    json.push("--json".to_owned());
    let out = run(json).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["provider"], "b-good");
    assert_eq!(v["images"][0]["inline"], true);

    let mut no_fallback = base;
    no_fallback.push("--no-fallback".to_owned());
    let out = run(no_fallback).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("sk-image-test"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_sent_by_url_is_downloaded_with_out_and_priced() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"url": format!("{}/files/i.png", server.uri())}]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/i.png"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"\x89PNG fetched".to_vec()))
        .mount(&server)
        .await;
    let config = format!(
        "[deployments.painter]\nkind = \"openai-image\"\nmodel = \"gpt-image-1\"\nbase_url = \"{}/v1\"\napi_key = \"env:IMAGE_TEST_KEY\"\nusd_per_unit = 0.04\n",
        server.uri()
    );
    let dir = std::env::temp_dir().join(format!("steadfast-image-url-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("image.toml");
    std::fs::write(&file, config).unwrap();
    let png = dir.join("fetched.png");
    let args: Vec<String> = [
        "--config",
        file.to_str().unwrap(),
        "image",
        "a red square",
        "--json",
        "--out",
        png.to_str().unwrap(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let out = run(args).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&png).unwrap(), b"\x89PNG fetched");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cost_usd"], 0.04);
    // The key went to the API, never to the file's URL.
    let received = server.received_requests().await.unwrap();
    let fetch = received
        .iter()
        .find(|r| r.url.path() == "/files/i.png")
        .unwrap();
    assert!(fetch.headers.get("authorization").is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}
