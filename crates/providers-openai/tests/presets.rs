//! Each preset on the wire: its URL path, its exact auth header (or none), its health call,
//! its error dialect, and what it does with a trailing assistant message.

mod common;

use common::{KEY, provider};
use serde_json::json;
use steadfast_errors::{ErrorKind, Provider};
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
use steadfast_providers_openai::{
    HealthCheck, MaxTokensField, OpenAiConfig, OpenAiProvider, Preset,
};
use steadfast_test_kit::{drain_items, fixture};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn hi(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("Hi")]).with_max_tokens(16)
}

fn no_auth_header(req: &Request) -> bool {
    !req.headers.contains_key("authorization")
}

/// The answer the OpenAI-shaped rows get.
const OK_BODY: &str = "responses/openai/01_text_cached_tokens.json";

fn ok_body() -> ResponseTemplate {
    fixture(OK_BODY).template()
}

#[test]
fn presets_have_the_documented_defaults() {
    let table = [
        (
            Preset::OpenAi,
            "https://api.openai.com/v1",
            Provider::OpenAi,
            true,
        ),
        (
            Preset::OpenRouter,
            "https://openrouter.ai/api/v1",
            Provider::OpenRouter,
            true,
        ),
        (Preset::Xai, "https://api.x.ai/v1", Provider::Xai, true),
        (
            Preset::DeepSeek,
            "https://api.deepseek.com",
            Provider::DeepSeek,
            true,
        ),
        (
            Preset::LlamaCppServer,
            "http://127.0.0.1:8080/v1",
            Provider::LlamaCpp,
            false,
        ),
        (
            Preset::OllamaV1,
            "http://127.0.0.1:11434/v1",
            Provider::Ollama,
            false,
        ),
        (
            Preset::Pollinations,
            "https://gen.pollinations.ai/v1",
            Provider::Pollinations,
            false,
        ),
    ];
    for (preset, base, kind, require_key) in table {
        let c = OpenAiConfig::preset(preset);
        assert_eq!(c.base_url, base, "{preset}");
        assert_eq!(c.kind, kind, "{preset}");
        assert_eq!(c.require_key, require_key, "{preset}");
        assert_eq!(c.id, preset.as_str());
        assert!(c.api_key.is_none(), "presets never read the environment");
    }
    assert_eq!(
        OpenAiConfig::openai().max_tokens_field,
        MaxTokensField::MaxCompletionTokens
    );
    assert_eq!(
        OpenAiConfig::deepseek().prefix_base_url.as_deref(),
        Some("https://api.deepseek.com/beta")
    );
    assert_eq!(
        OpenAiConfig::openrouter().health,
        HealthCheck::Get("key".into())
    );
    assert_eq!(
        OpenAiConfig::llamacpp_server().health,
        HealthCheck::LlamaCppHealth
    );
    let prefill: Vec<Preset> = Preset::ALL
        .into_iter()
        .filter(|p| OpenAiConfig::preset(*p).capabilities.prefill)
        .collect();
    assert_eq!(prefill, [Preset::DeepSeek, Preset::LlamaCppServer]);
    assert_eq!(OpenAiConfig::default(), OpenAiConfig::openai());
}

