//! Billing at the edge of `u64`: usage near `u64::MAX` flows through the router's billing
//! (provider counters, budgets, the call's totals, stats) and saturates instead of
//! overflowing.

use std::sync::Arc;

use futures_util::StreamExt;
use proptest::prelude::*;
use steadfast_providers_core::{ChatRequest, ChatResponse, Message, Pricing, Usage};
use steadfast_providers_mock::{Outcome, ScriptedConfig, ScriptedProvider};
use steadfast_router::{Budget, ProviderConfig, RouteOptions, Router, RouterConfig, StrategyKind};

fn answer(usage: Usage) -> Outcome {
    Outcome::Response(ChatResponse {
        text: "ok".into(),
        usage: Some(usage),
        ..ChatResponse::default()
    })
}

fn near_max() -> impl Strategy<Value = u64> {
    prop_oneof![
        (u64::MAX - 1_000)..=u64::MAX,
        Just(u64::MAX),
        Just(u64::MAX / 2 + 1),
        any::<u64>(),
    ]
}

fn saturating_sum(values: impl IntoIterator<Item = u64>) -> u64 {
    values.into_iter().fold(0, u64::saturating_add)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn usage_near_u64_max_saturates(
        usages in proptest::collection::vec((near_max(), near_max()), 1..6),
        stream in any::<bool>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let outcomes: Vec<Outcome> = usages
                .iter()
                .map(|&(input_tokens, output_tokens)| {
                    answer(Usage { input_tokens, output_tokens, ..Usage::default() })
                })
                .collect();
            let mock = |id: &str| {
                let config = ScriptedConfig {
                    id: id.into(),
                    pricing: Some(Pricing::per_million(3.0, 15.0)),
                    ..ScriptedConfig::default()
                };
                Arc::new(ScriptedProvider::new(config, outcomes.clone()))
            };
            let limited = ProviderConfig {
                budget: Some(Budget { usd: f64::MAX, window: std::time::Duration::from_secs(60) }),
                ..ProviderConfig::default()
            };
            let router = Router::builder()
                .provider(mock("a"), limited.clone())
                .provider(mock("b"), limited)
                .config(RouterConfig {
                    strategy: StrategyKind::RoundRobin,
                    budget: Some(Budget { usd: f64::MAX, window: std::time::Duration::from_secs(60) }),
                    ..RouterConfig::default()
                })
                .build();
            let request = ChatRequest::new("model", vec![Message::user("Hello there")]);
            // Every call goes to a then b in turn; each provider's script answers in order.
            let mut billed = Vec::new();
            for i in 0..usages.len() * 2 {
                let usage = usages[i / 2];
                if stream {
                    let mut routed = router.chat_stream(&request, RouteOptions::default()).await.unwrap();
                    while let Some(event) = routed.value.next().await {
                        event.unwrap();
                    }
                    let cost = routed.value.cost_usd();
                    prop_assert!(cost.is_finite() && cost >= 0.0);
                } else {
                    let routed = router.chat(&request, RouteOptions::default()).await.unwrap();
                    prop_assert!(routed.cost_usd.is_finite() && routed.cost_usd >= 0.0);
                }
                billed.push(usage);
            }
            let stats = router.stats();
            let input = saturating_sum(billed.iter().map(|u| u.0));
            let output = saturating_sum(billed.iter().map(|u| u.1));
            prop_assert_eq!(stats.input_tokens, input);
            prop_assert_eq!(stats.output_tokens, output);
            prop_assert_eq!(stats.total_tokens, input.saturating_add(output));
            let per_provider = saturating_sum(usages.iter().map(|u| u.0));
            for p in &stats.providers {
                prop_assert_eq!(p.input_tokens, per_provider);
                prop_assert_eq!(p.requests, usages.len() as u64);
            }
            prop_assert!(stats.cost_usd.is_finite());
            Ok(())
        })?;
    }
}
