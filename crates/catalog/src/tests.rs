//! The catalog's promises, checked against the generated rows.

use proptest::prelude::*;
use steadfast_errors::Provider;
use steadfast_providers_core::{Pricing, Usage};

use crate::lookup::{find, find_unique};
use crate::{
    Model, ModelCapabilities, context_window, cost, lookup, lookup_id, models, pricing, provider,
    providers,
};

fn row(provider: Provider, id: &'static str, aliases: &'static [&'static str]) -> Model {
    Model {
        provider,
        id,
        aliases,
        name: id,
        pricing: Some(Pricing::per_million(1.0, 2.0)),
        unit_price: None,
        context_window: None,
        max_output_tokens: None,
        capabilities: ModelCapabilities::default(),
        source: "https://example.test",
        checked: "2026-12-03",
        note: None,
    }
}

#[test]
fn at_least_forty_models_carry_prices_context_windows_and_sources() {
    let complete = models()
        .iter()
        .filter(|m| m.pricing.is_some() && m.context_window.is_some())
        .count();
    assert!(complete >= 40, "only {complete} complete rows");
    for m in models() {
        assert!(m.source.starts_with("https://"), "{}", m.id);
        assert_eq!(m.checked.len(), 10, "{}", m.id);
        assert!(m.pricing.is_some() != m.unit_price.is_some(), "{}", m.id);
    }
}

#[test]
fn every_provider_has_an_entry_and_the_local_ones_cost_nothing() {
    for p in Provider::ALL {
        assert!(provider(p).is_some(), "{p}");
    }
    assert_eq!(providers().len(), Provider::ALL.len());
    let usage = Usage {
        input_tokens: 5_000,
        output_tokens: 5_000,
        ..Usage::default()
    };
    for local in [Provider::Ollama, Provider::LlamaCpp] {
        assert_eq!(cost(local, "llama3.1:8b", &usage), Some(0.0));
        assert_eq!(pricing(local, "anything"), Some(Pricing::default()));
        assert_eq!(context_window(local, "anything"), None);
    }
}

#[test]
fn every_provider_that_bills_has_priced_rows() {
    for p in Provider::ALL {
        let entry = provider(p).unwrap();
        let rows = models().iter().filter(|m| m.provider == p).count();
        if entry.local {
            assert_eq!(rows, 0, "{p} is local");
        } else {
            assert!(rows > 0, "{p} has no rows");
        }
    }
    // Pollinations' default text model, billed in pollen at 1 pollen = 1 USD.
    let usage = Usage {
        input_tokens: 1_000_000,
        output_tokens: 1_000_000,
        ..Usage::default()
    };
    let default = cost(Provider::Pollinations, "openai", &usage).unwrap();
    assert!((default - (0.15 + 0.60)).abs() < 1e-9, "{default}");
}

#[test]
fn the_six_models_of_seed_001_are_listed() {
    for (p, id) in [
        (Provider::DeepSeek, "deepseek-chat"),
        (Provider::Xai, "grok-4-1-fast-non-reasoning"),
        (Provider::OpenAi, "gpt-4o-mini"),
        (Provider::Anthropic, "claude-sonnet-4-5"),
        (Provider::OpenAi, "gpt-4-turbo"),
        (Provider::OpenAi, "gpt-4o"),
    ] {
        let m = lookup(p, id).unwrap_or_else(|| panic!("{p}/{id}"));
        assert!(m.pricing.is_some() && m.context_window.is_some(), "{id}");
    }
}

#[test]
fn lookup_is_exact_by_id_or_declared_alias() {
    let dated = lookup(Provider::Anthropic, "claude-sonnet-4-5-20250929").unwrap();
    let alias = lookup(Provider::Anthropic, "claude-sonnet-4-5").unwrap();
    assert_eq!(dated, alias);
    for unknown in [
        "claude-sonnet-4",
        "claude-sonnet-4-5-2025",
        "CLAUDE-SONNET-4-5",
        " claude-sonnet-4-5",
        "",
    ] {
        assert!(
            lookup(Provider::Anthropic, unknown).is_none(),
            "{unknown:?}"
        );
    }
    // An id belongs to its provider only.
    assert!(lookup(Provider::OpenRouter, "gpt-4o").is_none());
    assert_eq!(
        lookup(Provider::OpenRouter, "openai/gpt-4o")
            .unwrap()
            .provider,
        Provider::OpenRouter
    );
}

#[test]
fn lookup_by_id_alone_needs_a_unique_match() {
    let rows = [
        row(Provider::OpenAi, "shared", &[]),
        row(Provider::OpenRouter, "other", &["shared"]),
        row(Provider::Xai, "only-here", &["alias-here"]),
    ];
    assert!(
        find_unique(&rows, "shared").is_none(),
        "two providers answer to it"
    );
    assert_eq!(find_unique(&rows, "alias-here").unwrap().id, "only-here");
    assert!(find_unique(&rows, "missing").is_none());
    assert_eq!(
        find(&rows, Provider::OpenRouter, "shared").unwrap().id,
        "other"
    );
    assert_eq!(lookup_id("gpt-4o-mini").unwrap().provider, Provider::OpenAi);
}

#[test]
fn cost_follows_each_providers_usage_semantics() {
    // 1M input of which 400k were cache reads, 100k cache writes, 1M output.
    let usage = Usage {
        input_tokens: 1_000_000,
        output_tokens: 1_000_000,
        cache_read_tokens: 400_000,
        cache_write_tokens: 100_000,
        ..Usage::default()
    };
    // Anthropic reports cache reads and writes beside the input.
    let opus = lookup(Provider::Anthropic, "claude-opus-4-5").unwrap();
    let expected = 5.0 + 0.4 * 0.50 + 0.1 * 6.25 + 25.0;
    assert!((opus.cost(&usage).unwrap() - expected).abs() < 1e-9);
    // OpenAI-style providers count cache reads inside the input.
    let grok = lookup(Provider::Xai, "grok-3-mini").unwrap();
    let expected = 0.6 * 0.30 + 0.4 * 0.075 + 0.1 * 0.30 + 0.50;
    assert!((grok.cost(&usage).unwrap() - expected).abs() < 1e-9);
    // A media model has no token cost.
    let video = lookup(Provider::Runway, "gen4_turbo").unwrap();
    assert_eq!(video.cost(&usage), None);
    assert_eq!(video.unit_price.unwrap().unit, "second");
}

#[test]
fn rows_serialize_for_a_models_listing() {
    let m = lookup(Provider::Xai, "grok-3").unwrap();
    let json = serde_json::to_value(m).unwrap();
    assert_eq!(json["provider"], "xai");
    assert_eq!(json["context_window"], 131_072);
    assert_eq!(json["pricing"]["input_per_mtok"], 3.0);
    assert_eq!(json["source"], "https://archive.fo/dYUtw");
}

proptest! {
    #[test]
    fn lookup_never_answers_for_an_id_the_row_does_not_name(id in ".{0,40}", p in 0..Provider::ALL.len()) {
        let p = Provider::ALL[p];
        if let Some(m) = lookup(p, &id) {
            prop_assert!(m.answers_to(&id) && m.provider == p);
        }
        if let Some(m) = lookup_id(&id) {
            prop_assert!(m.answers_to(&id));
        }
    }

    #[test]
    fn an_extended_known_id_is_unknown_unless_listed(suffix in "[-a-z0-9.]{1,12}") {
        for m in models() {
            let longer = format!("{}{suffix}", m.id);
            let listed = models().iter().any(|r| r.provider == m.provider && r.answers_to(&longer));
            prop_assert_eq!(lookup(m.provider, &longer).is_some(), listed, "{}", longer);
        }
    }
}
