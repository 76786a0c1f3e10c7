//! The fallback chain's own cost on an in-process provider (DESIGN §10: routing adds under
//! 20 µs at p99 to an in-process call): per-call latency of `FallbackChain::chat` next to
//! calling the same `ScriptedProvider` directly, in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use steadfast_fallback::{EntryConfig, FallbackChain};
use steadfast_providers_core::{ChatProvider, ChatRequest, Message};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};

pub(crate) struct Row {
    pub(crate) name: &'static str,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
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
        let req = ChatRequest::new("mock-model", vec![Message::user("hi")]);
        let mut direct = Vec::with_capacity(calls);
        let mut chained = Vec::with_capacity(calls);
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
        }
        let (d50, d99) = percentiles(direct);
        let (c50, c99) = percentiles(chained);
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
    if let [direct, chain] = rows {
        println!(
            "{:<40} {:>10.2} {:>10.2}  (target: p99 under 20 us)",
            "chain overhead",
            chain.p50.saturating_sub(direct.p50).as_secs_f64() * 1e6,
            chain.p99.saturating_sub(direct.p99).as_secs_f64() * 1e6
        );
    }
}
