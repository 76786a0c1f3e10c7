//! `Steadfast::media_status`: the image and video deployments' counters, breaker and cost,
//! as `steadfast status` lists them.

use steadfast_circuit::State;
use steadfast_config::{ConfigFile, Format, Media, Steadfast};
use steadfast_errors::ErrorKind;
use steadfast_providers_core::ImageRequest;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn media_status_counts_failures_trips_and_cost() {
    let broken = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&broken)
        .await;
    let good = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"data": [{"b64_json": "UE5HIQ=="}]})),
        )
        .mount(&good)
        .await;
    let text = format!(
        r#"
[deployments.a-broken]
kind = "openai-image"
model = "gpt-image-1"
base_url = "{}/v1"
api_key = "env:IMAGE_KEY"
retry = {{ max_attempts = 1 }}
breaker = {{ consecutive_failures = 1, open_duration = "60s" }}
priority = 1

[deployments.b-good]
kind = "openai-image"
model = "gpt-image-1"
base_url = "{}/v1"
api_key = "env:IMAGE_KEY"
usd_per_unit = 0.04
priority = 2
"#,
        broken.uri(),
        good.uri()
    );
    let file = ConfigFile::parse(&text, Format::Toml).unwrap();
    let sf = Steadfast::build(&file, &|name| (name == "IMAGE_KEY").then(|| "k".into())).unwrap();
    let request = ImageRequest {
        prompt: "a red square".into(),
        ..ImageRequest::default()
    };
    let answer = sf.generate_image(&request, None, true).await.unwrap();
    assert_eq!(answer.provider, "b-good");

    let status = sf.media_status();
    let names: Vec<_> = status.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a-broken", "b-good"]);
    let broken = &status[0];
    assert_eq!(broken.media, Media::Image);
    assert_eq!((broken.attempts, broken.failures, broken.calls), (1, 1, 0));
    assert_eq!(broken.error_rate, 1.0);
    assert_eq!(broken.breaker, State::Open);
    assert_eq!(broken.last_error, Some(ErrorKind::Server));
    let good = &status[1];
    assert_eq!(
        (good.calls, good.failures, good.breaker),
        (1, 0, State::Closed)
    );
    assert!((good.cost_usd - 0.04).abs() < 1e-9, "{}", good.cost_usd);
}