#[test]
fn keys_come_from_the_conventional_variables() {
    let from = |preset: Preset, var: &'static str| {
        OpenAiConfig::preset_from_lookup(preset, move |name| {
            (name == var).then(|| format!("  key-from-{var}  "))
        })
        .api_key
        .map(|k| k.expose().to_owned())
    };
    assert_eq!(
        from(Preset::OpenAi, "OPENAI_API_KEY").as_deref(),
        Some("key-from-OPENAI_API_KEY")
    );
    assert!(from(Preset::OpenRouter, "OPENROUTER_API_KEY").is_some());
    assert!(from(Preset::Xai, "XAI_API_KEY").is_some());
    assert!(from(Preset::Xai, "GROK_API_KEY").is_some());
    assert!(from(Preset::DeepSeek, "DEEPSEEK_API_KEY").is_some());
    assert!(from(Preset::LlamaCppServer, "LLAMA_API_KEY").is_some());
    assert!(from(Preset::Pollinations, "POLLINATIONS_API_TOKEN").is_some());
    assert!(from(Preset::OpenAi, "DEEPSEEK_API_KEY").is_none());
    // XAI_API_KEY wins over GROK_API_KEY; empty values are skipped.
    let both = OpenAiConfig::preset_from_lookup(Preset::Xai, |name| match name {
        "XAI_API_KEY" => Some("xai-first".into()),
        "GROK_API_KEY" => Some("grok-second".into()),
        _ => None,
    });
    assert_eq!(both.api_key.unwrap().expose(), "xai-first");
    let empty = OpenAiConfig::preset_from_lookup(Preset::Xai, |name| match name {
        "XAI_API_KEY" => Some("   ".into()),
        "GROK_API_KEY" => Some("grok-second".into()),
        _ => None,
    });
    assert_eq!(empty.api_key.unwrap().expose(), "grok-second");
    // Base URLs.
    let openai = OpenAiConfig::preset_from_lookup(Preset::OpenAi, |name| {
        (name == "OPENAI_BASE_URL").then(|| "https://gateway.example.com/v1/".into())
    });
    assert_eq!(openai.base_url, "https://gateway.example.com/v1");
    let ollama = OpenAiConfig::preset_from_lookup(Preset::OllamaV1, |name| {
        (name == "OLLAMA_HOST").then(|| "0.0.0.0".into())
    });
    assert_eq!(ollama.base_url, "http://0.0.0.0:11434/v1");
}

