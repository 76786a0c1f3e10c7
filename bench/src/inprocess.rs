//! The fallback chain's own cost on an in-process provider (DESIGN §10: routing adds under
//! 20 µs at p99 to an in-process call): per-call latency of `FallbackChain::chat` next to
//! calling the same `ScriptedProvider` directly, in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use steadfast_errors::{Provider, ProviderError};
use steadfast_fallback::{EntryConfig, FallbackChain};
use steadfast_providers_core::{
    Capabilities, ChatProvider, ChatRequest, ChatResponse, ChatStream, Message,
};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};

/// A provider that keeps nothing between calls (the mock records every request, which would
/// be measured as growth): what is left growing is the chain's.
#[derive(Debug)]
struct Stateless;

#[async_trait]
impl ChatProvider for Stateless {
    fn id(&self) -> &str {
        "stateless"
    }
    fn kind(&self) -> Provider {
        Provider::OpenAi
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn chat(&self, _request: &ChatRequest) -> Result<ChatResponse, ProviderError> {
        Ok(ChatResponse {
            text: "a short answer".into(),
            ..ChatResponse::default()
        })
    }
    async fn chat_stream(&self, _request: &ChatRequest) -> Result<ChatStream, ProviderError> {
        Ok(Box::pin(futures_util::stream::empty()))
    }
    async fn health_check(&self) -> Result<(), ProviderError> {
        Ok(())
    }
}

pub(crate) struct Row {
    pub(crate) name: &'static str,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
}

/// Resident memory over many calls through the chain (DESIGN §10: flat over a million calls).
pub(crate) struct Memory {
    /// (calls so far, resident KiB) samples.
    pub(crate) samples: Vec<(u64, u64)>,
}

/// Resident set size in KiB, from /proc (Linux); `None` elsewhere.
fn rss_kib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4)
}

pub(crate) fn memory(quick: bool) -> Memory {
    let calls: u64 = if quick { 50_000 } else { 1_000_000 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let chain = FallbackChain::builder()
            .provider(
                Arc::new(Stateless) as Arc<dyn ChatProvider>,
                EntryConfig::default(),
            )
            .build();
        let req = ChatRequest::new("mock-model", vec![Message::user("hi")]);
        let mut samples = Vec::new();
        for i in 1..=calls {
            let answer = chain.chat(&req).await.expect("scripted success");
            std::hint::black_box(answer);
            if i % (calls / 10) == 0
                && let Some(kib) = rss_kib()
            {
                samples.push((i, kib));
            }
        }
        Memory { samples }
    })
}

pub(crate) fn print_memory(m: &Memory) {
    let Some(&(_, first)) = m.samples.first() else {
        println!("memory: /proc/self/statm not available");
        return;
    };
    let line: Vec<String> = m
        .samples
        .iter()
        .map(|(n, kib)| format!("{}k:{}MiB", n / 1000, kib / 1024))
        .collect();
    let last = m.samples.last().map_or(first, |s| s.1);
    println!(
        "memory over {} chained calls (RSS): {}  growth after the first sample: {} KiB",
        m.samples.last().map_or(0, |s| s.0),
        line.join(" "),
        last as i64 - first as i64
    );
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.99))
}

pub(crate) fn run(quick: bool) -> Vec<Row> {
    let calls = if quick { 2_000 } else { 50_000 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let provider = Arc::new(ScriptedProvider::new(
            ScriptedConfig::default(),
            [Outcome::text("a short answer")],
        ));
        let chain = FallbackChain::builder()
            .provider(
                Arc::clone(&provider) as Arc<dyn ChatProvider>,
                EntryConfig::default(),
            )
            .build();
        let router = steadfast_router::Router::builder()
            .provider(
                Arc::clone(&provider) as Arc<dyn ChatProvider>,
                steadfast_router::ProviderConfig::default(),
            )
            .build();
        let req = ChatRequest::new("mock-model", vec![Message::user("hi")]);
        let mut direct = Vec::with_capacity(calls);
        let mut chained = Vec::with_capacity(calls);
        let mut routed = Vec::with_capacity(calls);
        for _ in 0..calls / 10 {
            let _ = chain.chat(&req).await;
        }
        for _ in 0..calls {
            let t = Instant::now();
            let r = provider.chat(&req).await;
            direct.push(t.elapsed());
            assert!(r.is_ok());
            let t = Instant::now();
            let r = chain.chat(&req).await;
            chained.push(t.elapsed());
            assert!(r.is_ok());
            let t = Instant::now();
            let r = router
                .chat(&req, steadfast_router::RouteOptions::default())
                .await;
            routed.push(t.elapsed());
            assert!(r.is_ok());
        }
        let (d50, d99) = percentiles(direct);
        let (c50, c99) = percentiles(chained);
        let (r50, r99) = percentiles(routed);
        vec![
            Row {
                name: "ScriptedProvider::chat (direct)",
                p50: d50,
                p99: d99,
            },
            Row {
                name: "FallbackChain::chat over it",
                p50: c50,
                p99: c99,
            },
            Row {
                name: "Router::chat over it (priority)",
                p50: r50,
                p99: r99,
            },
        ]
    })
}

pub(crate) fn print(rows: &[Row]) {
    println!(
        "{:<40} {:>10} {:>10}",
        "in-process call latency", "p50 us", "p99 us"
    );
    for r in rows {
        println!(
            "{:<40} {:>10.2} {:>10.2}",
            r.name,
            r.p50.as_secs_f64() * 1e6,
            r.p99.as_secs_f64() * 1e6
        );
    }
    if let [direct, rest @ ..] = rows {
        for (name, r) in ["chain overhead", "router overhead"].iter().zip(rest) {
            println!(
                "{:<40} {:>10.2} {:>10.2}  (target: p99 under 20 us)",
                name,
                r.p50.saturating_sub(direct.p50).as_secs_f64() * 1e6,
                r.p99.saturating_sub(direct.p99).as_secs_f64() * 1e6
            );
        }
    }
}
