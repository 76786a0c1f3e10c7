//! Throughput over loopback HTTP: raw reqwest next to the OpenAI provider and the fallback
//! chain calling the same local server in the same run (DESIGN §10: the stack must keep
//! ≥ 95 % of raw reqwest throughput).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use steadfast_fallback::{EntryConfig, FallbackChain};
use steadfast_providers_core::{ApiKey, ChatProvider, ChatRequest, Message};
use steadfast_providers_mock::{FaultServer, ServerConfig};

pub(crate) struct Row {
    pub(crate) name: &'static str,
    pub(crate) per_sec: f64,
}

const IN_FLIGHT: usize = 8;
const WORKERS: usize = 2;

async fn drive<F, Fut>(calls: usize, f: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    let ok = futures_util::stream::iter(0..calls)
        .map(|_| f())
        .buffer_unordered(IN_FLIGHT)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    assert_eq!(ok, calls, "every call must succeed");
    started.elapsed()
}

pub(crate) fn run(quick: bool) -> Vec<Row> {
    let calls = if quick { 300 } else { 5000 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let server = FaultServer::with_config(ServerConfig {
            answer_tokens: 16,
            ..ServerConfig::default()
        })
        .await
        .expect("a loopback port");
        let url = format!("{}/v1/chat/completions", server.base_url());
        let client = steadfast_providers_core::http::default_client();
        let body = serde_json::json!({"model": "mock-model", "messages": [{"role": "user", "content": "count"}]});

        let raw = || {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            async move {
                // What any client must do: send, read, parse the JSON answer.
                match client.post(&url).bearer_auth("k").json(&body).send().await {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(b) => serde_json::from_slice::<serde_json::Value>(&b).is_ok(),
                        Err(_) => false,
                    },
                    _ => false,
                }
            }
        };
        let mut config = steadfast_providers_openai::OpenAiConfig::openai();
        config.base_url = format!("{}/v1", server.base_url());
        config.api_key = Some(ApiKey::new("k"));
        let provider = Arc::new(steadfast_providers_openai::OpenAiProvider::with_client(config, client.clone()));
        let req = ChatRequest::new("mock-model", vec![Message::user("count")]);
        let via_provider = || {
            let (provider, req) = (Arc::clone(&provider), req.clone());
            async move { provider.chat(&req).await.is_ok() }
        };
        let chain = FallbackChain::builder()
            .provider(Arc::clone(&provider) as Arc<dyn ChatProvider>, EntryConfig::default())
            .build();
        let via_chain = || {
            let (chain, req) = (chain.clone(), req.clone());
            async move { chain.chat(&req).await.is_ok() }
        };
        // Warm the connection pool, then alternate so drift affects all alike.
        drive(50, raw).await;
        let mut t = [Duration::ZERO; 3];
        for _ in 0..3 {
            t[0] += drive(calls / 3, raw).await;
            t[1] += drive(calls / 3, via_provider).await;
            t[2] += drive(calls / 3, via_chain).await;
        }
        let n = (calls / 3 * 3) as f64;
        vec![
            Row { name: "raw reqwest POST + parse JSON", per_sec: n / t[0].as_secs_f64() },
            Row { name: "OpenAiProvider::chat", per_sec: n / t[1].as_secs_f64() },
            Row { name: "FallbackChain::chat (retry+breaker)", per_sec: n / t[2].as_secs_f64() },
        ]
    })
}

pub(crate) fn print(rows: &[Row]) {
    let raw = rows.first().map_or(1.0, |r| r.per_sec);
    println!(
        "{:<40} {:>10} {:>8} {:>18}  ({IN_FLIGHT} in flight; the server runs in this process)",
        "loopback throughput", "calls/s", "vs raw", "extra CPU us/call"
    );
    for r in rows {
        // CPU-bound on WORKERS threads: the CPU time of a call is WORKERS / throughput.
        let extra_us = (1.0 / r.per_sec - 1.0 / raw) * 1e6 * WORKERS as f64;
        println!(
            "{:<40} {:>10.0} {:>7.1}% {:>18.1}",
            r.name,
            r.per_sec,
            100.0 * r.per_sec / raw,
            extra_us
        );
    }
}