/// What a request must carry to be answered.
#[derive(Clone, Copy)]
enum Sent {
    /// `Authorization: Bearer <key>`.
    Bearer(&'static str),
    /// The key in its own header (name, value), and no `Authorization`.
    Header(&'static str, &'static str),
    /// No `Authorization` header at all.
    NoAuth,
    /// Not looked at.
    Anything,
}

/// The call a row makes.
#[derive(Clone, Copy)]
enum Call {
    /// `chat` with this model.
    Chat(&'static str),
    /// `chat_stream` with this model.
    Stream(&'static str),
    /// `health_check`.
    Health,
}

/// A preset answered by a mock that matches only the exact request it must send: one row
/// per preset and route. The mock expects the request once; the answer must decode.
struct Wire {
    config: fn() -> OpenAiConfig,
    key: Option<&'static str>,
    /// Appended to the mock server's URI to make the base URL.
    base: &'static str,
    method: &'static str,
    path: &'static str,
    sent: Sent,
    /// Fields the JSON body must hold.
    body: Option<serde_json::Value>,
    /// A fixture to answer with (its text is the answer expected), or a JSON body.
    reply: Result<&'static str, serde_json::Value>,
    call: Call,
}

impl Wire {
    async fn run(self) {
        let server = MockServer::start().await;
        let mut mock = Mock::given(method(self.method)).and(path(self.path));
        mock = match self.sent {
            Sent::Bearer(key) => {
                mock.and(header("authorization", format!("Bearer {key}").as_str()))
            }
            Sent::Header(name, value) => mock.and(header(name, value)).and(no_auth_header),
            Sent::NoAuth => mock.and(no_auth_header),
            Sent::Anything => mock,
        };
        if let Some(body) = self.body {
            mock = mock.and(body_partial_json(body));
        }
        let (reply, text) = match self.reply {
            Ok(file) => {
                let f = fixture(file);
                let text = f.expect["response"]["text"].as_str().map(str::to_owned);
                (f.template(), text)
            }
            Err(json) => (ResponseTemplate::new(200).set_body_json(json), None),
        };
        mock.respond_with(reply).expect(1).mount(&server).await;
        let p = OpenAiProvider::new(OpenAiConfig {
            base_url: format!("{}{}", server.uri(), self.base),
            api_key: self.key.map(ApiKey::new),
            ..(self.config)()
        });
        match self.call {
            Call::Chat(model) => {
                let r = p.chat(&hi(model)).await.unwrap();
                assert!(!r.text.is_empty());
                if let Some(text) = text {
                    assert_eq!(r.text, text);
                }
            }
            Call::Stream(model) => {
                let (state, _) = drain_items(p.chat_stream(&hi(model)).await.unwrap()).await;
                assert!(state.is_complete(), "{:?}", state.error());
            }
            Call::Health => p.health_check().await.unwrap(),
        }
    }
}

steadfast_test_kit::cases! {
    openai_posts_to_v1_chat_completions_with_bearer: Wire {
        config: OpenAiConfig::openai,
        key: Some(KEY),
        base: "/v1",
        method: "POST",
        path: "/v1/chat/completions",
        sent: Sent::Bearer(KEY),
        body: Some(json!({"max_completion_tokens": 16})),
        reply: Ok(OK_BODY),
        call: Call::Chat("gpt-4o"),
    };
    deepseek_health_check_lists_models: Wire {
        config: OpenAiConfig::deepseek,
        key: Some(KEY),
        base: "",
        method: "GET",
        path: "/models",
        sent: Sent::Bearer(KEY),
        body: None,
        reply: Err(json!({"object": "list", "data": []})),
        call: Call::Health,
    };
    llamacpp_sends_no_auth_header_without_a_key: Wire {
        config: OpenAiConfig::llamacpp_server,
        key: None,
        base: "/v1",
        method: "POST",
        path: "/v1/chat/completions",
        sent: Sent::NoAuth,
        body: None,
        reply: Ok("responses/llamacpp/01_text_with_timings.json"),
        call: Call::Chat("local"),
    };
    llamacpp_sends_bearer_with_a_key: Wire {
        config: OpenAiConfig::llamacpp_server,
        key: Some(KEY),
        base: "/v1",
        method: "POST",
        path: "/v1/chat/completions",
        sent: Sent::Bearer(KEY),
        body: None,
        reply: Ok("responses/llamacpp/01_text_with_timings.json"),
        call: Call::Chat("local"),
    };
    llamacpp_health_is_the_root_health_endpoint: Wire {
        config: OpenAiConfig::llamacpp_server,
        key: None,
        base: "/v1",
        method: "GET",
        path: "/health",
        sent: Sent::Anything,
        body: None,
        reply: Err(json!({"status": "ok"})),
        call: Call::Health,
    };
    ollama_v1_streams_openai_chunks_not_ndjson: Wire {
        config: OpenAiConfig::ollama_v1,
        key: None,
        base: "/v1",
        method: "POST",
        path: "/v1/chat/completions",
        sent: Sent::Anything,
        body: None,
        reply: Ok("streams/openai/01_text_include_usage.json"),
        call: Call::Stream("llama3.2"),
    };
    pollinations_sends_its_token_as_bearer: Wire {
        config: OpenAiConfig::pollinations,
        key: Some("plln_sk_example"),
        base: "/v1",
        method: "POST",
        path: "/v1/chat/completions",
        sent: Sent::Bearer("plln_sk_example"),
        body: None,
        reply: Ok("responses/pollinations/01_openai_compatible_text.json"),
        call: Call::Chat("openai"),
    };
    pollinations_sends_nothing_without_a_token: Wire {
        config: OpenAiConfig::pollinations,
        key: None,
        base: "/v1",
        method: "POST",
        path: "/v1/chat/completions",
        sent: Sent::NoAuth,
        body: None,
        reply: Ok("responses/pollinations/01_openai_compatible_text.json"),
        call: Call::Chat("openai"),
    };
    a_custom_auth_header_carries_the_bare_key: Wire {
        config: || OpenAiConfig {
            auth: steadfast_providers_openai::Auth::Header("api-key".into()),
            ..OpenAiConfig::openai()
        },
        key: Some(KEY),
        base: "/openai",
        method: "POST",
        path: "/openai/chat/completions",
        sent: Sent::Header("api-key", KEY),
        body: None,
        reply: Ok(OK_BODY),
        call: Call::Chat("gpt-4o"),
    };
}

/// A preset's error dialect: an error fixture, served on a route, classified by the preset's
/// table as the fixture expects and labelled with the preset's id.
struct Dialect {
    config: fn() -> OpenAiConfig,
    key: Option<&'static str>,
    base: &'static str,
    /// The route the mock answers on (`None`: every path).
    route: (&'static str, Option<&'static str>),
    fixture: &'static str,
    call: Call,
    kind: ErrorKind,
    id: &'static str,
}

impl Dialect {
    async fn run(self) {
        let server = MockServer::start().await;
        let f = fixture(self.fixture);
        let (verb, route) = self.route;
        let mock = Mock::given(method(verb));
        let mock = match route {
            Some(route) => mock.and(path(route)),
            None => mock,
        };
        mock.respond_with(f.template()).mount(&server).await;
        let p = OpenAiProvider::new(OpenAiConfig {
            base_url: format!("{}{}", server.uri(), self.base),
            api_key: self.key.map(ApiKey::new),
            ..(self.config)()
        });
        let err = match self.call {
            Call::Chat(model) => p.chat(&hi(model)).await.unwrap_err(),
            Call::Stream(model) => p.chat_stream(&hi(model)).await.err().unwrap(),
            Call::Health => p.health_check().await.unwrap_err(),
        };
        assert_eq!(err.kind(), self.kind, "{err}");
        assert_eq!(err.kind().as_str(), f.expected_kind(), "{err}");
        assert_eq!(err.provider(), self.id);
    }
}

steadfast_test_kit::cases! {
    xai_classifies_its_400_bad_key_as_auth: Dialect {
        config: OpenAiConfig::xai,
        key: Some(KEY),
        base: "/v1",
        route: ("POST", None),
        fixture: "errors/xai/01_bad_key_400_masked.json",
        call: Call::Chat("grok-3"),
        kind: ErrorKind::Auth,
        id: "xai",
    };
    deepseek_errors_use_its_table: Dialect {
        config: OpenAiConfig::deepseek,
        key: Some(KEY),
        base: "",
        route: ("POST", None),
        fixture: "errors/deepseek/01_insufficient_balance_402.json",
        call: Call::Chat("deepseek-chat"),
        kind: ErrorKind::QuotaExhausted,
        id: "deepseek",
    };
    llamacpp_health_while_loading_is_overloaded: Dialect {
        config: OpenAiConfig::llamacpp_server,
        key: None,
        base: "/v1/",
        route: ("GET", Some("/health")),
        fixture: "errors/llamacpp/07_loading_model_503.json",
        call: Call::Health,
        kind: ErrorKind::Overloaded,
        id: "llamacpp",
    };
    ollama_v1_unknown_model_is_not_found: Dialect {
        config: OpenAiConfig::ollama_v1,
        key: None,
        base: "/v1",
        route: ("POST", None),
        fixture: "errors/ollama/09_v1_not_found_error.json",
        call: Call::Chat("llama3"),
        kind: ErrorKind::NotFound,
        id: "ollama",
    };
    pollinations_edge_rate_limit_is_rate_limited: Dialect {
        config: OpenAiConfig::pollinations,
        key: None,
        base: "/v1",
        route: ("POST", None),
        fixture: "errors/pollinations/07_edge_limiter_legacy_429.json",
        call: Call::Stream("openai"),
        kind: ErrorKind::RateLimited,
        id: "pollinations",
    };
}

#[tokio::test]
async fn xai_posts_with_bearer_and_keeps_reasoning_apart() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({"max_tokens": 16})))
        .respond_with(fixture("responses/xai/01_reasoning_content_usage.json").template())
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(OpenAiConfig::xai(), format!("{}/v1", server.uri()));
    let r = p.chat(&hi("grok-3-mini")).await.unwrap();
    assert!(!r.reasoning.is_empty(), "reasoning is kept apart");
    assert!(!r.text.contains(&r.reasoning));
}

#[tokio::test]
async fn deepseek_posts_without_v1_and_skips_blank_lines_before_the_json() {
    let server = MockServer::start().await;
    let f = fixture("responses/deepseek/01_blank_lines_before_json.json");
    assert!(
        f.body.starts_with("\n\n\n\n{"),
        "the fixture has the blank lines"
    );
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(|req: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            body["messages"][0].get("prefix").is_none()
        })
        .respond_with(f.template())
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(OpenAiConfig::deepseek(), server.uri());
    let r = p.chat(&hi("deepseek-chat")).await.unwrap();
    assert_eq!(r.text, f.expect["response"]["text"].as_str().unwrap());
    let usage = r.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (22, 93));
}

#[tokio::test]
async fn deepseek_continues_exactly_through_beta_prefix_completion() {
    let server = MockServer::start().await;
    // The continuation goes to the beta base with `"prefix": true` on the partial answer…
    Mock::given(method("POST"))
        .and(path("/beta/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "stream": true,
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello! How can", "prefix": true}
            ]
        })))
        .respond_with(fixture("streams/deepseek/01_reasoning_content_keepalive.json").template())
        .expect(1)
        .mount(&server)
        .await;
    // …and nothing goes to the normal endpoint.
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let p = provider(
        OpenAiConfig {
            prefix_base_url: Some(format!("{}/beta", server.uri())),
            ..OpenAiConfig::deepseek()
        },
        server.uri(),
    );
    assert!(p.capabilities().prefill);
    let next = p
        .continuation(&hi("deepseek-chat"), "Hello! How can")
        .unwrap();
    let (state, _) = drain_items(p.chat_stream(&next).await.unwrap()).await;
    assert!(state.is_complete(), "{:?}", state.error());
}

#[tokio::test]
async fn llamacpp_continuation_is_a_trailing_assistant_message_on_the_normal_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(|req: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            let last = &body["messages"][1];
            last["role"] == "assistant"
                && last["content"] == "Once upon"
                && last.get("prefix").is_none()
        })
        .respond_with(fixture("streams/llamacpp/01_text_usage_timings.json").template())
        .expect(1)
        .mount(&server)
        .await;
    let p = OpenAiProvider::new(OpenAiConfig {
        base_url: format!("{}/v1", server.uri()),
        ..OpenAiConfig::llamacpp_server()
    });
    let next = p.continuation(&hi("local"), "Once upon").unwrap();
    let (state, _) = drain_items(p.chat_stream(&next).await.unwrap()).await;
    assert!(state.is_complete(), "{:?}", state.error());
}

#[tokio::test]
async fn llamacpp_stream_error_after_text_is_classified_with_its_table() {
    let server = MockServer::start().await;
    let f = fixture("streams/llamacpp/02_data_error_500_then_close.json");
    Mock::given(method("POST"))
        .respond_with(f.template())
        .mount(&server)
        .await;
    let p = OpenAiProvider::new(OpenAiConfig {
        base_url: format!("{}/v1", server.uri()),
        ..OpenAiConfig::llamacpp_server()
    });
    let (state, items) = drain_items(p.chat_stream(&hi("local")).await.unwrap()).await;
    assert_eq!(state.text(), f.expect["stream"]["text"].as_str().unwrap());
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert_eq!((err.provider(), err.model()), ("llamacpp", Some("local")));
}

#[tokio::test]
async fn ollama_v1_sends_no_key_and_checks_health_on_v1_models() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(no_auth_header)
        .and(body_partial_json(
            json!({"model": "llama3.2", "max_tokens": 16}),
        ))
        .respond_with(ok_body())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(no_auth_header)
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = OpenAiProvider::new(OpenAiConfig::preset_from_lookup(Preset::OllamaV1, |name| {
        (name == "OLLAMA_HOST").then(|| server.uri())
    }));
    assert_eq!(p.kind(), Provider::Ollama);
    p.chat(&hi("llama3.2")).await.unwrap();
    p.health_check().await.unwrap();
}

#[test]
fn a_config_file_round_trips_without_the_key() {
    let file = r#"{
        "id": "deepseek-cn",
        "kind": "deepseek",
        "base_url": "https://api.deepseek.com",
        "api_key": "sk-from-file",
        "timeout": "90s",
        "stream_timeouts": {"first_byte": "30s", "idle": 15000},
        "max_tokens_field": "max_tokens",
        "prefix_base_url": "https://api.deepseek.com/beta",
        "health": {"get": "models"}
    }"#;
    let c: OpenAiConfig = serde_json::from_str(file).unwrap();
    assert_eq!(c.id, "deepseek-cn");
    assert_eq!(c.kind, Provider::DeepSeek);
    assert_eq!(c.timeout, std::time::Duration::from_secs(90));
    assert_eq!(
        c.stream_timeouts.idle,
        Some(std::time::Duration::from_secs(15))
    );
    assert_eq!(c.api_key.as_ref().unwrap().expose(), "sk-from-file");
    let written = serde_json::to_string(&c).unwrap();
    assert!(!written.contains("sk-from-file"), "{written}");
    assert!(written.contains("\"timeout\":\"90s\""), "{written}");
}

#[test]
fn deepseek_keep_alives_hold_a_queued_stream_open_but_a_total_deadline_bounds_it() {
    // DeepSeek queues requests behind `: keep-alive` comments; an idle timer that ignored
    // them would cut every queued stream after 60 s.
    let c = steadfast_providers_openai::OpenAiConfig::deepseek();
    assert!(c.stream_timeouts.keep_alive_resets_idle);
    assert!(c.stream_timeouts.total.is_some());
    assert!(
        !steadfast_providers_openai::OpenAiConfig::openai()
            .stream_timeouts
            .keep_alive_resets_idle
    );
}
